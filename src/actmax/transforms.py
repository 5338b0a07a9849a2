"""Random transforms applied to the image inside the forward pass (transformation robustness).

Each step shows the model a randomly transformed view of the optimized image, and gradients
flow back through the transform, so the image cannot rely on exact pixel positions (Lucid's
`transform` module). The image itself stays put: keras-vis' `Jitter` rolled the stored image,
which then random-walked on a torus.

A transform is a small object in a list, applied in order:

    transforms=[Pad(4), Jitter(4), Scale((0.9, 1.1)), Rotate(10), Blur((0.5, 1.0)), Jitter(2)]

Every random draw of a run is made up front from each row's own generator, in list order, so a
row sees the same transforms whether it is optimized alone or in a batch. `until` switches a
transform off after that fraction of the steps (to polish the untransformed image at the end).

To add one, subclass `Transform`: `draw` makes one row's draws for every step (or returns
None), `apply` transforms a batch given each row's draws for the current step.
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
    "Blur",
    "Jitter",
    "Pad",
    "Rotate",
    "Scale",
    "Transform",
    "Transforms",
    "blur",
    "rotate",
    "shift",
    "standard",
    "zoom",
]


class Transform(ABC):
    """A differentiable, possibly random map of a batch of images (N, C, *spatial).

    Attributes:
        until: the fraction of the steps after which the transform is switched off.
    """

    until: float = 1.0

    def draw(
        self, generator: torch.Generator, iterations: int, row: int, shape: tuple[int, ...]
    ) -> torch.Tensor | None:
        """One row's random draws for every step, shape (iterations, ...); None: this
        transform draws nothing.

        Args:
            generator: the row's own random generator.
            iterations: the number of steps of the run.
            row: the row's position in the batch (for values given per row).
            shape: one image's shape (C, *spatial).
        """
        return None

    @abstractmethod
    def apply(self, x: torch.Tensor, draws: torch.Tensor | None) -> torch.Tensor:
        """The transformed images.

        Args:
            x: images (N, C, *spatial).
            draws: each row's draws for this step, (N, ...), or None when `draw` makes none.
        """

    def _check_until(self) -> None:
        if not 0.0 <= self.until <= 1.0:
            raise ActmaxError(f"until is a fraction of the steps in [0, 1], got {self.until}")


def _per_row(value, row: int):
    return value[row] if isinstance(value, Sequence) and not isinstance(value, str) else value


def _uniform(generator: torch.Generator, iterations: int, lo: float, hi: float) -> torch.Tensor:
    """One draw per step, uniform in [lo, hi], from a row's generator."""
    return lo + (hi - lo) * torch.rand(iterations, generator=generator, dtype=torch.float64)


def _range(value, what: str, symmetric: bool) -> tuple[float, float]:
    """A number `a` as (-a, a) (or (a, a)), or a pair (lo, hi) as it is."""
    if isinstance(value, int | float):
        lo, hi = (-float(value), float(value)) if symmetric else (float(value), float(value))
    else:
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ActmaxError(f"{what} is a number or a pair (lo, hi), got {value!r}") from None
    if not lo <= hi:
        raise ActmaxError(f"{what} needs lo <= hi, got {value!r}")
    return lo, hi


@dataclass(frozen=True)
class Jitter(Transform):
    """Shift each image by a random whole number of pixels along every spatial axis, wrapping
    around the border (exact, no resampling).

    Args:
        pixels: the largest shift: shifts are drawn from [-pixels, pixels]; one value, or one
            per row.
        until: the fraction of the steps after which the transform is switched off.
    """

    pixels: int | Sequence[int] = 3
    until: float = 1.0

    def __post_init__(self):
        values = self.pixels if isinstance(self.pixels, Sequence) else [self.pixels]
        if any(isinstance(j, bool) or int(j) != j or j < 0 for j in values):
            raise ActmaxError(f"jitter is a whole number of pixels >= 0, got {self.pixels!r}")
        self._check_until()

    def draw(self, generator, iterations, row, shape):
        j = int(_per_row(self.pixels, row))
        return torch.randint(-j, j + 1, (iterations, len(shape) - 1), generator=generator)

    def apply(self, x, draws):
        return shift(x, draws)


