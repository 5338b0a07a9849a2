"""How fast `actmax` trains the lab's CNN, against a plain PyTorch training loop.

    python benchmarks/train.py                 # 10 epochs each, the lab's settings
    python benchmarks/train.py --epochs 2      # a quick look
    python benchmarks/train.py --repeat 3      # best of three (use on a busy machine)
    python benchmarks/train.py --epochs 1 --ablation   # each speed-up on its own

Both train the same network from the same Keras-style initialization with RMSprop (lr 1e-3,
rho 0.9, eps 1e-7), batch 128, and evaluate on the test set after every epoch. The plain loop is
what one writes from the PyTorch tutorials: a shuffling DataLoader, contiguous (NCHW) tensors,
`torch.optim.RMSprop`, `loss.item()` each step and evaluation in batches of 128 under no_grad,
with PyTorch's default threads. Printed: seconds per epoch (each includes its evaluation),
images per second, total seconds, process CPU seconds, and the final test accuracy.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from actmax.lab.data import load_mnist
from actmax.lab.models import build_model
from actmax.lab.training import KerasRMSprop, fit


def plain_pytorch_loop(data, epochs: int, seed: int) -> tuple[list[float], float]:
    """The usual tutorial loop; returns seconds per epoch and the final test accuracy."""
    torch.manual_seed(seed)
    train_set = TensorDataset(torch.from_numpy(data.x_train), torch.from_numpy(data.y_train))
    test_set = TensorDataset(torch.from_numpy(data.x_test), torch.from_numpy(data.y_test))
    loader = DataLoader(train_set, batch_size=128, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=128)
    model = build_model("lab_cnn", seed=seed)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    seconds, accuracy = [], 0.0
    for _ in range(epochs):
        began = time.perf_counter()
        model.train()
        running_loss, hits = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            logits = model.logits(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * len(yb)
            hits += (logits.argmax(1) == yb).sum().item()
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in test_loader:
                correct += (model.logits(xb).argmax(1) == yb).sum().item()
        accuracy = correct / len(test_set)
        seconds.append(time.perf_counter() - began)
    return seconds, accuracy


def actmax_fit(
    data, epochs: int, seed: int, threads: int | None, **options
) -> tuple[list[float], float]:
    model = build_model("lab_cnn", seed=seed)
    if options.pop("plain_forward", False):
        options["forward"] = model.logits
    history = fit(
        model,
        data.x_train,
        data.y_train,
        epochs=epochs,
        batch_size=128,
        optimizer=KerasRMSprop(model.parameters()),
        validation_data=(data.x_test, data.y_test),
        seed=seed,
        threads=threads,
        progress=False,
        **options,
    )
    return history["seconds"], history["val_accuracy"][-1]


# Where the time goes: actmax's speed-ups switched on one at a time.
ABLATION = {
    "tensors": {"channels_last": False, "plain_forward": True, "parallel": False},
    "+channels-last": {"plain_forward": True, "parallel": False},
    "+relu-after-pool": {"parallel": False},
    "+batch slices": {},
}


def measure(name: str, run, repeat: int, n_images: int) -> float:
    best = None
    for attempt in range(repeat):
        cpu = time.process_time()
        wall = time.perf_counter()
        seconds, accuracy = run()
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu, seconds, accuracy)
        print(f"  {name} run {attempt + 1}: {wall:.1f} s", flush=True)
    wall, cpu, seconds, accuracy = best
    per_epoch = sum(seconds) / len(seconds)
    print(
        f"{name:>16}: {per_epoch:6.2f} s/epoch  {n_images / per_epoch:8.0f} images/s  "
        f"total {wall:6.1f} s  (CPU {cpu:6.1f} s)  test accuracy {accuracy:.4f}"
    )
    print(f"{'':>16}  epochs: " + " ".join(f"{s:.2f}" for s in seconds))
    return wall / len(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--baseline-epochs", type=int, default=None, help="default: --epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="default: PyTorch's")
    parser.add_argument("--repeat", type=int, default=1, help="report the best of N runs")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="also time each speed-up on its own (tensors + randperm instead of a DataLoader, "
        "channels-last, ReLU after max-pool, batch slices on the cores)",
    )
    args = parser.parse_args()

    data = load_mnist()
    n = len(data.y_train)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"lab CNN on MNIST: {n} training images per epoch, batch 128, seed {args.seed}")
    ours = measure(
        "actmax fit",
        lambda: actmax_fit(data, args.epochs, args.seed, args.threads),
        args.repeat,
        n,
    )
    if args.ablation:
        for name, options in ABLATION.items():
            measure(
                name,
                lambda options=options: actmax_fit(
                    data, args.epochs, args.seed, args.threads, **options
                ),
                args.repeat,
                n,
            )
    if not args.no_baseline:
        epochs = args.baseline_epochs or args.epochs
        plain = measure(
            "plain PyTorch",
            lambda: plain_pytorch_loop(data, epochs, args.seed),
            args.repeat,
            n,
        )
        print(f"speed-up of actmax over the plain loop: {plain / ours:.2f}x (per epoch)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
