"""Attribution speed: maps per second for a batch of MNIST test digits, for every method.

    python benchmarks/attribution.py [--run RUN] [--batch 256] [--samples 25] [--repeats 3]

Each method is one batched forward/backward pass (SmoothGrad: one over batch x samples rows).
With a run folder the trained model is used, else a seeded untrained lab CNN. It also prints
the sanity check of Adebayo et al. (2018) for a trained model: the mean rank correlation between
each method's maps for the model and for the same architecture with freshly drawn weights (near
0: the map depends on what the model learned; near 1: it mostly shows the input).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from actmax.attribution import METHODS, explain, rank_correlation
from actmax.lab.checkpoint import load_model
from actmax.lab.data import load_mnist
from actmax.lab.models import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder of a trained model (default: untrained)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--samples", type=int, default=25, help="SmoothGrad samples")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    mnist = load_mnist()
    x = torch.from_numpy(mnist.x_test[: args.batch]).to(args.device)
    y = mnist.y_test[: args.batch]
    if args.run:
        model, which = load_model(args.run, device=args.device), f"trained ({args.run})"
    else:
        model, which = build_model("lab_cnn", seed=0).to(args.device), "untrained (seed 0)"
    random_model = build_model("lab_cnn", seed=12345).to(args.device)
    print(
        f"lab CNN {which}; {len(x)} MNIST test digits; device {args.device}, "
        f"{torch.get_num_threads()} threads; median of {args.repeats} runs after a warm-up"
    )
    print(f"{'method':<22}{'s/batch':>9}{'maps/s':>10}{'x vanilla':>11}{'rho(random)':>13}")

    def options(method: str) -> dict:
        return {"samples": args.samples} if method == "smoothgrad" else {}

    base, batched = None, {}
    for method in METHODS:
        explain(model, x[:8], y[:8], method, **options(method))  # warm-up
        times = []
        for _ in range(args.repeats):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            maps = explain(model, x, y, method, **options(method)).maps
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        rate = len(x) / seconds
        base = base or rate
        batched[method] = rate
        rho = "-"
        if args.run:
            again = explain(random_model, x, y, method, **options(method)).maps
            rho = f"{np.nanmean(rank_correlation(maps, again)):.2f}"
        label = f"{method} (n={args.samples})" if method == "smoothgrad" else method
        print(f"{label:<22}{seconds:>9.3f}{rate:>10.0f}{rate / base:>11.2f}{rho:>13}")

    count = min(64, len(x))
    for method in ("vanilla", "gradcam"):  # what a keras-vis style loop over images costs
        start = time.perf_counter()
        for i in range(count):
            explain(model, x[i : i + 1], y[i : i + 1], method)
        rate = count / (time.perf_counter() - start)
        print(
            f"{method} one image per call: {rate:.0f} maps/s "
            f"(batched is {batched[method] / rate:.1f}x faster)"
        )


if __name__ == "__main__":
    main()