@dataclass(frozen=True)
class Pad(Transform):
    """Pad every side (Lucid pads before jittering, so that shifts do not wrap the image's own
    border into view). The model sees a larger image: only for models that take any size.

    Args:
        pixels: the padding on every side.
        mode: "constant" (with `value`), "reflect" or "replicate".
        value: the fill value of "constant" padding.
        until: the fraction of the steps after which the transform is switched off.
    """

    pixels: int = 4
    mode: str = "reflect"
    value: float = 0.0
    until: float = 1.0

    def __post_init__(self):
        if self.mode not in ("constant", "reflect", "replicate"):
            raise ActmaxError(f"pad mode is constant, reflect or replicate, not {self.mode!r}")
        if int(self.pixels) != self.pixels or self.pixels < 0:
            raise ActmaxError(f"pad is a whole number of pixels >= 0, got {self.pixels!r}")
        self._check_until()

    def apply(self, x, draws):
        p = int(self.pixels)
        pad = (p, p) * (x.dim() - 2)
        if self.mode == "constant":
            return F.pad(x, pad, mode="constant", value=self.value)
        return F.pad(x, pad, mode=self.mode)


@dataclass(frozen=True)
class Scale(Transform):
    """Scale each image about its centre by a random factor (bilinear, border pixels repeated).

    Args:
        factors: (lo, hi), the range the factor is drawn from uniformly.
        until: the fraction of the steps after which the transform is switched off.
    """

    factors: tuple[float, float] = (0.9, 1.1)
    until: float = 1.0

    def __post_init__(self):
        lo, hi = _range(self.factors, "scale", symmetric=False)
        if not lo > 0:
            raise ActmaxError(f"scale is a range (lo, hi) with 0 < lo <= hi, got {self.factors}")
        self._check_until()

    def draw(self, generator, iterations, row, shape):
        return _uniform(generator, iterations, *_range(self.factors, "scale", symmetric=False))

    def apply(self, x, draws):
        return zoom(x, draws.to(x.dtype))


@dataclass(frozen=True)
class Rotate(Transform):
    """Rotate each image about its centre by a random angle (bilinear, border pixels repeated).

    Args:
        degrees: the angle is drawn uniformly from [-degrees, degrees], or from a pair
            (lo, hi).
        until: the fraction of the steps after which the transform is switched off.
    """

    degrees: float | tuple[float, float] = 10.0
    until: float = 1.0

    def __post_init__(self):
        _range(self.degrees, "rotate", symmetric=True)
        self._check_until()

    def draw(self, generator, iterations, row, shape):
        return _uniform(generator, iterations, *_range(self.degrees, "rotate", symmetric=True))

    def apply(self, x, draws):
        return rotate(x, draws.to(x.dtype))


@dataclass(frozen=True)
class Blur(Transform):
    """Gaussian blur; reflect padding keeps the size.

    Args:
        sigma: the standard deviation in pixels: drawn uniformly from a pair (lo, hi), or
            fixed (a number).
        until: the fraction of the steps after which the transform is switched off.
    """

    sigma: float | tuple[float, float] = (0.5, 1.0)
    until: float = 1.0

    def __post_init__(self):
        lo, _ = _range(self.sigma, "blur sigma", symmetric=False)
        if not lo >= 0:
            raise ActmaxError(f"blur sigma must be >= 0, got {self.sigma!r}")
        self._check_until()

    def draw(self, generator, iterations, row, shape):
        return _uniform(generator, iterations, *_range(self.sigma, "blur sigma", symmetric=False))

    def apply(self, x, draws):
        _, hi = _range(self.sigma, "blur sigma", symmetric=False)
        return blur(x, draws.to(x.dtype), radius=max(1, math.ceil(3 * hi)))


def standard(size: int) -> list[Transform]:
    """Lucid's standard transforms: pad, jitter, scale, rotate, jitter. The padding grows the
    image the model sees, as in Lucid: for convolutional models that take any size.

    Args:
        size: the image's size in pixels; the pixel amounts are scaled from Lucid's, which
            are for 224.
    """
    k = size / 224
    return [
        Pad(max(1, round(12 * k)), mode="constant", value=0.5),
        Jitter(max(1, round(8 * k))),
        Scale((0.9, 1.1)),
        Rotate(10),
        Jitter(max(1, round(4 * k))),
    ]


