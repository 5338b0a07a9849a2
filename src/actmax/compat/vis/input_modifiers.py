"""keras-vis' `vis.input_modifiers`: changes to the optimized input around every step.

keras-vis calls `pre(img)` on the stored image before each step and `post(img)` after it, on
numpy arrays in the model's layout. In actmax:

- `Jitter` becomes actmax's `transforms.Jitter`: every step the model sees the image shifted by
  a random whole number of pixels (wrapping around), and the stored image stays put. keras-vis
  rolled the stored image itself, which then random-walked on a torus and came back at an
  arbitrary offset. The shifts are drawn from the call's seed.
- Any other `InputModifier` (a user's subclass) runs as keras-vis ran it: `pre` on the stored
  image before each step, `post` after it, on numpy arrays (batch first, the model's layout).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...param import Canvas, Parametrization, Pixels
from ...transforms import Jitter as JitterTransform
from ...transforms import Transform, shift
from .utils import utils

__all__ = ["InputModifier", "Jitter"]


class InputModifier:
    """A change to the optimized input: `pre` before each step, `post` after it."""

    def pre(self, inp: np.ndarray) -> np.ndarray:
        """The input before the step (default: unchanged).

        Args:
            inp: the stored input, a numpy batch in the model's layout.
        """
        return inp

    def post(self, inp: np.ndarray) -> np.ndarray:
        """The input after the step (default: unchanged).

        Args:
            inp: the stored input, a numpy batch in the model's layout.
        """
        return inp

    def transform(self, image_dims: Sequence[int]) -> Transform | None:
        """actmax's transform that replaces `pre`/`post`, or None to run `pre` and `post` on
        the stored image.

        Args:
            image_dims: the images' spatial sizes.
        """
        return None


class Jitter(InputModifier):
    """Random shifts of up to `jitter` along each image dimension (keras-vis' default 0.05).

    A value below 1 is a fraction of the dimension (`int(dim * value)` pixels), 1 or more is
    pixels; one value for every dimension or one per dimension.

    Args:
        jitter: the largest shift, a fraction or pixels; one value or one per dimension.
    """

    def __init__(self, jitter: float | Sequence[float] = 0.05):
        super().__init__()
        self.jitter = np.array(utils.listify(jitter), dtype=np.float64).ravel()
        if np.any(self.jitter < 0.0):
            raise ValueError("Jitter value should be positive")

    def pixels(self, image_dims: Sequence[int]) -> list[int]:
        """The jitter in whole pixels per image dimension (keras-vis' conversion).

        Args:
            image_dims: the images' spatial sizes.
        """
        jitter = self.jitter
        if len(jitter) == 1:
            jitter = np.repeat(jitter, len(image_dims))
        if len(jitter) != len(image_dims):
            raise RuntimeError(
                f"Jitter {list(self.jitter)}, does not match the number of image dims: "
                f"{len(image_dims)}"
            )
        values = [dim * j if j < 1.0 else j for dim, j in zip(image_dims, jitter, strict=True)]
        return [int(np.int32(v)) for v in values]

    def transform(self, image_dims: Sequence[int]) -> Transform | None:
        if type(self).pre is not Jitter.pre or type(self).post is not InputModifier.post:
            return None  # a subclass that changes the stored image runs as it is
        pixels = self.pixels(image_dims)
        if len(set(pixels)) == 1:
            return JitterTransform(pixels[0])
        return AxisJitter(tuple(pixels))

    def pre(self, img: np.ndarray) -> np.ndarray:
        """keras-vis' `pre`: roll the image by a random offset per image dimension.

        Args:
            img: the stored input, a numpy batch in the model's layout.
        """
        channels_last = utils.image_data_format() == "channels_last"
        dims = utils.get_img_shape(img)[2:]
        offsets = [np.random.randint(-p, p + 1) for p in self.pixels(dims)]
        axes = range(1, 1 + len(dims)) if channels_last else range(2, 2 + len(dims))
        return np.roll(img, offsets, axis=tuple(axes))


@dataclass(frozen=True)
class AxisJitter(Transform):
    """Shifts of up to `pixels[a]` along spatial axis `a` (wrapping around)."""

    pixels: tuple[int, ...]
    until: float = 1.0

    def draw(self, generator, iterations, row, shape):
        columns = [
            torch.randint(-p, p + 1, (iterations, 1), generator=generator) for p in self.pixels
        ]
        return torch.cat(columns, 1)

    def apply(self, x, draws):
        return shift(x, draws)


class ModifiedPixels(Parametrization):
    """keras-vis' unbounded pixels, with `pre` and `post` of input modifiers applied to the
    stored image around each step, as keras-vis applied them (numpy, the model's layout)."""

    def __init__(
        self,
        modifiers: Sequence[InputModifier],
        iterations: int,
        to_model: Callable[[torch.Tensor], torch.Tensor],
        from_model: Callable[[torch.Tensor], torch.Tensor],
    ):
        self.modifiers = list(modifiers)
        self.iterations = iterations
        self.to_model, self.from_model = to_model, from_model
        self._pixels = Pixels(clamp=False)
        self._steps = 0

    def init(self, canvas: Canvas, generators, dtype, seed_input=None) -> torch.Tensor:
        raw = self._pixels.init(canvas, generators, dtype, seed_input)
        self._steps = 0
        return self._apply(raw, [m.pre for m in self.modifiers])

    def image(self, raw: torch.Tensor, canvas: Canvas) -> torch.Tensor:
        return raw

    def project(self, raw: torch.Tensor, canvas: Canvas) -> None:
        self._steps += 1
        changes = [m.post for m in reversed(self.modifiers)]
        if self._steps < self.iterations:
            changes += [m.pre for m in self.modifiers]
        raw.copy_(self._apply(raw.detach(), changes))

    def scale(self, canvas: Canvas) -> float:
        return self._pixels.scale(canvas)

    def _apply(self, raw: torch.Tensor, changes: list[Callable[[Any], Any]]) -> torch.Tensor:
        if not changes:
            return raw
        array = self.to_model(raw).cpu().numpy()
        for change in changes:
            array = np.asarray(change(array), dtype=array.dtype)
        return self.from_model(torch.from_numpy(np.ascontiguousarray(array))).to(raw)
