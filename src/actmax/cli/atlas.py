"""`actmax atlas MODEL`: every unit of a model in a static site, on this machine or on Ray."""

from __future__ import annotations

from pathlib import Path

import click

from ..recipes import RECIPES
from .common import model_options, open_model


@click.command("atlas")
@model_options
@click.option(
    "--layers",
    default="all",
    show_default=True,
    help="Layers to show, comma-separated names (l1,l2), or all: every layer with weights.",
)
@click.option(
    "--data",
    default="mnist",
    show_default=True,
    help="Images to rank the units on: mnist or fashion-mnist (their test sets), a "
    "Keras-layout mnist .npz, a folder of Fashion-MNIST's idx files, or a .npy of images "
    "(N, H, W) or (N, C, H, W).",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Feature visualizations per unit, from seeds 0 .. N-1.",
)
@click.option(
    "--diversity",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Weight of a diversity term that pushes a unit's seeds apart (Lucid's; 0: off).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("atlas"),
    show_default=True,
    help="Folder of the site (new or empty, or the one to --resume).",
)
@click.option(
    "--ray",
    "ray_address",
    default=None,
    metavar="auto|ADDRESS",
    help="Run the shards as Ray tasks: auto starts Ray on this machine (loopback only); "
    "ADDRESS joins a running cluster. Needs actmax[ray].",
)
@click.option("--resume", is_flag=True, help="Finish an interrupted atlas: skip finished shards.")
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=None,
    help="Optimization steps per image [default: the recipe's, 200].",
)
@click.option("--recipe", type=click.Choice(sorted(RECIPES)), default="actmax", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use the first N images.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="PyTorch threads per shard [default: all locally, 1 per Ray task].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="With --ray auto: CPUs of the local Ray instance [default: all].",
)
@click.option(
    "--units-per-shard",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Units optimized together in one shard (one batched call).",
)
@click.option(
    "--images-per-shard",
    type=click.IntRange(min=1),
    default=2048,
    show_default=True,
    help="Images per data shard, a multiple of 256.",
)
def atlas(
    model, input_shape, mean, std, device, layers, data, seeds, diversity, out, ray_address,
    resume, iterations, recipe, limit, threads, workers, units_per_shard, images_per_shard,
):  # fmt: skip
    """Show every unit of MODEL in a static site: its feature visualizations, the real inputs
    that drive it most and least (with its activation map over them) and its histogram.

    MODEL is a run folder from `actmax train` or `actmax lab`, a .keras, .h5, .onnx or .pt2
    file. Open OUT/index.html in a browser; it needs no server. Example:

        actmax atlas runs/lab --layers l1,l2,l5 --out atlas-lab
    """
    from ..atlas import AtlasSettings, build_atlas

    loaded = open_model(model, input_shape, mean, std, device)

    settings = AtlasSettings(
        seeds=seeds,
        diversity=diversity,
        iterations=iterations,
        recipe=recipe,
        block=units_per_shard,
        chunk=images_per_shard,
    )
    try:
        summary = build_atlas(
            loaded.adapter,
            data,
            out,
            layers=layers,
            settings=settings,
            resume=resume,
            ray=ray_address,
            workers=workers,
            threads=threads,
            device=str(loaded.device),
            limit=limit,
            name=model.name if model.is_dir() else model.stem,
        )
    except KeyboardInterrupt:
        click.echo(f"the finished shards are kept in {out}: add --resume to go on", err=True)
        raise
    click.echo(summary.line())
