"""Priors for activation maximization: penalties added to the loss, one value per image.

A regularizer is a small named object with a weight (one for every row, or one per row):

    regularizers=[TotalVariation(10.0), LpNorm(10.0, p=6)]

The loss is `-act_weight * objective + sum(weight * penalty)` over the list, and the run's
history has one entry per regularizer name. Total variation and the Lp norm are normalized as
keras-vis normalizes them (divided by channels x height x width of one image), so a weight means
what it meant in keras-vis. A penalty reads the image (N, C, *spatial) or, with
`reads = "param"`, the optimized tensor itself (the latent code of `param.Latent`).

To add one, subclass `Regularizer` and implement `penalty(tensor) -> (N,)`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import ActmaxError

__all__ = [
    "L1",
    "L2",
    "LatentPrior",
    "LpNorm",
    "Regularizer",
    "TotalVariation",
    "l1",
    "l2",
    "lp_norm",
    "total_variation",
]

Weight = float | Sequence[float]


class Regularizer(ABC):
    """A named penalty with a weight (a number, or one per row)."""

    name: str
    weight: Weight
    #: what the penalty reads: "image" (in the input range) or "param" (the optimized tensor)
    reads: str = "image"

    @abstractmethod
    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        """One value per row, (N,)."""


@dataclass(frozen=True)
class TotalVariation(Regularizer):
    """keras-vis' total variation (see `total_variation`): smooth images, few edges."""

    weight: Weight = 10.0
    beta: float = 2.0
    full: bool = False
    name: str = "tv"

    def __post_init__(self):
        if not self.beta > 0:
            raise ActmaxError(f"the total-variation exponent beta must be > 0, got {self.beta}")

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        return total_variation(x, self.beta, full=self.full)


@dataclass(frozen=True)
class LpNorm(Regularizer):
    """keras-vis' Lp norm (see `lp_norm`): p = 6 keeps values from running to extremes, p = 1
    pulls the image toward 0 (a dark background, as in MNIST)."""

    weight: Weight = 10.0
    p: float = 6.0
    name: str = "lp"

    def __post_init__(self):
        if not self.p >= 1:
            raise ActmaxError(f"the Lp norm needs p >= 1, got {self.p}")

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        return lp_norm(x, self.p)


@dataclass(frozen=True)
class L1(Regularizer):
    """Mean absolute value: sparsity toward 0."""

    weight: Weight = 1.0
    name: str = "l1"

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        return l1(x)


@dataclass(frozen=True)
class L2(Regularizer):
    """Euclidean norm / (C*H*W): plain weight decay on the image."""

    weight: Weight = 1.0
    name: str = "l2"

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        return l2(x)


@dataclass(frozen=True)
class LatentPrior(Regularizer):
    """Half the mean square of the latent code, `0.5 * mean(z**2)`: the negative log-density of
    a standard normal prior (up to a constant, per dimension). Keeps `param.Latent` codes
    where the generator learned to draw."""

    weight: Weight = 1.0
    name: str = "latent"
    reads: str = "param"

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.flatten(1).square().mean(1)


def _image_size(x: torch.Tensor) -> int:
    """C x H x W of one image (keras-vis' `np.prod(img_shape[1:])`)."""
    return math.prod(x.shape[1:])


def total_variation(x: torch.Tensor, beta: float = 2.0, full: bool = False) -> torch.Tensor:
    """keras-vis' TotalVariation: the sum over pixels and channels of
    `((x[h+1,w] - x[h,w])^2 + (x[h,w+1] - x[h,w])^2) ** (beta/2)` on the (H-1) x (W-1) grid,
    divided by C*H*W. Works for any number of spatial dimensions (1-D signals, volumes).

    keras-vis' grid leaves out the last row's horizontal and the last column's vertical
    differences, so the bottom-right pixel is free. `full=True` repeats the border instead
    (those differences count, the extra ones are 0), which ties every pixel to its neighbours.

    Where an image is flat the beta < 2 power has no derivative; its gradient is taken as 0 there
    (keras-vis returns NaN).
    """
    if beta <= 0:
        raise ActmaxError(f"the total-variation exponent beta must be > 0, got {beta}")
    spatial = x.dim() - 2
    if spatial < 1:
        raise ActmaxError(f"total variation needs images (N, C, ...), got shape {tuple(x.shape)}")
    size = _image_size(x)
    if full and beta == 2.0:  # no power to pair the differences: sum each axis on its own
        total = None
        for axis in range(spatial):
            dim = 2 + axis
            n = x.shape[dim]
            energy = (x.narrow(dim, 1, n - 1) - x.narrow(dim, 0, n - 1)).square().flatten(1).sum(1)
            total = energy if total is None else total + energy
        return total / size
    if full:  # repeat the last row / column: a difference of 0 past each far border
        x = F.pad(x, (0, 1) * spatial, mode="replicate")
    base = x[(slice(None), slice(None)) + (slice(None, -1),) * spatial]
    energy = None
    for axis in range(spatial):
        index = [slice(None), slice(None)] + [slice(None, -1)] * spatial
        index[2 + axis] = slice(1, None)
        diff = (x[tuple(index)] - base).square()
        energy = diff if energy is None else energy + diff
    if beta != 2.0:
        positive = energy > 0
        safe = torch.where(positive, energy, torch.ones_like(energy))
        energy = torch.where(positive, safe.pow(beta / 2.0), torch.zeros_like(energy))
    return energy.flatten(1).sum(1) / size


def lp_norm(x: torch.Tensor, p: float = 6.0) -> torch.Tensor:
    """keras-vis' LPNorm: `(sum |x|^p)^(1/p) / (C*H*W)`; for p = inf, keras-vis' `max(x)`."""
    if not p >= 1:
        raise ActmaxError(f"the Lp norm needs p >= 1, got {p}")
    flat = x.flatten(1)
    if math.isinf(p):
        return flat.amax(1) / _image_size(x)
    return torch.linalg.vector_norm(flat, ord=p, dim=1) / _image_size(x)


def l1(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute value: sparsity toward 0 (the Lp norm with p = 1, keras-vis normalization)."""
    return lp_norm(x, 1.0)


def l2(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm / (C*H*W): plain weight decay on the image (the Lp norm with p = 2)."""
    return lp_norm(x, 2.0)
