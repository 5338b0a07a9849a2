"""`actmax train`: train the lab's CNN on MNIST or Fashion-MNIST with the lab's settings and show
how it learned."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ActmaxError
from ..lab.data import DATASETS
from ..lab.evaluation import format_confusion_matrix, format_per_class
from ..lab.runs import RunFolder
from ..lab.training import TrainConfig, default_run_dir
from ..lab.training import train as run_training

LAB = TrainConfig()

# The flags that set a TrainConfig field of the same name.
SETTINGS = ("epochs", "batch_size", "seed", "dataset", "data")


def _explicit(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _given_settings(ctx: click.Context, values: dict) -> dict:
    """The training settings set by flags on the command line (not left at their defaults)."""
    given = {name: values[name] for name in SETTINGS if _explicit(ctx, name)}
    if "data" in given:  # absolute, so that a run can be resumed from anywhere
        given["data"] = str(Path(given["data"]).expanduser().resolve())
    return given


def _resumed_config(out: Path, given: dict) -> TrainConfig:
    """The run's own settings, overlaid by the flags given now (train() checks they agree)."""
    stored = RunFolder.open(out).read_config().get("config")
    if not isinstance(stored, dict):
        raise ActmaxError(f"{out / 'config.json'} is corrupt (no training settings)")
    return TrainConfig.from_dict(stored).replace(**given)


@click.command("train")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=LAB.epochs,
    show_default=True,
    help="Passes over the training set.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=LAB.batch_size,
    show_default=True,
    help="Images per optimizer step.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=LAB.seed,
    show_default=True,
    help="Fixes initial weights and shuffling: the same seed gives the same run.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run folder to create (default: runs/lab_cnn-<data set>-<hash of the settings>).",
)
@click.option(
    "--dataset",
    type=click.Choice(list(DATASETS)),
    default=LAB.dataset,
    show_default=True,
    help="The data set to learn: MNIST (shipped) or Fashion-MNIST (Debian's "
    "dataset-fashion-mnist package, or ~/.keras/datasets/fashion-mnist).",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to read the data set: a Keras-layout mnist.npz for MNIST (default: the copy "
    "shipped with actmax), a folder of the four idx files for Fashion-MNIST.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="cpu, cuda, cuda:N; auto is CUDA when there is one, else the CPU.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads (default: PyTorch's choice, one per core).",
)
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out.")
@click.option("--quiet", is_flag=True, help="No progress bar and no tables.")
@click.pass_context
def train(
    ctx: click.Context,
    epochs: int,
    batch_size: int,
    seed: int,
    out: Path | None,
    dataset: str,
    data: Path | None,
    device: str,
    threads: int | None,
    resume: bool,
    quiet: bool,
) -> None:
    """Train the lab's CNN on MNIST or Fashion-MNIST (RMSprop, batch 128, 10 epochs); evaluate it.

    The run folder receives the model, metrics.json (history, test loss and accuracy, confusion
    matrix, per-class precision and recall) and the figures loss.png, accuracy.png and
    confusion_matrix.png. A checkpoint is written after every epoch: after Ctrl-C, run the
    same command with --resume to continue.
    """
    values = {
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "dataset": dataset,
        "data": data,
    }
    given = _given_settings(ctx, values)
    if out is None:  # follows from the settings, so the same command finds its run again
        out = default_run_dir(LAB.replace(**given))
    config = _resumed_config(out, given) if resume else LAB.replace(**given)
    try:
        result = run_training(
            config, out, resume=resume, progress=not quiet, device=device, threads=threads
        )
    except KeyboardInterrupt:
        click.echo(
            f"\ntraining interrupted; completed epochs are saved in {out}: continue with\n"
            f"  actmax train --out {out} --resume",
            err=True,
        )
        raise
    if quiet:
        click.echo(str(result.run.path))
        return
    report = result.report
    names = DATASETS[config.dataset].class_names
    click.echo(f"Test score: {result.test.loss:.4f}")
    click.echo(f"Test accuracy: {result.test.accuracy:.4f}")
    click.echo("\nConfusion matrix:")
    click.echo(format_confusion_matrix(report["confusion_matrix"], names))
    click.echo()
    click.echo(format_per_class(report["precision"], report["recall"], report["support"], names))
    timing = result.metrics["timing"]
    click.echo(
        f"\ntrained {len(result.history['loss'])} epochs in {timing['train_seconds']:.1f} s "
        f"(seed {config.seed}); run folder: {result.run.path}"
    )
    click.echo(
        "files: "
        + ", ".join(["model.safetensors", "metrics.json", *result.metrics["files"]["figures"]])
    )
