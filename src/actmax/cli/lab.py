"""`actmax lab`: the whole lab in one command, as a report to open in a browser."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import ActmaxError
from ..lab.data import DATASETS
from ..lab.training import TrainConfig


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise ActmaxError(f"{what} must be numbers separated by commas, got {text!r}") from None
    if not values:
        raise ActmaxError(f"{what} needs at least one value")
    return values


def _classes(text: str) -> tuple[int, ...]:
    """`0-9`, `1,7,9` or a mix such as `0-3,7`."""
    out: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ActmaxError(f"classes are numbers such as 0-9 or 1,7,9; got {text!r}") from None
    return tuple(out)


def _pairs(text: str) -> tuple[tuple[int, int], ...]:
    """`1+7,4+9`: two classes joined by +, pairs separated by commas."""
    pairs = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            a, b = (int(v) for v in part.split("+"))
        except ValueError:
            raise ActmaxError(f"pairs are written like 1+7,4+9; got {text!r}") from None
        pairs.append((a, b))
    return tuple(pairs)


def default_out(root: Path = Path("runs")) -> Path:
    """`runs/lab-<date>-<time>`: every run gets its own folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out, n = root / f"lab-{stamp}", 1
    while out.exists():
        n += 1
        out = root / f"lab-{stamp}-{n}"
    return out


@click.command("lab")
@click.option(
    "--dataset",
    type=click.Choice(list(DATASETS)),
    default="mnist",
    show_default=True,
    help="The data set the lab CNN learns: MNIST (shipped) or Fashion-MNIST (Debian's "
    "dataset-fashion-mnist package, or ~/.keras/datasets/fashion-mnist).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=TrainConfig().epochs,
    show_default=True,
    help="Training epochs of the lab CNN.",
)
@click.option(
    "--tv-weights",
    default=None,
    help="tv_weights to sweep with the main recipe, comma-separated [default: keras-vis "
    "0.125,0.25,...,16 (the lab's); actmax the same times 100].",
)
@click.option(
    "--classes",
    "classes_",
    default="0-9",
    show_default=True,
    help="Output classes to maximize, by number, e.g. 0-9 or 1,7,9.",
)
@click.option(
    "--pairs",
    default=None,
    help="Pairs of classes to maximize together and contrast [default: MNIST 1+7,4+9,0+1,7+8; "
    "Fashion-MNIST 0+6,2+4,1+8,3+7].",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=None,
    help="Optimization steps per image [default: the recipe's, 200].",
)
@click.option(
    "--recipe",
    type=click.Choice(["actmax", "keras-vis"]),
    default="actmax",
    show_default=True,
    help="Recipe of the main experiments (the other is compared).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run folder to write [default: runs/lab-<date>-<time>].",
)
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    default=Path("runs/cache"),
    show_default=True,
    help="Where trained models are kept for reuse.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="cpu, cuda, cuda:N; auto is CUDA when there is one, else the CPU.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=TrainConfig().seed,
    show_default=True,
    help="Seed of training and of every visualization.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A demo in seconds: 1 epoch on 3,000 images, 30 steps, 3 tv_weights per recipe.",
)
@click.option("--overwrite", is_flag=True, help="Replace the run folder if it exists.")
@click.pass_context
def lab(
    ctx: click.Context,
    dataset: str,
    epochs: int,
    tv_weights: str,
    classes_: str,
    pairs: str | None,
    iterations: int | None,
    recipe: str,
    out: Path | None,
    cache: Path,
    device: str | None,
    seed: int,
    quick: bool,
    overwrite: bool,
) -> None:
    """Run the whole lab on MNIST or Fashion-MNIST: train (or reuse) the lab CNN, run every
    experiment, write a report.

    Writes report.html (open it in a browser), metrics.json, figures/ and the model into the run
    folder. A model trained with the same settings is reused from --cache.
    """
    from ..lab.experiments import LabSettings
    from ..lab.pipeline import quick_settings, run_lab

    given = {
        name
        for name in ("epochs", "iterations")
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    }
    settings = LabSettings(
        epochs=epochs,
        seed=seed,
        tv_weights=_floats(tv_weights, "--tv-weights") if tv_weights is not None else None,
        classes=_classes(classes_),
        pairs=_pairs(pairs) if pairs is not None else None,
        iterations=iterations,
        recipe=recipe,
        device=device,
        dataset=dataset,
    )
    if quick:
        settings = quick_settings(settings, keep=given)
    out = out if out is not None else default_out()

    def log(message: str) -> None:
        click.echo(message, err=True)

    run = run_lab(settings, out, cache_root=cache, overwrite=overwrite, progress=True, log=log)
    m = run.metrics
    classes = m["classes"]["summary"]
    click.echo(
        f"lab CNN on {m['dataset']['title']}: {100 * m['training']['test_accuracy']:.2f}% test "
        f"accuracy (the independent classifier: {100 * m['judge']['test_accuracy']:.2f}%); "
        f"tv_weight {m['tv_choice']['chosen']:g} chosen by measurement; "
        f"{classes['recognized']}/{classes['count']} class images recognized by the independent "
        f"classifier; {m['timing']['total_s']:.1f} s"
    )
    click.echo(f"report: {run.report}")
