"""What the keras-vis functions share: input images, ranges, layouts and jet colouring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps

from ...adapters import ModelAdapter
from ...errors import ActmaxError


def as_batch(seed_input: Any, adapter: ModelAdapter) -> torch.Tensor:
    """One input (or a batch) as a channels-first batch, moving a channels-last axis (keras-vis
    adds the batch axis and moves the channel axis where it does not fit)."""
    x = np.asarray(seed_input, dtype=np.float32)
    expected = tuple(adapter.input_shape) if adapter.input_shape is not None else None
    if expected is None:
        return torch.from_numpy(x if x.ndim > 3 else x[None])
    if x.ndim == len(expected):
        x = x[None]
    if x.shape[1:] != expected and x.ndim == len(expected) + 1:
        moved = np.moveaxis(x, -1, 1)
        if moved.shape[1:] == expected:
            x = moved
    if x.shape[1:] != expected:
        channels_last = (*expected[1:], expected[0]) if len(expected) > 1 else expected
        raise ActmaxError(
            f"seed_input has shape {np.shape(seed_input)}; this model takes inputs of shape "
            f"{channels_last} (channels-last) or {expected} (channels-first)"
        )
    return torch.from_numpy(np.ascontiguousarray(x))


def layout(adapter: ModelAdapter) -> bool:
    """Whether the model takes channels-last input (a Keras model, as Keras has it)."""
    return bool(getattr(adapter, "channels_last", False))


def jet(heatmap: np.ndarray) -> np.ndarray:
    """keras-vis (fork): `np.uint8(cm.jet(heatmap)[..., :3] * 255)`."""
    return np.uint8(colormaps["jet"](heatmap)[..., :3] * 255)


def check_range(input_range: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = input_range
    except (TypeError, ValueError):
        raise ActmaxError(f"input_range is (low, high), got {input_range!r}") from None
    if not hi > lo:
        raise ActmaxError(f"input_range needs low < high, got {input_range!r}")
    return lo, hi


def integer_range(input_range: Sequence[float]) -> bool:
    """keras-vis returns uint8 images when both bounds are Python ints."""
    return isinstance(input_range[0], int) and isinstance(input_range[1], int)
