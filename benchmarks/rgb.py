"""RGB at ImageNet size: a ResNet-18-shaped network (random weights) at 3x224x224, visualized
with the default recipe. Proves it runs and records what it costs.

    python benchmarks/rgb.py [--classes 4] [--iterations N] [--model resnet18|resnet50]

Prints the wall time of the `visualize` call and its peak resident memory: the process's peak
(VmHWM) is reset just before the call (Linux' /proc/self/clear_refs), so the figure is the
call's own high-water mark, model and imports included, with the resident size before the call
beside it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from resnet import resnet18, resnet50

import actmax


def rss_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=4, help="class logits to visualize")
    parser.add_argument("--iterations", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--model", choices=("resnet18", "resnet50"), default="resnet18")
    parser.add_argument("--threads", type=int, default=None, help="PyTorch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = (resnet18 if args.model == "resnet18" else resnet50)(seed=0)
    objectives = [actmax.unit("fc", c) for c in range(args.classes)]
    before = rss_mib("VmRSS")
    exact = reset_peak()
    began = time.perf_counter()
    result = actmax.visualize(
        model, objectives, input_shape=(3, 224, 224), iterations=args.iterations
    )
    seconds = time.perf_counter() - began
    peak = rss_mib("VmHWM")
    start = actmax.visualize(model, objectives, input_shape=(3, 224, 224), iterations=1)
    assert result.images.shape == (args.classes, 224, 224, 3)
    assert np.isfinite(result.activations).all()
    iterations = args.iterations or actmax.get_recipe("actmax").iterations
    print(
        f"{args.model}, random weights, {args.classes} class logits at 3x224x224, "
        f"{iterations} steps, {torch.get_num_threads()} threads"
    )
    print(f"time          {seconds:8.1f} s  ({seconds / iterations * 1000:.0f} ms per step)")
    print(
        f"peak memory   {peak:8.0f} MiB resident"
        + ("" if exact else " (process peak: clear_refs unavailable)")
        + f", {before:.0f} MiB before the call"
    )
    print(
        "logits        "
        + " ".join(f"{a:.2f}" for a in result.activations)
        + "  (after 1 step: "
        + " ".join(f"{a:.2f}" for a in start.activations)
        + ")"
    )


if __name__ == "__main__":
    main()
