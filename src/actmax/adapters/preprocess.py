"""Preprocessing in front of the model: the model gets normalized input, people see pixels.

Most models are trained on normalized inputs (torchvision and timm: ImageNet's mean and std per
channel). An adapter's `preprocess` is applied to every input before the model, inside the
differentiable path, so activation maximization optimizes and shows images in pixel space
(`input_range`, usually [0, 1]) and saliency maps stay in the image's own coordinates.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from numbers import Real

import torch

from ..errors import ActmaxError

Preprocess = Callable[[torch.Tensor], torch.Tensor]


class Normalize:
    """`(x - mean) / std` per channel of a channels-first batch (N, C, ...).

    mean, std: one number for every channel, or one per channel (e.g. ImageNet's
        `Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))` for RGB pixels in [0, 1]).
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]):
        self.mean = _numbers(mean, "mean")
        self.std = _numbers(std, "std")
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ActmaxError(
                f"mean has {len(self.mean)} values and std {len(self.std)}: give one per channel "
                "or one for all"
            )
        if any(s <= 0 for s in self.std):
            raise ActmaxError(f"std must be positive, got {self.std}")
        self._tensors: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self._lock = threading.Lock()

    @property
    def channels(self) -> int:
        """How many channels the statistics are for (1: the same for every channel)."""
        return max(len(self.mean), len(self.std))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The normalized batch. x: channels-first, (N, C, ...)."""
        if x.ndim < 2:
            raise ActmaxError(f"Normalize needs a batch (N, C, ...), got shape {tuple(x.shape)}")
        if self.channels != 1 and x.shape[1] != self.channels:
            raise ActmaxError(
                f"Normalize has statistics for {self.channels} channels, but the input has "
                f"{x.shape[1]} (shape {tuple(x.shape)})"
            )
        mean, std = self._on(x)
        return (x - mean) / std

    def _on(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = (x.device, x.dtype, x.ndim)
        found = self._tensors.get(key)
        if found is None:
            shape = (1, -1) + (1,) * (x.ndim - 2)
            found = tuple(
                torch.tensor(values, dtype=x.dtype, device=x.device).view(shape)
                for values in (self.mean, self.std)
            )
            with self._lock:
                self._tensors[key] = found
        return found

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Normalize) and (self.mean, self.std) == (other.mean, other.std)

    def __hash__(self) -> int:
        return hash((self.mean, self.std))

    def __getstate__(self) -> dict:
        return {"mean": self.mean, "std": self.std}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["mean"], state["std"])


def as_preprocess(value: object) -> Preprocess | None:
    """A preprocessing step from what a user gives: None, or any callable on a batch.

    value: None (no preprocessing), a `Normalize`, or any differentiable callable taking and
        returning a channels-first batch.
    """
    if value is None or callable(value):
        return value
    raise ActmaxError(
        f"preprocess must be a callable on a channels-first batch, such as "
        f"Normalize(mean, std); got {type(value).__name__}"
    )


def _numbers(values: float | Sequence[float], what: str) -> tuple[float, ...]:
    if isinstance(values, Real) and not isinstance(values, bool):
        values = [values]
    if isinstance(values, torch.Tensor):
        values = values.flatten().tolist()
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ActmaxError(
            f"{what} must be a number or one number per channel, got {values!r}"
        ) from None
    if not numbers or not all(math.isfinite(v) for v in numbers):
        raise ActmaxError(f"{what} must be finite numbers, got {values!r}")
    return numbers
