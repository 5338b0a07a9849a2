"""`actmax visualize RUN`: activation maximization of a saved model's units, one grid image."""

from __future__ import annotations

import re
from pathlib import Path

import click
from torch import nn

from ..adapters import as_adapter
from ..io import check_new_file
from ..lab.checkpoint import load_model
from ..objectives import Objective, units
from ..recipes import RECIPES

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


def ends_in_softmax(model: nn.Module, layer: str) -> bool:
    """Whether `layer` applies a softmax (then its pre-activation is what keras-vis' users
    got by swapping the softmax for a linear activation)."""
    adapter = as_adapter(model)
    module = adapter.module(adapter.resolve(layer))
    activation = getattr(module, "activation", module)
    return isinstance(activation, nn.Softmax | nn.LogSoftmax)


def _layer(value: str) -> str | int:
    return int(value) if re.fullmatch(r"-?\d+", value) else value


@click.command("visualize")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--layer", default="l5", show_default=True, help="Layer name or Keras index.")
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
    help="Maximize the pre-activation (softmax swapped for linear) or the activation "
    "itself. Default: pre-activation when the layer ends in a softmax.",
)
@click.option("--recipe", type=click.Choice(sorted(RECIPES)), default="actmax", show_default=True)
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Default: recipe's.")
@click.option("--tv-weight", type=float, default=None, help="Total variation weight.")
@click.option("--lp-weight", type=float, default=None, help="Lp norm weight.")
@click.option("--act-weight", type=float, default=None, help="Weight of the objective.")
@click.option("--jitter", type=click.IntRange(min=0), default=None, help="Random shift, pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every draw.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cpu).")
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
    run, layer, unit_spec, linear, recipe, iterations, tv_weight, lp_weight, act_weight,
    jitter, seed, device, cols, gif, out, overwrite,
):  # fmt: skip
    """Synthesize the input that drives each unit of LAYER as high as it goes.

    RUN is a run folder written by `actmax train`. Example:

        actmax visualize runs/lab --layer l5 --units 0-9 --tv-weight 0.5 --out grid.png
    """
    from ..engine import visualize as run_visualize

    rows = parse_units(unit_spec)
    check_new_file(out, overwrite)
    if gif is not None:
        check_new_file(gif, overwrite)
    model = load_model(run, device=device or "cpu")
    target = _layer(layer)
    pre = ends_in_softmax(model, target) if linear is None else linear
    objectives: list[Objective] = [units(target, row, pre_activation=pre) for row in rows]
    result = run_visualize(
        model,
        objectives,
        recipe=recipe,
        iterations=iterations,
        tv_weight=tv_weight,
        lp_weight=lp_weight,
        act_weight=act_weight,
        jitter=jitter,
        seed=seed,
        progress=True,
        gif=gif,
    )
    settings = f"recipe {recipe}" + (f", tv_weight {tv_weight:g}" if tv_weight is not None else "")
    kind = "pre-activation" if pre else "activation"
    result.save(out, cols=cols, title=f"{layer} ({kind}), {settings}")
    low, high = result.activations.min(), result.activations.max()
    click.echo(f"wrote {out}: {len(result)} images, activations {low:.4g} .. {high:.4g}")
    if gif is not None:
        click.echo(f"wrote {gif}")