class Transforms:
    """A list of transforms with every row's draws for a whole run, made up front.

    Calling it, `transforms(x, step)`, applies the transforms active at `step` to images `x`.

    Args:
        transforms: the transforms, applied in order.
        generators: one random generator per row; draws are made from them in list order.
        iterations: the number of steps of the run.
        shape: one image's shape (C, *spatial).
        device: where the draws are kept.
    """

    def __init__(
        self,
        transforms: Sequence[Transform],
        generators: Sequence[torch.Generator],
        iterations: int,
        shape: tuple[int, ...],
        device: torch.device | str = "cpu",
    ):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not isinstance(t, Transform):
                raise ActmaxError(f"transforms must be Transform objects, got {t!r}")
        self.iterations = iterations
        self.active_until = [math.ceil(t.until * iterations) for t in self.transforms]
        self.draws: list[torch.Tensor | None] = []
        for t in self.transforms:
            rows = [t.draw(g, iterations, row, tuple(shape)) for row, g in enumerate(generators)]
            # (T, N, ...) so that one step's draws are one slice, already on the device
            self.draws.append(None if rows[0] is None else torch.stack(rows, 1).to(device))

    @property
    def enabled(self) -> bool:
        return bool(self.transforms)

    def select(self, rows: slice) -> Transforms:
        """The same draws for a slice of the rows.

        Args:
            rows: the rows to keep.
        """
        part = object.__new__(Transforms)
        part.transforms, part.iterations = self.transforms, self.iterations
        part.active_until = self.active_until
        part.draws = [d[:, rows] if d is not None else None for d in self.draws]
        return part

    def active(self, step: int) -> bool:
        """Whether any transform is still switched on.

        Args:
            step: the step, from 0.
        """
        return any(step < until for until in self.active_until)

    def __call__(self, x: torch.Tensor, step: int) -> torch.Tensor:
        for t, until, draws in zip(self.transforms, self.active_until, self.draws, strict=True):
            if step < until:
                x = t.apply(x, draws[step] if draws is not None else None)
        return x


def shift(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Roll every image by its own whole-pixel offsets, wrapping around the border.
    Differentiable (one gather over the flattened image), exact.

    Args:
        x: images (N, C, *spatial).
        offsets: integer shifts (N, len(spatial)), one per row and spatial axis.
    """
    n, c, *sizes = x.shape
    if not sizes:  # a vector input has no positions to shift
        return x
    index = None
    for axis, length in enumerate(sizes):
        positions = torch.arange(length, device=x.device)
        along = (positions[None, :] - offsets[:, axis : axis + 1]) % length  # (N, L)
        along = along.view([n] + [length if a == axis else 1 for a in range(len(sizes))])
        index = along if index is None else index * length + along
    flat = index.reshape(n, 1, -1).expand(n, c, -1)
    return torch.gather(x.reshape(n, c, -1), 2, flat).view_as(x)


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    if x.dim() != 4:
        raise ActmaxError(f"scaling and rotation need images (N, C, H, W), got {tuple(x.shape)}")
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def zoom(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Scale every image about its centre by its own factor (bilinear, border pixels
    repeated). Differentiable.

    Args:
        x: images (N, C, H, W).
        factors: one factor per row, (N,).
    """
    theta = x.new_zeros(x.shape[0], 2, 3)
    theta[:, 0, 0] = 1.0 / factors
    theta[:, 1, 1] = 1.0 / factors
    return _affine(x, theta)


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate every image about its centre by its own angle (counter-clockwise as shown;
    bilinear, border pixels repeated). Differentiable.

    Args:
        x: images (N, C, H, W).
        degrees: one angle per row in degrees, (N,).
    """
    h, w = x.shape[-2:]
    a = torch.deg2rad(degrees)
    cos, sin = torch.cos(a), torch.sin(a)
    theta = x.new_zeros(x.shape[0], 2, 3)
    # affine_grid works in normalized coordinates: correct for a non-square aspect ratio
    theta[:, 0, 0] = cos
    theta[:, 0, 1] = -sin * h / w
    theta[:, 1, 0] = sin * w / h
    theta[:, 1, 1] = cos
    return _affine(x, theta)


def blur(x: torch.Tensor, sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """Gaussian blur of every image with its own standard deviation, as two separable passes
    of a (2 * radius + 1)-tap kernel; reflect padding. Differentiable.

    Args:
        x: images (N, C, H, W).
        sigma: one standard deviation per row in pixels, (N,).
        radius: the kernel's half-width in pixels.
    """
    n, c, h, w = x.shape
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    safe = sigma.clamp_min(1e-3)[:, None]
    kernel = torch.exp(-0.5 * (taps[None, :] / safe) ** 2)
    kernel = kernel / kernel.sum(1, keepdim=True)  # (N, K)
    kernel = kernel.repeat_interleave(c, 0)  # one kernel per (row, channel)
    flat = x.reshape(1, n * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * c)
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * c)
    return flat.view(n, c, h, w)
