"""Speed at scale beside torch-lucent 0.1.8 (the PyTorch port of Lucid): all 64 channels of
`layer1` of a ResNet-18-shaped network (random weights) at 3x128x128, 256 steps.

    python benchmarks/lucent.py [--steps 256] [--channels 64] [--layer layer1] [--size 128]

- actmax: one batched `visualize` call with its default recipe, one image per channel.
- lucent: its recommended settings, one `render_vis` call per channel: the default image
  parametrization (Fourier, decorrelated colours), Adam at 0.05, its standard transforms
  (pad 12, jitter 8, random scale 0.9-1.1, rotation -10..10 degrees, jitter 4) and ImageNet
  normalization. `render_vis` would upsample a 128-pixel image to 224 before the model; it is
  given `fixed_image_size=128` so that both feed the model 128x128 images.

Both run back to back in fresh processes of the same machine, with the same weights and thread
count; the script prints each one's seconds (the optimization only, not imports or model set-up),
its peak resident memory (the whole process, from wait4), and the ratio of the two times.

lucent is never a dependency of actmax: it is installed into a virtualenv of its own
(runs/cache/lucent-venv) on the first run, with `--no-deps` and only what it imports, beside the
same CPU torch build. torchvision does not import beside that build, and lucent uses one class of
it (`transforms.Normalize`), so the virtualenv gets a small stand-in module for it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = Path("runs/cache/lucent-venv")
WEIGHTS = Path("runs/cache/lucent/resnet18-seed0.pt")
LUCENT = ["torch-lucent==0.1.8", "kornia==0.4.1"]  # kornia <= 0.4.1 is what lucent 0.1.8 asks
IMPORTED = ["torch==2.13.0", "numpy", "tqdm", "pillow", "decorator", "ipython"]

TORCHVISION_STANDIN = '''"""Stand-in for the torchvision class that lucent 0.1.8 imports."""
import torch


class Normalize:
    def __init__(self, mean, std):
        self.mean, self.std = torch.tensor(mean), torch.tensor(std)

    def __call__(self, t):
        return (t - self.mean.to(t)[:, None, None]) / self.std.to(t)[:, None, None]
'''


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if (VENV / ".installed").exists():
        return python
    print(f"installing torch-lucent 0.1.8 into {VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + IMPORTED, check=True)
    subprocess.run(pip + ["--no-deps"] + LUCENT, check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    standin = Path(site) / "torchvision"
    standin.mkdir(exist_ok=True)
    (standin / "__init__.py").write_text("")
    (standin / "transforms.py").write_text(TORCHVISION_STANDIN)
    (VENV / ".installed").touch()
    return python


def ensure_weights() -> None:
    """One set of random weights, saved once, loaded by both sides (weights_only: no pickle)."""
    if WEIGHTS.exists():
        return
    import torch
    from resnet import resnet18

    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    torch.save(resnet18(seed=0).state_dict(), WEIGHTS)


def load_resnet():
    import torch
    from resnet import resnet18

    model = resnet18()
    model.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    return model.eval()


# --------------------------------------------------------------------------- the two sides


def run_actmax(args) -> dict:
    """One batched call (actmax ends each forward pass after the layer the objectives read)."""
    import torch

    import actmax

    model = load_resnet()
    objectives = [actmax.channel(args.layer, c) for c in range(args.channels)]
    began = time.perf_counter()
    result = actmax.visualize(
        model, objectives, input_shape=(3, args.size, args.size), iterations=args.steps
    )
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "threads": torch.get_num_threads(),
        "mean_objective": float(result.activations.mean()),
    }


def run_lucent(args) -> dict:
    import torch

    model = load_resnet()
    # This script's folder is on the path (for resnet.py) and holds a lucent.py: leave it out.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.modules.pop("lucent", None)
    from lucent.optvis import param, render

    began = time.perf_counter()
    reached = []
    for c in range(args.lucent_channels or args.channels):
        images = render.render_vis(
            model,
            f"{args.layer}:{c}",
            param_f=lambda: param.image(args.size),  # lucent's default: fft, decorrelate
            thresholds=(args.steps,),
            show_image=False,
            progress=False,
            fixed_image_size=args.size,
        )
        reached.append(images[-1])
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "threads": torch.get_num_threads(), "calls": len(reached)}


def child(python: Path | str, side: str, args) -> dict:
    """Run one side in a fresh process; its result plus its peak RSS from wait4."""
    command = [str(python), str(Path(__file__).resolve()), "--side", side]
    command += ["--steps", str(args.steps), "--channels", str(args.channels)]
    command += ["--layer", args.layer, "--size", str(args.size)]
    command += ["--lucent-channels", str(args.lucent_channels or args.channels)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"the {side} side failed (exit {proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--layer", default="layer1")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument(
        "--lucent-channels",
        type=int,
        default=None,
        help="render only this many channels with lucent and scale its time up to --channels "
        "(its calls are independent and alike; for a quick look on a busy machine)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="PyTorch CPU threads on both sides"
    )
    parser.add_argument("--side", choices=("actmax", "lucent"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        if args.side == "lucent":
            print(json.dumps(run_lucent(args)))
        else:
            print(json.dumps(run_actmax(args)))
        return

    python = ensure_venv()
    ensure_weights()
    print(
        f"{args.channels} channels of {args.layer}, ResNet-18 shape, 3x{args.size}x{args.size}, "
        f"{args.steps} steps, {os.cpu_count()} CPUs, threads: {args.threads or 'torch default'}"
    )
    results = {"actmax": child(sys.executable, "actmax", args)}
    show("actmax", results["actmax"], "one batched call")
    lucent = results["lucent"] = child(python, "lucent", args)
    calls = lucent["calls"]
    if calls != args.channels:
        lucent["measured_seconds"] = lucent["seconds"]
        lucent["seconds"] *= args.channels / calls
    show(
        "lucent",
        lucent,
        f"{calls} calls" + (f", time x {args.channels}/{calls}" if calls != args.channels else ""),
    )
    ratio = lucent["seconds"] / results["actmax"]["seconds"]
    print(f"ratio   {ratio:9.1f}x  lucent's time / actmax's (target: >= 10x on CPU)")
    print(json.dumps(results))


def show(name: str, result: dict, note: str) -> None:
    print(
        f"{name:<7} {result['seconds']:9.1f} s {result['peak_rss_mib']:7.0f} MiB peak RSS  ({note})"
    )


if __name__ == "__main__":
    main()
