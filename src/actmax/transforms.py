"""Random transforms applied to the input inside the forward pass (transformation robustness).

keras-vis' `Jitter` rolled the stored image itself, so the image random-walked on a torus and
came back at an arbitrary offset. Here the optimized image stays put: each step shows the model a
randomly shifted (and optionally rescaled) view of it, and gradients flow back through the
transform. All random draws for a whole run are made up front from each row's own generator, so
a row sees the same transforms whether it is optimized alone or in a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .errors import ActmaxError


def shift(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Roll every image of `x` (N, C, *spatial) by its own integer `offsets` (N, len(spatial)),
    wrapping around the border. Differentiable (a gather), exact, one op per spatial axis."""
    n = x.shape[0]
    for axis in range(offsets.shape[1]):
        dim = 2 + axis
        length = x.shape[dim]
        positions = torch.arange(length, device=x.device)
        index = (positions[None, :] - offsets[:, axis : axis + 1]) % length  # (N, L)
        view = [n] + [1] * (x.dim() - 1)
        view[dim] = length
        x = torch.gather(x, dim, index.view(view).expand_as(x))
    return x


def zoom(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Scale every image of `x` (N, C, H, W) about its centre by its own factor (bilinear,
    border pixels repeated). Differentiable."""
    if x.dim() != 4:
        raise ActmaxError(f"random scaling needs images (N, C, H, W), got shape {tuple(x.shape)}")
    theta = x.new_zeros(x.shape[0], 2, 3)
    theta[:, 0, 0] = 1.0 / factors
    theta[:, 1, 1] = 1.0 / factors
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class RandomTransforms:
    """Per-step random shifts of up to `jitter[i]` pixels (and scale factors drawn uniformly
    from `scale`) for every row, drawn from the rows' generators when constructed."""

    def __init__(
        self,
        generators: Sequence[torch.Generator],
        iterations: int,
        spatial_dims: int,
        jitter: Sequence[int],
        scale: tuple[float, float] | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        if len(jitter) != len(generators):
            raise ActmaxError(f"{len(jitter)} jitter values for {len(generators)} rows")
        if any(int(j) != j or j < 0 for j in jitter):
            raise ActmaxError(f"jitter is a whole number of pixels >= 0, got {list(jitter)}")
        if scale is not None:
            lo, hi = scale
            if not 0 < lo <= hi:
                raise ActmaxError(f"scale is a range (lo, hi) with 0 < lo <= hi, got {scale}")
        shifts, factors = [], []
        for gen, j in zip(generators, jitter, strict=True):
            j = int(j)
            shifts.append(torch.randint(-j, j + 1, (iterations, spatial_dims), generator=gen))
            if scale is not None:
                u = torch.rand(iterations, generator=gen, dtype=torch.float64)
                factors.append(scale[0] + (scale[1] - scale[0]) * u)
        self.enabled = any(jitter) or scale is not None
        self.jitter = any(jitter)
        # (T, N, S) and (T, N): one slice per step, already on the device
        self.shifts = torch.stack(shifts, dim=1).to(device)
        self.factors = torch.stack(factors, dim=1).to(device, dtype) if factors else None

    def __call__(self, x: torch.Tensor, step: int) -> torch.Tensor:
        if self.jitter:
            x = shift(x, self.shifts[step])
        if self.factors is not None:
            x = zoom(x, self.factors[step])
        return x
