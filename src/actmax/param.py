"""Parametrizations: how the optimized tensor becomes the image the model sees.

A parametrization is a small, stateless object. The engine asks it for the tensor to optimize
(`init`), maps that tensor to an image in the model's input range on every step (`image`), and
lets it mend the tensor after every update (`project`). `scale` tells an optimizer how many units
of the tensor move the image across its whole range, so one learning rate means the same on
every parametrization.

=================  ==========================================================================
`Pixels()`         the image itself, clamped into the input range after every step
`Pixels(clamp=     the image itself, unbounded while optimizing (keras-vis)
False)`
`Sigmoid()`        logits of the image: `lo + (hi - lo) * sigmoid(z)`, bounded without clamping
`Fourier()`        a 1/f-scaled spectrum per channel, colour-decorrelated for 3 channels, then a
                   sigmoid into the range (Lucid's `fft_image` + `to_valid_rgb`)
`Latent(G, shape)` a latent code z, image = G(z): a learned image prior
=================  ==========================================================================

Every parametrization starts from the same seed images (keras-vis' noise by default), so they
can be compared from one starting point; `Latent` starts from codes drawn from its prior.
To add one, subclass `Parametrization` and implement `init` and `image`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .adapters.base import preserved_state
from .errors import ActmaxError

Range = tuple[float, float]

__all__ = [
    "Canvas",
    "COLOR_CORRELATION",
    "Fourier",
    "Latent",
    "Parametrization",
    "Pixels",
    "Sigmoid",
    "decorrelate_colors",
    "default_seed",
    "recorrelate_colors",
]


def default_seed(
    shape: Sequence[int], input_range: Range, generator: torch.Generator
) -> torch.Tensor:
    """keras-vis' `random_array`: uniform noise standardized to mean mid-range and std 5% of
    the range (values within about +-8.7% of the range around its middle)."""
    lo, hi = input_range
    noise = torch.rand(tuple(shape), generator=generator, dtype=torch.float64)
    noise = (noise - noise.mean()) / (noise.std(unbiased=False) + 1e-7)
    return noise * (0.05 * (hi - lo)) + (lo + hi) / 2


@dataclass(frozen=True)
class Canvas:
    """What every image of a run is: its shape (C, H, W) and the model's input range."""

    shape: tuple[int, ...]
    input_range: Range


