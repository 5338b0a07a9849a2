"""Image priors for activation maximization, one value per image of a batch.

Total variation and the Lp norm are normalized as keras-vis normalizes them (divided by
channels x height x width of one image), so a `tv_weight` or `lp_weight` means what it meant in
keras-vis. Every function takes a channels-first batch `(N, C, *spatial)` and returns `(N,)`.
"""

from __future__ import annotations

import math

import torch

from .errors import ActmaxError


def _image_size(x: torch.Tensor) -> int:
    """C x H x W of one image (keras-vis' `np.prod(img_shape[1:])`)."""
    return math.prod(x.shape[1:])


def total_variation(x: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """keras-vis' TotalVariation: sum over pixels and channels of
    `((x[h+1,w] - x[h,w])^2 + (x[h,w+1] - x[h,w])^2) ** (beta/2)` on the (H-1) x (W-1) grid,
    divided by C*H*W. Works for any number of spatial dimensions (1-D signals, volumes).

    Where an image is flat the beta < 2 power has no derivative; its gradient is taken as 0 there
    (keras-vis returns NaN).
    """
    if beta <= 0:
        raise ActmaxError(f"the total-variation exponent beta must be > 0, got {beta}")
    spatial = x.dim() - 2
    if spatial < 1:
        raise ActmaxError(f"total variation needs images (N, C, ...), got shape {tuple(x.shape)}")
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
    return energy.flatten(1).sum(1) / _image_size(x)


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
