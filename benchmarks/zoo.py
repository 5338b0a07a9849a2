"""Does the default recipe carry over to models nobody tuned it for? A zoo of classifiers,
measured on MNIST and Fashion-MNIST.

    python benchmarks/zoo.py [--recipe NAME ...] [--models NAME ...] [--datasets NAME ...]
                             [--lab RUN_FOLDER] [--seeds N] [--out DIR]

Trains (once; cached as safetensors under runs/cache/zoo/<data set>/) six architectures unlike
the lab CNN, all ending in `nn.Linear` (see zoo_models.py), and one independent judge per data
set (the lab's judge: strided convolutions, no pooling, trained with light augmentation). Then,
for every model, visualizes the 10 class logits with a recipe and no per-model tuning, and prints:

- recognized: how many of the 10 class images the judge reads as their class;
- min ratio: the weakest image's logit divided by the highest logit of that class that any real
  test image reaches (>= 1: at least as strong as the best real example);
- seconds: the wall time of the one batched `visualize` call.

Acceptance: every model >= 9/10 recognized and every ratio >= 1. The lab CNN from `actmax train`
(the newest runs/lab_cnn-* folder, or --lab) is measured the same way for comparison.
`--recipe` names entries of RECIPES (default: "learned-prior" and "default": the generator
recipe and the pixel-only one); each prints its table and one summary line, and writes its
class images to <out>/<recipe>-<data set>.png. `--seeds N` draws every class image from N seeds
in the same batched call (recognized then counts N x 10 images, and the bar is 9 in 10 of
them); `--first-seed` moves them. The "learned-prior" recipes run
`actmax.visualize_with_prior` through the data set's VAE (the one `actmax lab` trains; trained
once into the zoo's cache, about 70 s per data set).

Training is the same standard schedule for every architecture but the epochs (TRAINING: Adam,
cosine decay, no augmentation, 6 to 20 epochs; 75 minutes for the whole zoo on two shared CPU cores,
once). Test accuracies, MNIST / Fashion-MNIST: MLP 0.984 / 0.891, Keras mnist_cnn 0.990 / 0.914,
ResNet 0.994 / 0.913, MobileNet 0.989 / 0.899, ViT 0.979 / 0.879, GAP net 0.988 / 0.897 (judges:
0.991 / 0.869).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from zoo_models import ZOO

import actmax
from actmax import GeneratorPrior
from actmax.io import save_figure, write_json
from actmax.lab.checkpoint import load_model, save_model
from actmax.lab.data import Dataset, load_dataset
from actmax.lab.evaluation import logits_of
from actmax.lab.folders import staged_cache_entry
from actmax.lab.realism import accuracy, load_or_train_judge
from actmax.lab.training import fit
from actmax.lab.vae import VAEConfig, load_or_train_vae
from actmax.param import Fourier, Sigmoid
from actmax.recipes import ACTMAX
from actmax.regularizers import Regularizer
from actmax.transforms import Blur, Jitter, Rotate, Scale

CACHE = Path("runs/cache/zoo")
DATASETS = ("mnist", "fashion-mnist")
RECORD = "record.json"


@dataclass(frozen=True)
class Training:
    """What decides a zoo model's weights (its cache key): Adam on all 60,000 training images,
    its step decaying along a cosine over the epochs, no augmentation (a standard schedule, the
    same for every architecture but the epochs)."""

    epochs: int
    images: int | None = None  # the first N training images (None: all)
    learning_rate: float = 1e-3
    batch_size: int = 128
    seed: int = 0
    schedule: str = "cosine"  # per epoch, to 0 after the last


# Epochs enough for each architecture to get close to what it can reach without augmentation.
TRAINING = {
    "zoo_mlp": Training(epochs=10),
    "zoo_keras_cnn": Training(epochs=6),
    "zoo_resnet": Training(epochs=8),
    "zoo_mobilenet": Training(epochs=8),
    "zoo_vit": Training(epochs=10),
    "zoo_gapnet": Training(epochs=20, learning_rate=3e-3),  # no BatchNorm: slower to train
}


@dataclass(frozen=True)
class CentreBias(Regularizer):
    """Ink weighted by its distance from the centre (to the power `power`, 1 at the corners):
    after Nguyen et al.'s centre-biased regularization, against the tiled copies of a class that
    networks with global average pooling favour."""

    weight: float = 1.0
    name: str = "centre"
    power: float = 2.0

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        y = torch.linspace(-1, 1, h, dtype=x.dtype, device=x.device)[:, None]
        z = torch.linspace(-1, 1, w, dtype=x.dtype, device=x.device)[None, :]
        distance = ((y.square() + z.square()) / 2).sqrt() ** self.power
        return (x.abs() * distance).flatten(1).mean(1)


def dark_start(level: float) -> torch.Tensor:
    """One start image for every row: `level` plus noise of std 0.05 (the default starts at
    mid-grey, 0.5)."""
    noise = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(0))
    return level + 0.05 * noise


# Recipes to compare across the whole zoo: visualize() keyword arguments, one dict each, all
# starting from the actmax recipe (TV 400 and L1 300 relative to the objective's gradient,
# Jitter(3) for the first 60% of 200 steps, Adam at 0.1 with cosine decay, clamped pixels).
POLISH = 0.6  # the default's share of transformed steps
RECIPES: dict[str, dict] = {
    "default": {},
    "jitter4": {"transforms": [Jitter(4, until=POLISH)]},
    "jitter5": {"transforms": [Jitter(5, until=POLISH)]},
    "jitter6": {"transforms": [Jitter(6, until=POLISH)]},
    "jitter4-t80": {"transforms": [Jitter(4, until=0.8)]},
    "jitter4-400": {"transforms": [Jitter(4, until=POLISH)], "iterations": 400},
    "jitter4-blur": {"transforms": [Jitter(4, until=POLISH), Blur((0.5, 1.0), until=POLISH)]},
    "jitter-all": {"transforms": [Jitter(3)]},
    "blur-all": {"transforms": [Jitter(3, until=POLISH), Blur((0.5, 1.0))]},
    "blur-all-400": {"transforms": [Jitter(3, until=POLISH), Blur((0.5, 1.0))], "iterations": 400},
    "fourier-jitter4": {"param": Fourier(), "transforms": [Jitter(4, until=POLISH)]},
    "fourier-400": {"param": Fourier(), "iterations": 400},
    "scale": {"transforms": [Jitter(3, until=POLISH), Scale((0.9, 1.1), until=POLISH)]},
    "rotate": {"transforms": [Jitter(3, until=POLISH), Rotate(10, until=POLISH)]},
    "blur": {"transforms": [Jitter(3, until=POLISH), Blur((0.5, 1.0), until=POLISH)]},
    "scale-rotate": {
        "transforms": [
            Jitter(3, until=POLISH),
            Scale((0.9, 1.1), until=POLISH),
            Rotate(10, until=POLISH),
        ]
    },
    "tv800": {"tv_weight": 800.0},
    "tv200": {"tv_weight": 200.0},
    "lp600": {"lp_weight": 600.0},
    "lp150": {"lp_weight": 150.0},
    "steps400": {"iterations": 400},
    "tv800-400": {"tv_weight": 800.0, "iterations": 400},
    "tv800-400-j4": {
        "tv_weight": 800.0,
        "iterations": 400,
        "transforms": [Jitter(4, until=POLISH)],
    },
    "sigmoid": {"param": Sigmoid()},
    "fourier": {"param": Fourier()},
    "half-priors": {"tv_weight": 200.0, "lp_weight": 150.0},
    "start-0.1": {"seed_input": dark_start(0.1)},
    "start-0.25": {"seed_input": dark_start(0.25)},
    "lucid-no-pad": {
        "transforms": [
            Jitter(3, until=POLISH),
            Scale((0.9, 1.1), until=POLISH),
            Rotate(10, until=POLISH),
            Jitter(1, until=POLISH),
        ]
    },
    "centre-300": {"regularizers": [*ACTMAX.regularizers, CentreBias(300.0)]},
    "centre-1000": {"regularizers": [*ACTMAX.regularizers, CentreBias(1000.0)]},
    "centre-1000-p4": {"regularizers": [*ACTMAX.regularizers, CentreBias(1000.0, power=4.0)]},
    # `actmax.visualize_with_prior` with its defaults and the data set's VAE (the lab's, trained
    # once per data set and cached beside the zoo): latent search from 4 codes, 50 pixel steps
    "learned-prior": {"prior": GeneratorPrior()},
    "generator-only": {"prior": GeneratorPrior(polish=0)},  # the search alone, no pixel steps
    "learned-prior-2-codes": {"prior": GeneratorPrior(starts=2)},
}


# --------------------------------------------------------------------------- data


# --------------------------------------------------------------------------- models


def load_or_train(architecture: str, dataset: str, data: Dataset) -> tuple[torch.nn.Module, dict]:
    """A zoo model trained on `dataset`, from the cache or trained (Adam) and cached there."""
    config = TRAINING[architecture]
    key = hashlib.sha256(
        json.dumps(
            {"architecture": architecture, "dataset": dataset, **dataclasses.asdict(config)},
            sort_keys=True,
        ).encode()
    ).hexdigest()[:12]
    folder = CACHE / dataset / f"{architecture}-{key}"
    if (folder / RECORD).exists():
        return load_model(folder), json.loads((folder / RECORD).read_text())
    torch.manual_seed(config.seed)
    model = ZOO[architecture]()
    began = time.perf_counter()
    n = config.images or len(data.x_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    fit(
        model,
        data.x_train[:n],
        data.y_train[:n],
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=optimizer,
        seed=config.seed,
        device="cpu",
        on_epoch_end=lambda _state: schedule.step(),
        progress=True,
    )
    model.eval()
    x_test, y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
    record = {
        "architecture": architecture,
        "dataset": dataset,
        "description": " ".join((ZOO[architecture].__doc__ or "").split()),
        "parameters": sum(p.numel() for p in model.parameters()),
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_seconds": time.perf_counter() - began,
        **dataclasses.asdict(config),
    }
    with staged_cache_entry(folder, RECORD) as staging:
        save_model(model, staging, architecture)
        write_json(staging / RECORD, record)
    return model, record


def newest_lab_run() -> Path | None:
    runs = sorted(Path("runs").glob("lab_cnn-*/model.safetensors"), key=lambda p: p.stat().st_mtime)
    return runs[-1].parent if runs else None


# --------------------------------------------------------------------------- measuring


@torch.no_grad()
def logits(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """The model's logits (the lab CNN: `l5`'s pre-activation), in batches."""
    forward = logits_of(model.eval())
    return np.concatenate([forward(x[i : i + 2000]).numpy() for i in range(0, len(x), 2000)])


def best_real_logits(model: torch.nn.Module, data: Dataset) -> np.ndarray:
    """Per class c: the highest logit c that any real test image of class c reaches."""
    z = logits(model, torch.from_numpy(data.x_test))
    return np.array([z[data.y_test == c, c].max() for c in range(z.shape[1])])


@dataclass
class Row:
    model: str
    dataset: str
    test_accuracy: float
    recognized: int
    count: int  # class images measured: 10 per seed
    min_ratio: float
    seconds: float
    ratios: list[float]
    judged: list[int]
    images: np.ndarray

    @property
    def passes(self) -> bool:
        """The bar: at least 9 in 10 recognized, and every image at least the best real one."""
        return self.recognized >= 0.9 * self.count and self.min_ratio >= 1


def measure(
    name, dataset, model, test_accuracy, judge, data, recipe_kwargs, seeds=1, generator=None,
    first_seed=0,
):  # fmt: skip
    """The 10 class logits from seeds first_seed .. first_seed + seeds - 1, all in one batched
    call (two for a recipe with a generator prior: its search, then its polish)."""
    # logit(c): a zoo model's last Linear output c; the lab CNN's `l5` pre-activation c
    classes = np.tile(np.arange(10), seeds)
    objectives = [actmax.logit(int(c)) for c in classes]
    best = best_real_logits(model, data)
    seed = [first_seed + s for s in range(seeds) for _ in range(10)]
    began = time.perf_counter()
    if "prior" in recipe_kwargs:
        result = actmax.visualize_with_prior(
            model,
            objectives,
            generator,
            (generator.latent,),
            prior=recipe_kwargs["prior"],
            input_shape=(1, 28, 28),
            seed=seed,
        )
    else:
        result = actmax.visualize(
            model, objectives, input_shape=(1, 28, 28), seed=seed, **recipe_kwargs
        )
    seconds = time.perf_counter() - began
    with torch.no_grad():
        judged = judge(result.inputs.float()).argmax(1).numpy()
    reached = logits(model, result.inputs.float())[np.arange(len(classes)), classes]
    if not np.allclose(reached, result.activations, rtol=1e-3, atol=1e-3):
        raise AssertionError(f"{name}: the objectives are not the logits")
    ratios = reached / best[classes]
    return Row(
        name,
        dataset,
        test_accuracy,
        int((judged == classes).sum()),
        len(classes),
        float(ratios.min()),
        seconds,
        ratios.round(3).tolist(),
        judged.tolist(),
        result.images[:10, ..., 0],
    )


def table(rows: list[Row]) -> str:
    head = (
        f"{'model':<16}{'data set':<15}{'test acc':>9}{'recognized':>12}{'min ratio':>11}{'s':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ok = "" if r.passes else "  <-"
        lines.append(
            f"{r.model:<16}{r.dataset:<15}{r.test_accuracy:>9.4f}{r.recognized:>9}/{r.count:<2}"
            f"{r.min_ratio:>11.2f}{r.seconds:>7.1f}{ok}"
        )
    return "\n".join(lines)


def summary(name: str, rows: list[Row]) -> str:
    zoo = [r for r in rows if r.model != "lab_cnn"]
    lab = [r for r in rows if r.model == "lab_cnn"]
    passing = sum(r.passes for r in zoo)
    text = (
        f"{name:<24} zoo: {passing}/{len(zoo)} pass, recognized {sum(r.recognized for r in zoo)}"
        f"/{sum(r.count for r in zoo)}, worst {min(r.recognized for r in zoo)}/{zoo[0].count}, "
        "min ratio "
        f"{min(r.min_ratio for r in zoo):.2f}, {sum(r.seconds for r in zoo):.0f} s"
    )
    if lab:
        text += f" | lab CNN {lab[0].recognized}/{lab[0].count}, min ratio {lab[0].min_ratio:.2f}"
    return text


def figure(rows: list[Row], title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 10, figsize=(10, 1.1 * len(rows) + 0.4), squeeze=False)
    for i, row in enumerate(rows):
        for c in range(10):
            ax = axes[i, c]
            ax.imshow(row.images[c], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{row.ratios[c]:.2f}" + ("" if row.judged[c] == c else " x"), fontsize=7)
            if c == 0:
                ax.set_ylabel(row.model.removeprefix("zoo_"), fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipe", nargs="+", default=["learned-prior", "default"], choices=sorted(RECIPES)
    )
    parser.add_argument("--models", nargs="+", default=list(ZOO), choices=list(ZOO))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--lab", type=Path, default=None, help="lab CNN run folder")
    parser.add_argument("--no-lab", action="store_true", help="leave the lab CNN out")
    parser.add_argument("--out", type=Path, default=Path("runs/zoo"))
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument(
        "--seeds", type=int, default=1, help="class images per class, from seeds 0 .. N-1"
    )
    parser.add_argument("--first-seed", type=int, default=0, help="the seeds start here")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="PyTorch CPU threads (default 1: on a busy shared machine, more threads spend "
        "their time waiting for each other)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    models: dict[str, list] = {}
    for dataset in args.datasets:
        data = load_dataset(dataset)
        judge = load_or_train_judge(data, CACHE / dataset, progress=True)
        print(f"{dataset}: judge test accuracy {judge.test_accuracy:.4f}", file=sys.stderr)
        entries = []
        for architecture in args.models:
            model, record = load_or_train(architecture, dataset, data)
            entries.append((architecture, model, record["test_accuracy"]))
        lab = None if args.no_lab or dataset != "mnist" else (args.lab or newest_lab_run())
        if lab is not None:
            model = load_model(lab)
            x, y = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
            entries.append(("lab_cnn", model, accuracy(model, x, y)))
        vae = None
        if any("prior" in RECIPES[name] for name in args.recipe):
            vae = load_or_train_vae(
                data.x_train, data.x_test, CACHE / dataset, VAEConfig(dataset=dataset), True
            ).model
        models[dataset] = [data, judge.model.eval(), entries, vae]
    if args.train_only:
        return

    for name in args.recipe:
        rows = []
        for dataset, (data, judge, entries, vae) in models.items():
            part = [
                measure(
                    arch,
                    dataset,
                    model,
                    acc,
                    judge,
                    data,
                    RECIPES[name],
                    args.seeds,
                    vae,
                    args.first_seed,
                )  # fmt: skip
                for arch, model, acc in entries
            ]
            rows += part
            args.out.mkdir(parents=True, exist_ok=True)
            save_figure(
                figure(part, f"{name} on {dataset}: ratio per class (x: judge disagrees)"),
                args.out / f"{name}-{dataset}.png",
            )
        print(f"\nrecipe {name}: {RECIPES[name] or 'the actmax recipe as it is'}")
        print(table(rows))
        print(summary(name, rows))
        write_json(
            args.out / f"{name}.json",
            [{k: v for k, v in dataclasses.asdict(r).items() if k != "images"} for r in rows],
        )


if __name__ == "__main__":
    main()