class Parametrization(ABC):
    """How an optimized tensor (one row per image) becomes images in the input range."""

    #: whether `seed_input` holds start images (else: whatever `init` documents, e.g. codes)
    takes_images: bool = True

    def init(
        self,
        canvas: Canvas,
        generators: Sequence[torch.Generator],
        dtype: torch.dtype,
        seed_input: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The tensor to optimize, on the CPU: it maps to `seed_input` (N, C, H, W) when given,
        else to keras-vis' noise drawn from each row's generator (`default_seed`)."""
        if seed_input is None:
            seeds = [default_seed(canvas.shape, canvas.input_range, g) for g in generators]
            seed_input = torch.stack(seeds).to(dtype)
        return self.from_image(seed_input, canvas)

    def from_image(self, x: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        """The tensor that maps to the images `x` (where the parametrization can reach them)."""
        raise ActmaxError(f"{type(self).__name__} cannot start from given images")

    @abstractmethod
    def image(self, raw: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        """Images (N, C, H, W) in the input range from the optimized tensor."""

    def project(self, raw: torch.Tensor, canvas: Canvas) -> None:  # noqa: B027 - optional
        """Mend the tensor in place after an update (e.g. clamp it into the range)."""

    def scale(self, canvas: Canvas) -> float:
        """Units of the optimized tensor that move the image across its whole range."""
        return 1.0

    @contextmanager
    def ready(self, device: torch.device) -> Iterator[None]:
        """Set up for a run on `device` (e.g. freeze a generator), restored afterwards."""
        yield


class Pixels(Parametrization):
    """The image itself. With `clamp` (the default) it is kept inside the input range."""

    def __init__(self, clamp: bool = True):
        self.clamp = clamp

    def __repr__(self) -> str:
        return f"Pixels(clamp={self.clamp})"

    def from_image(self, x: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        return x.clamp(*canvas.input_range) if self.clamp else x.clone()

    def image(self, raw: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        return raw

    def project(self, raw: torch.Tensor, canvas: Canvas) -> None:
        if self.clamp:
            raw.clamp_(*canvas.input_range)

    def scale(self, canvas: Canvas) -> float:
        lo, hi = canvas.input_range
        return hi - lo


class Sigmoid(Parametrization):
    """Logits of the image, `x = lo + (hi - lo) * sigmoid(z)`: bounded, never clamped."""

    #: how far start images may sit from the range's ends, so that their logits stay finite
    MARGIN = 1e-4

    def __repr__(self) -> str:
        return "Sigmoid()"

    def from_image(self, x: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        return torch.logit(_unit(x, canvas.input_range).clamp(self.MARGIN, 1 - self.MARGIN))

    def image(self, raw: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        lo, hi = canvas.input_range
        return lo + (hi - lo) * torch.sigmoid(raw)

    def scale(self, canvas: Canvas) -> float:
        return 4.0  # the sigmoid's slope is 1/4 at its middle


# The square root of the colour covariance of ImageNet images (U·sqrt(S) of its SVD), as Lucid
# uses it; scaled so that its largest column has norm 1.
_SVD_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR_CORRELATION = _SVD_SQRT / np.linalg.norm(_SVD_SQRT, axis=0).max()


def recorrelate_colors(x: torch.Tensor) -> torch.Tensor:
    """Map decorrelated colour channels to RGB: `rgb = M @ c` at every pixel, with
    `M = COLOR_CORRELATION`. Independent unit noise in `c` becomes noise whose colour
    covariance is `M @ M.T`, proportional to that of natural images."""
    m = torch.as_tensor(COLOR_CORRELATION, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,nj...->ni...", m, x)


def decorrelate_colors(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `recorrelate_colors`."""
    m = torch.as_tensor(np.linalg.inv(COLOR_CORRELATION), dtype=x.dtype, device=x.device)
    return torch.einsum("ij,nj...->ni...", m, x)


class Fourier(Parametrization):
    """Lucid's `fft_image` with `to_valid_rgb`: per channel, a spectrum whose frequency f is
    scaled by `1 / max(f, 1/size) ** decay`, so that a step changes coarse structure more than
    fine detail; for 3 channels the colours are decorrelated (`recorrelate_colors`), so that a
    step changes brightness more than hue; a sigmoid maps the result into the input range.

    Both are priors: images with natural statistics (smooth, colours correlated) are reached
    in few steps, unnatural ones slowly. On a linear unit with white-noise RGB weights, 200 steps
    reach about 95% of the box optimum with decorrelation and 98% without (the pixel and sigmoid
    parametrizations: over 99.8%); on smooth weights, over 99%.

    The optimized tensor is the real and imaginary parts of the scaled spectrum (N, C, H,
    W//2 + 1, 2). `from_image` inverts the map exactly (up to rounding), so a run can start from
    any image strictly inside the range.
    """

    #: Lucid's normalization of the inverse FFT's output before the sigmoid
    MAGIC = 4.0

    def __init__(self, decay: float = 1.0, decorrelate: bool = True):
        if not decay >= 0:
            raise ActmaxError(f"the spectrum's decay must be >= 0, got {decay}")
        self.decay = float(decay)
        self.decorrelate = decorrelate

    def __repr__(self) -> str:
        return f"Fourier(decay={self.decay:g}, decorrelate={self.decorrelate})"

    def _spectrum_scale(self, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
        fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
        fx = torch.fft.rfftfreq(w, dtype=torch.float64)[None, :]
        freqs = (fx.square() + fy.square()).sqrt()
        scale = 1.0 / freqs.clamp_min(1.0 / max(h, w)) ** self.decay
        return scale.to(like.device, like.dtype)[..., None]  # (H, W//2+1, 1): real and imag

    def _colors(self, x: torch.Tensor) -> bool:
        return self.decorrelate and x.shape[1] == 3

    def from_image(self, x: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        if x.dim() != 4:
            raise ActmaxError(f"the Fourier parametrization needs (N, C, H, W), got {x.shape}")
        unit = _unit(x.to(torch.float64), canvas.input_range)
        spatial = torch.logit(unit.clamp(Sigmoid.MARGIN, 1 - Sigmoid.MARGIN)) * self.MAGIC
        if self._colors(spatial):
            spatial = decorrelate_colors(spatial)
        spectrum = torch.view_as_real(torch.fft.rfft2(spatial, norm="ortho"))
        h, w = x.shape[-2:]
        return (spectrum / self._spectrum_scale(h, w, spectrum)).to(x.dtype)

    def image(self, raw: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        h, w = canvas.shape[-2:]
        spectrum = torch.view_as_complex((raw * self._spectrum_scale(h, w, raw)).contiguous())
        spatial = torch.fft.irfft2(spectrum, s=(h, w), norm="ortho")
        if self._colors(spatial):
            spatial = recorrelate_colors(spatial)
        lo, hi = canvas.input_range
        return lo + (hi - lo) * torch.sigmoid(spatial / self.MAGIC)

    def scale(self, canvas: Canvas) -> float:
        """A step of this size in every coefficient moves a pixel's logit by about 4, as
        `Sigmoid`'s unit does (Parseval: the pixels move by the spectrum scale's RMS)."""
        h, w = canvas.shape[-2:]
        rms = self._spectrum_scale(h, w, torch.zeros((), dtype=torch.float64)).square().mean()
        return 4.0 * self.MAGIC / float(rms.sqrt())


class Latent(Parametrization):
    """A latent code per row, image = `generator(z)`: the generator's output is the image, in
    the model's input range, shaped (N, C, H, W). Codes start from the prior, N(0, std^2),
    drawn from each row's generator (or from `seed_input`, given as codes (N, *shape)).

    Keep z near its prior with `regularizers.LatentPrior`: far from it the generator draws
    things it never learned. The generator is frozen (eval mode, no parameter gradients) for
    the call and restored afterwards.
    """

    takes_images = False

    def __init__(self, generator: nn.Module, shape: Sequence[int], std: float = 1.0):
        if not isinstance(generator, nn.Module):
            raise ActmaxError(f"the generator must be a torch module, got {type(generator)}")
        self.generator = generator
        self.shape = tuple(int(s) for s in shape)
        self.std = float(std)

    def __repr__(self) -> str:
        return f"Latent({type(self.generator).__name__}, shape={self.shape}, std={self.std:g})"

    def init(self, canvas, generators, dtype, seed_input=None):
        if seed_input is not None:
            z = torch.as_tensor(seed_input).to(dtype)
            if tuple(z.shape[1:]) != self.shape or z.shape[0] != len(generators):
                raise ActmaxError(
                    f"seed_input for a latent parametrization holds codes "
                    f"({len(generators)}, {', '.join(map(str, self.shape))}), got {tuple(z.shape)}"
                )
            return z.clone()
        codes = [torch.randn(self.shape, generator=g, dtype=torch.float64) for g in generators]
        return (torch.stack(codes) * self.std).to(dtype)

    def image(self, raw: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        return self.generator(raw)

    def scale(self, canvas: Canvas) -> float:
        return self.std

    @contextmanager
    def ready(self, device: torch.device) -> Iterator[None]:
        for tensor in self.generator.parameters():
            if tensor.device.type != device.type:
                raise ActmaxError(
                    f"the generator is on {tensor.device} but the run is on {device}: move it "
                    "there first (generator.to(device))"
                )
            break
        with preserved_state(self.generator):
            self.generator.eval()
            for param in self.generator.parameters():
                param.requires_grad_(False)
            yield


def _unit(x: torch.Tensor, input_range: Range) -> torch.Tensor:
    lo, hi = input_range
    return (x - lo) / (hi - lo)
