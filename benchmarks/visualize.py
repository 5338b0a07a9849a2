"""How fast is activation maximization, batched vs one image per call, and how good are the images?

The lab's set (32 images, 200 iterations each): the 10 classes with the softmax kept, output 0 at
the 8 tv_weights 0.125..16, the 10 classes at tv_weight 0.5, and the pairs 1+7, 4+9, 0+1, 7+8.
Prints the time of one batched call beside its floor: the same model's bare forward and backward
loop at the same batch (same iterations, gradient to the input only; no objective, prior or
optimizer), run the way the engine runs the model, and the ratio of the two. The call and the
floor alternate --repeat times and the medians are printed, wall and CPU time, with the load
average: on a shared machine the CPU time and the ratio are the steadier figures. Then the time
of one call per image against the batched call, and the time of one call as the batch grows from
1 to 512 images (best of --repeat runs).

With --run (a run folder from `actmax train`) it also prints, for both recipes, each class
image's logit against the best real test digit of its class.

    python benchmarks/visualize.py                    # speed (the weights do not matter)
    python benchmarks/visualize.py --run runs/lab     # speed, and meaning on a trained model
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from actmax.engine import visualize
from actmax.lab.checkpoint import load_model
from actmax.lab.models import build_model
from actmax.objectives import logit, unit, units
from actmax.parallel import BatchWorkers

TV_WEIGHTS = [0.125, 0.25, 0.5, 1, 2, 4, 8, 16]
PAIRS = [(1, 7), (4, 9), (0, 1), (7, 8)]


def lab_set() -> tuple[list, list[float]]:
    """The lab notebook's 32 visualizations and their tv_weights (keras-vis' default 10 first)."""
    objectives = (
        [unit("l5", i) for i in range(10)]
        + [logit(0)] * len(TV_WEIGHTS)
        + [logit(i) for i in range(10)]
        + [units("l5", pair, pre_activation=True) for pair in PAIRS]
    )
    weights = [10.0] * 10 + TV_WEIGHTS + [0.5] * 10 + [0.5] * len(PAIRS)
    return objectives, weights


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_loop(model: nn.Module, n: int, iterations: int, device) -> Callable[[], None]:
    """The floor: `iterations` forward passes of `model` at batch `n`, each followed by the
    backward pass to the input only; on the CPU with the model channels-last and the batch cut
    into one slice per thread, as the engine runs it (at least 8 rows a slice)."""
    model = copy.deepcopy(model).eval().requires_grad_(False).to(device)
    x = torch.rand(n, *model.input_shape, device=device)
    workers = BatchWorkers(1)
    if x.device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
        workers = BatchWorkers.for_cpu(torch.get_num_threads(), n, min_rows=8)

    def run_slice(rows: slice) -> None:
        xs = x[rows].clone().requires_grad_(True)
        seed = torch.ones_like(model(xs))
        for _ in range(iterations):
            torch.autograd.grad(model(xs), xs, seed)

    def run() -> None:
        with workers:
            workers.map(run_slice, n)

    return run


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of the process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def against_floor(model, objectives, weights, kwargs, repeat: int, device) -> float:
    """Times the batched call and its floor, alternated; prints the medians and their ratio.
    Returns the call's median wall time."""
    n, iterations = len(objectives), 200
    runs = {
        "one batched call": lambda: visualize(model, objectives, tv_weight=weights, **kwargs),
        "floor: bare forward + backward": bare_loop(model, n, iterations, device),
    }
    for run in runs.values():  # warm up
        run()
    load = os.getloadavg()[0]
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            times[name].append(timed(run))
    wall = {name: statistics.median(t[0] for t in ts) for name, ts in times.items()}
    cpu = {name: statistics.median(t[1] for t in ts) for name, ts in times.items()}
    print(
        f"  medians of {repeat} alternated runs; load average {load:.1f} -> "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"  {'':32s}  wall s    CPU s   call / floor (wall, CPU)")
    call = "one batched call"
    for name in runs:
        line = f"  {name:32s} {wall[name]:7.3f}  {cpu[name]:7.3f}"
        if name != call:
            line += f"   {wall[call] / wall[name]:5.2f}  {cpu[call] / cpu[name]:5.2f}"
        print(line)
    return wall[call]


def speed(model, recipe: str, repeat: int, sizes: list[int], device) -> None:
    objectives, weights = lab_set()
    kwargs = {"recipe": recipe, "device": device}
    print(f"\nrecipe {recipe}: the lab's 32 images, 200 iterations each")
    batched = against_floor(model, objectives, weights, kwargs, repeat, device)

    def one_by_one():
        for objective, weight in zip(objectives, weights, strict=True):
            visualize(model, objective, tv_weight=weight, **kwargs)

    single = best_of(max(1, repeat // 2), one_by_one)
    print(f"  one call per image : {single:7.3f} s (best of {max(1, repeat // 2)})")
    print(f"  one batched call   : {batched:7.3f} s   ({single / batched:.1f}x faster)")
    print("  one call of N images (200 iterations):")
    print("       N     seconds   ms/image")
    for n in sizes:
        rows = [logit(i % 10) for i in range(n)]
        seconds = best_of(repeat if n <= 64 else 1, lambda r=rows: visualize(model, r, **kwargs))
        print(f"  {n:6d}   {seconds:9.3f}   {1000 * seconds / n:8.2f}")


def meaning(model, device) -> None:
    from actmax.lab.data import load_mnist

    mnist = load_mnist()
    x, y = torch.as_tensor(mnist.x_test), torch.as_tensor(mnist.y_test)
    with torch.no_grad():
        logits = model.logits(x.to(next(model.parameters()).device)).cpu()
    best = np.array([logits[y == c, c].max().item() for c in range(10)])
    print("\nlogit of each class image / logit of the best real test digit of the class")
    print(f"  {'class':<22s}" + "".join(f"{c:>7d}" for c in range(10)))
    print(f"  {'best real digit':<22s}" + "".join(f"{b:7.2f}" for b in best))
    for recipe, tv in (("actmax", None), ("keras-vis", 0.5), ("keras-vis", None)):
        result = visualize(model, [logit(c) for c in range(10)], recipe=recipe, tv_weight=tv)
        ratios = result.activations / best
        label = f"{recipe}" + (f" tv {tv:g}" if tv is not None else " (defaults)")
        inside = result.inputs.min() >= 0 and result.inputs.max() <= 1
        print(
            f"  {label:<22s}" + "".join(f"{r:7.2f}" for r in ratios)
            + f"   min {ratios.min():.2f}" + ("" if inside else "   (inputs outside [0, 1])")
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder of a trained lab CNN (adds the meaning table)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (default 5)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--recipe", choices=["actmax", "keras-vis", "both"], default="both")
    parser.add_argument(
        "--sizes", default="1,2,4,8,16,32,64,128,256,512", help="batch sizes to time"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.run) if args.run else build_model("lab_cnn", seed=0)
    model = model.to(args.device)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
        f"model {'from ' + args.run if args.run else 'untrained lab CNN'}"
    )
    sizes = [int(s) for s in args.sizes.split(",") if s]
    recipes = ["keras-vis", "actmax"] if args.recipe == "both" else [args.recipe]
    for recipe in recipes:
        speed(model, recipe, args.repeat, sizes, args.device)
    if args.run:
        meaning(model, args.device)


if __name__ == "__main__":
    main()
