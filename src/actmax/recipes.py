"""Recipes: presets of parts (parametrization, optimizer, transforms, regularizers) and settings.

=====================  ========================================  ===================================
                       `keras-vis`                               `actmax`
=====================  ========================================  ===================================
parametrization        `Pixels(clamp=False)`: unbounded          `Pixels()`: clamped into the range
regularizers           `TotalVariation(10)`, `LpNorm(10, p=6)`   `TotalVariation(400, full=True)`,
                                                                 `LpNorm(300, p=1)`
prior weights          absolute                                  x mean |d objective / d input| at
                                                                 the start, per row
TV grid                keras-vis' (H-1)x(W-1) grid               every neighbour pair (border kept)
optimizer              `KerasVisRMSProp()`: gradient             `Adam(lr=0.1)`: step 10% of the
                       L2-normalized per image, RMSProp (decay   range, cosine decay to 0
                       0.95, eps 1e-7 inside the square root),
                       step 1 in input units
transforms             none                                      `Jitter(3, until=0.6)`: shifts of
                                                                 up to 3 pixels for the first 60%
                                                                 of the steps
returned input         the iterate with the lowest loss          the last iterate
display image          contrast stretch (`deprocess_input`)      the input mapped from input_range
=====================  ========================================  ===================================

keras-vis scored the image *before* each update but stored the image *after* it, so it returned
an image whose loss it never measured. Here every candidate, the final iterate included, is
scored on itself, and the returned input is exactly the one whose loss was lowest (with jitter
switched on, a loss is that of the shifted view the model saw at that step).

A recipe is a frozen dataclass: change a part with `recipe.replace(...)`, e.g.
`get_recipe("actmax").replace(param=Fourier(), transforms=(Jitter(4), Rotate(10)))`, or pass
the parts to `visualize()` directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .errors import ActmaxError
from .optimizers import Adam, KerasVisRMSProp, Optimizer
from .param import Parametrization, Pixels
from .regularizers import LpNorm, Regularizer, TotalVariation
from .transforms import Jitter, Transform

__all__ = [
    "ACTMAX",
    "KERAS_VIS",
    "RECIPES",
    "Recipe",
    "deprocess_input",
    "get_recipe",
    "show_range",
]

Display = Callable[[torch.Tensor, tuple[float, float]], torch.Tensor]


def show_range(x: torch.Tensor, input_range: tuple[float, float]) -> torch.Tensor:
    """Display images in [0, 1]: the input range mapped onto [0, 1], as it is."""
    lo, hi = input_range
    return ((x - lo) / (hi - lo)).clamp(0.0, 1.0)


def deprocess_input(
    x: torch.Tensor, input_range: tuple[float, float] | None = None
) -> torch.Tensor:
    """keras-vis' contrast stretch per image, all channels jointly: standardize, x0.1, +0.5,
    clip to [0, 1] (keras-vis then rescales to input_range; display images stay in [0, 1])."""
    flat = x.flatten(1)
    mean = flat.mean(1, keepdim=True)
    std = flat.std(1, unbiased=False, keepdim=True)
    return ((flat - mean) / (std + 1e-7) * 0.1 + 0.5).clamp(0.0, 1.0).view_as(x)


@dataclass(frozen=True)
class Recipe:
    """Everything `visualize()` needs besides the model and the objectives; its arguments
    override a recipe's parts and settings per call.

    relative_weights: multiply each row's regularizer weights by the mean absolute gradient of
        its objective with respect to the start image, so the balance between objective and
        priors does not depend on the model's scale and defaults carry over between models.
    keep_best: return each row's lowest-loss iterate instead of the last one.
    display: maps inputs to display images in [0, 1].
    """

    name: str
    param: Parametrization
    optimizer: Optimizer
    regularizers: tuple[Regularizer, ...] = ()
    transforms: tuple[Transform, ...] = ()
    iterations: int = 200
    act_weight: float = 1.0
    relative_weights: bool = False
    keep_best: bool = False
    display: Display = show_range

    def replace(self, **changes) -> Recipe:
        """A copy with some parts or settings changed (lists become tuples)."""
        for key in ("regularizers", "transforms"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return dataclasses.replace(self, **changes)

    def regularizer(self, name: str) -> Regularizer | None:
        """The regularizer with this name, if the recipe has one."""
        return next((r for r in self.regularizers if r.name == name), None)

    @property
    def tv_weight(self) -> float:
        """The weight of the "tv" regularizer (0 without one)."""
        reg = self.regularizer("tv")
        return float(reg.weight) if reg is not None else 0.0

    @property
    def lp_weight(self) -> float:
        """The weight of the "lp" regularizer (0 without one)."""
        reg = self.regularizer("lp")
        return float(reg.weight) if reg is not None else 0.0


KERAS_VIS = Recipe(
    name="keras-vis",
    param=Pixels(clamp=False),
    optimizer=KerasVisRMSProp(),
    regularizers=(TotalVariation(10.0, beta=2.0), LpNorm(10.0, p=6.0)),
    iterations=200,
    keep_best=True,
    display=deprocess_input,
)

# Tuned on the lab CNN (logit objectives, MNIST): TV 400 keeps strokes smooth, an L1 weight of
# 300 keeps the background at 0 as in real digits, random shifts of up to 3 pixels keep the
# image from exploiting exact pixel positions, and the last 40% of the steps polish the
# unshifted image.
ACTMAX = Recipe(
    name="actmax",
    param=Pixels(),
    optimizer=Adam(lr=0.1, final_lr=0.0),
    regularizers=(TotalVariation(400.0, full=True), LpNorm(300.0, p=1.0)),
    transforms=(Jitter(3, until=0.6),),
    iterations=200,
    relative_weights=True,
)

RECIPES: dict[str, Recipe] = {"actmax": ACTMAX, "keras-vis": KERAS_VIS}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name, or a (customized) `Recipe` as it is."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except (KeyError, TypeError):
        raise ActmaxError(
            f"unknown recipe {recipe!r}; choose from {', '.join(sorted(RECIPES))}"
        ) from None
