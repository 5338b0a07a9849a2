"""How many units per second does `actmax atlas` cover, in this process and on Ray with 2 workers?

Two models, each run in this process (2 PyTorch threads, the engine spreads each shard over
them) and on a local Ray instance with 2 CPUs (2 workers of 1 thread each, loopback only):

- the lab CNN: every unit of l1 to l4 and the 10 logits (69 units) over the MNIST test set
  (10,000 digits), at the atlas's defaults (3 seeds, 200 steps);
- ResNet-18's shape with random weights at 3x64x64: the 128 channels of `layer2`, over 512
  random images, at --resnet-seeds and --resnet-iterations (default 1 seed, 50 steps: a step of
  ResNet-18 costs about 40 lab CNN steps here).

A run counts everything `actmax atlas` does: the data passes, the optimization, the maps, the
site. Worker start-up is not counted (a warm-up atlas runs first), Ray's own start neither.
Then, from the Ray run's units per second per worker, the cluster of such workers that covers
every channel of ResNet-18 and of ResNet-50 (counted from the models) within an hour; ResNet-50's
rate is ResNet-18's scaled by their multiply-adds at 3x64x64 (counted by forward hooks).

    python benchmarks/atlas.py                     # both models, about 15 minutes on 2 cores
    python benchmarks/atlas.py --models lab        # the lab CNN only
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))

import resnet  # noqa: E402
from resnet import resnet18, resnet50  # noqa: E402

from actmax.atlas import AtlasSettings, AtlasSummary, build_atlas  # noqa: E402
from actmax.atlas.ray_runner import start_local_ray  # noqa: E402
from actmax.lab.models import build_model  # noqa: E402

WORKERS = 2
HOUR = 3600.0
KINDS = ("optimize", "scan", "histogram", "maps")


@dataclass(frozen=True)
class Case:
    name: str
    model: nn.Module
    data: object
    layers: str
    settings: AtlasSettings


def lab_case() -> Case:
    settings = AtlasSettings()  # the atlas's defaults: 3 seeds, the recipe's 200 steps
    return Case("lab CNN", build_model("lab_cnn", seed=0), "mnist", "l1,l2,l3,l4,l5", settings)


def resnet_case(seeds: int, iterations: int) -> Case:
    model = resnet18(seed=0)
    model.input_shape = (3, 64, 64)
    images = np.random.default_rng(0).random((512, 3, 64, 64), dtype=np.float32)
    settings = AtlasSettings(seeds=seeds, iterations=iterations, chunk=512, batch=128)
    return Case("ResNet-18 @64", model, images, "layer2", settings)


def run(case: Case, ray: bool) -> AtlasSummary:
    with tempfile.TemporaryDirectory() as root:
        options = {"ray": "auto", "threads": 1} if ray else {"threads": WORKERS}
        return build_atlas(
            case.model,
            case.data,
            Path(root) / "atlas",
            layers=case.layers,
            settings=case.settings,
            progress=False,
            **options,
        )


def warm_up(case: Case, ray: bool) -> None:
    """A tiny atlas first: Ray's workers start and import PyTorch outside the timing."""
    tiny = Case(case.name, case.model, case.data, case.layers.split(",")[0], AtlasSettings(
        seeds=1, iterations=2, chunk=case.settings.chunk, batch=case.settings.batch
    ))  # fmt: skip
    run(tiny, ray)


def conv_channels(model: nn.Module) -> int:
    return sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))


def multiply_adds(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of one input, counted by hooks on conv and linear."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        else:
            per_output = module.in_features
        total += output[0].numel() * per_output

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for hook in hooks:
        hook.remove()
    return total


def report(case: Case, mode: str, summary: AtlasSummary) -> float:
    per_worker = summary.units_per_second / WORKERS
    work = "  ".join(f"{summary.work_seconds.get(k, 0.0):7.1f}" for k in KINDS)
    print(
        f"{case.name:14s} {mode:20s} {summary.units:5d} {summary.seconds:8.1f} "
        f"{summary.units_per_second:8.3f} {per_worker:10.3f}   {work}",
        flush=True,
    )
    return per_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=["lab", "resnet", "both"], default="both")
    parser.add_argument("--resnet-seeds", type=int, default=1)
    parser.add_argument("--resnet-iterations", type=int, default=50)
    args = parser.parse_args()

    torch.set_num_threads(WORKERS)
    cases = []
    if args.models in ("lab", "both"):
        cases.append(lab_case())
    if args.models in ("resnet", "both"):
        cases.append(resnet_case(args.resnet_seeds, args.resnet_iterations))
    start = time.perf_counter()
    ray = start_local_ray(num_cpus=WORKERS)
    ray.cloudpickle.register_pickle_by_value(resnet)  # the workers cannot import benchmarks/
    print(f"Ray started in {time.perf_counter() - start:.1f} s (not counted)\n")
    print(
        f"{'model':14s} {'where':20s} {'units':>5s} {'seconds':>8s} {'units/s':>8s} "
        f"{'per worker':>10s}   shard seconds: " + "  ".join(f"{k:>7s}" for k in KINDS)
    )
    rates: dict[str, float] = {}
    summaries: dict[tuple[str, bool], AtlasSummary] = {}
    for case in cases:
        s = case.settings
        print(f"-- {case.name}: {s.seeds} seed(s) x {s.steps} steps per unit")
        for ray in (False, True):
            warm_up(case, ray)
            mode = f"Ray, {WORKERS} workers" if ray else f"this process, {WORKERS} thr"
            summaries[case.name, ray] = summary = run(case, ray)
            rates[case.name, ray] = report(case, mode, summary)
        local, ray = rates[case.name, False], rates[case.name, True]
        print(f"   Ray / local: {ray / local:.2f}x\n")

    if ("ResNet-18 @64", True) in rates:
        measured = cases[-1].settings
        summary = summaries["ResNet-18 @64", True]
        per_worker = rates["ResNet-18 @64", True]
        small, big = resnet18(), resnet50()
        shape = (3, 64, 64)
        ratio = multiply_adds(big, shape) / multiply_adds(small, shape)
        print(f"ResNet-50's rate: ResNet-18's / {ratio:.2f}, their multiply-adds at 3x64x64.")
        # The atlas's defaults cost more optimization per unit: add the measured optimization
        # worker-seconds per unit, scaled by the extra seeds x steps, to the measured cost.
        default = AtlasSettings()
        extra = default.seeds * default.steps / (measured.seeds * measured.steps) - 1
        optimize = summary.work_seconds["optimize"] / summary.units
        at_defaults = 1 / (1 / per_worker + extra * optimize)
        for settings, rate18 in ((measured, per_worker), (default, at_defaults)):
            print(
                f"A cluster for a whole atlas within an hour at {settings.seeds} seed(s) x "
                f"{settings.steps} steps, 3x64x64, workers like these (1 CPU core each):"
            )
            for name, model, rate in (
                ("ResNet-18", small, rate18),
                ("ResNet-50", big, rate18 / ratio),
            ):
                channels = conv_channels(model)
                workers = math.ceil(channels / (rate * HOUR))
                print(
                    f"  {name}: {channels} channels at {rate:.4f} units/s per worker "
                    f"-> {workers} workers ({channels / rate / HOUR:.1f} worker-hours)"
                )


if __name__ == "__main__":
    main()
