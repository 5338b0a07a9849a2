"""`actmax visualize MODEL`: activation maximization of a model's units, one grid image."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ..adapters import ModelAdapter
from ..io import check_new_file
from ..objectives import Objective, logit, units
from ..recipes import RECIPES
from .common import (
    MODEL_HELP,
    check_figure,
    layer_spec,
    model_options,
    number_list,
    open_model,
)
from .generator import DATASET_PRIORS, open_generator

UNIT_ITEM = re.compile(r"^\d+(-\d+|(\+\d+)*)$")


def parse_units(spec: str) -> list[list[int]]:
    """'0-9' -> ten rows; '1,7' -> two rows; '1+7,4+9' -> two rows, each maximizing a sum."""
    rows: list[list[int]] = []
    for item in spec.replace(" ", "").split(","):
        if not UNIT_ITEM.match(item):
            raise click.BadParameter(
                f"{item!r} is not a unit: use numbers, ranges (0-9) and sums (1+7), "
                "separated by commas",
                param_hint="--units",
            )
        if "-" in item:
            first, last = (int(v) for v in item.split("-"))
            if first > last:
                raise click.BadParameter(f"empty range {item!r}", param_hint="--units")
            rows.extend([i] for i in range(first, last + 1))
        else:
            rows.append([int(v) for v in item.split("+")])
    return rows


def reading(adapter: ModelAdapter, layer: str | int, linear: bool | None) -> bool | None:
    """How to read `layer`: its pre-softmax output (None, as `logit()` does) or its output
    (False).

    adapter: the model. layer: a name or index.
    linear: the --linear/--softmax flag; None reads the layer that makes the model's output
        before its softmax and any other layer at its output.
    """
    if linear is None:
        return None if adapter.resolve(layer) == adapter.resolve(-1) else False
    return None if linear else False


@click.command("visualize", epilog=MODEL_HELP)
@model_options
@click.option(
    "--layer",
    default="-1",
    show_default=True,
    help="Layer name (nested: a.b.c) or Keras index; -1 is the layer that makes the output.",
)
@click.option(
    "--units",
    "unit_spec",
    default="0-9",
    show_default=True,
    help="Units or channels, one image each: 0-9, 1,7, or 1+7 for one image of their sum.",
)
@click.option(
    "--linear/--softmax",
    "linear",
    default=None,
    help="Maximize the pre-softmax output (the logits: softmax swapped for linear) or the "
    "layer's output itself. Default: the logits for the layer that makes the model's output.",
)
@click.option("--recipe", type=click.Choice(sorted(RECIPES)), default="actmax", show_default=True)
@click.option(
    "--prior",
    default=None,
    metavar="GENERATOR",
    help="Search through a generator of the model's data, then polish the pixels: "
    f"{' or '.join(DATASET_PRIORS)} (that data set's VAE, trained once and cached) or a "
    "generator file (.pt2 with a fixed code shape). Replaces the recipe's pixel priors.",
)
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Default: recipe's.")
@click.option("--tv-weight", type=float, default=None, help="Total variation weight.")
@click.option("--lp-weight", type=float, default=None, help="Lp norm weight.")
@click.option("--act-weight", type=float, default=None, help="Weight of the objective.")
@click.option("--jitter", type=click.IntRange(min=0), default=None, help="Random shift, pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every draw.")
@click.option(
    "--range",
    "input_range",
    default="0,1",
    show_default=True,
    metavar="LO,HI",
    help="Pixel range the images are optimized in (before --mean/--std normalization).",
)
@click.option("--cols", type=click.IntRange(min=1), default=None, help="Images per grid row.")
@click.option("--gif", type=click.Path(path_type=Path), default=None, help="Also animate it.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Grid image to write (PNG, or PDF/SVG by suffix).",
)
@click.option("--overwrite", is_flag=True, help="Replace --out / --gif if they exist.")
def visualize(
    model, input_shape, mean, std, device, layer, unit_spec, linear, recipe, prior, iterations,
    tv_weight, lp_weight, act_weight, jitter, seed, input_range, cols, gif, out, overwrite,
):  # fmt: skip
    """Synthesize the input that drives each unit of a layer of MODEL as high as it goes.

    Examples:

        actmax visualize runs/lab --units 0-9 --tv-weight 0.5 --out grid.png

        actmax visualize resnet.pt2 --layer layer3 --units 0-15 --mean 0.485,0.456,0.406
        --std 0.229,0.224,0.225 --out layer3.png

        actmax visualize classifier.onnx --prior fashion-mnist --out classes.png
    """
    from ..engine import visualize as run_visualize
    from ..generator_prior import GeneratorPrior, visualize_with_prior

    rows = parse_units(unit_spec)
    low_high = number_list(input_range, "--range")
    if len(low_high) != 2 or not low_high[0] < low_high[1]:
        raise click.BadParameter(f"{input_range!r}: give LO,HI with LO < HI", param_hint="--range")
    if prior is not None:
        given = {"--recipe": recipe != "actmax", "--tv-weight": tv_weight is not None,
                 "--lp-weight": lp_weight is not None, "--act-weight": act_weight is not None,
                 "--jitter": jitter is not None, "--gif": gif is not None}  # fmt: skip
        clash = [flag for flag, set_ in given.items() if set_]
        if clash:
            raise click.BadParameter(
                f"--prior replaces the recipe; drop {', '.join(clash)}", param_hint="--prior"
            )
    check_figure(out, overwrite)
    if gif is not None:
        check_new_file(gif, overwrite)
        if gif.suffix.lower() != ".gif":
            raise click.BadParameter(f"{gif} must end in .gif", param_hint="--gif")
    loaded = open_model(model, input_shape, mean, std, device)
    adapter = loaded.adapter
    target = layer_spec(layer)
    pre = reading(adapter, target, linear)
    objectives: list[Objective] = [
        sum((logit(i, target) for i in row), start=0) if pre is None else units(target, row)
        for row in rows
    ]
    if prior is not None:
        generator, latent_shape, prior_name = open_generator(prior, progress=True)
        result = visualize_with_prior(
            adapter,
            objectives,
            generator,
            latent_shape,
            prior=GeneratorPrior(iterations=iterations or GeneratorPrior.iterations),
            input_range=low_high,
            seed=seed,
            device=loaded.device,
            progress=True,
        )
        settings = f"through {prior_name}"
    else:
        result = run_visualize(
            adapter,
            objectives,
            recipe=recipe,
            iterations=iterations,
            input_range=low_high,
            tv_weight=tv_weight,
            lp_weight=lp_weight,
            act_weight=act_weight,
            jitter=jitter,
            seed=seed,
            device=loaded.device,
            progress=True,
            gif=gif,
            overwrite=overwrite,
        )
        settings = f"recipe {recipe}"
        settings += f", tv_weight {tv_weight:g}" if tv_weight is not None else ""
    name = adapter.resolve(target)
    kind = "logits" if pre is None else "activation"
    result.save(out, cols=cols, title=f"{name} ({kind}), {settings}", overwrite=True)
    low, high = result.activations.min(), result.activations.max()
    click.echo(f"wrote {out}: {len(result)} images, activations {low:.4g} .. {high:.4g}")
    if gif is not None:
        click.echo(f"wrote {gif}")
