"""keras-vis' `vis.callbacks`: watch the optimization, step by step.

A callback's `callback(i, named_losses, overall_loss, grads, wrt_value)` runs after each step's
gradient (actmax's engine calls it through its `callback(Step)` and the update rule):
`named_losses` is keras-vis' list of `(loss name, weight * value)`, `overall_loss` their sum,
`grads` the gradient as the update uses it (L2-normalized, then `grad_modifier`) and `wrt_value`
the input that was scored, both numpy arrays with a batch axis in the model's layout
(channels-last for a Keras model, channels-first for a PyTorch model). `on_end()` runs once at
the end.
"""

from __future__ import annotations

import contextvars
import os
import pprint
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ActmaxError
from ...io import write_atomic
from .utils import utils

__all__ = ["GifGenerator", "OptimizerCallback", "Print"]

_CHANNELS_LAST: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "actmax_compat_channels_last", default=True
)


@contextmanager
def model_layout(channels_last: bool) -> Iterator[None]:
    """Within the block, callbacks' arrays are in this layout (set by the optimizer)."""
    token = _CHANNELS_LAST.set(channels_last)
    try:
        yield
    finally:
        _CHANNELS_LAST.reset(token)


class OptimizerCallback:
    """Base class: implement `callback`; `on_end` is optional."""

    def callback(self, i, named_losses, overall_loss, grads, wrt_value) -> None:
        """Called after every step's forward and backward pass.

        Args:
            i: the step, from 0.
            named_losses: (name, value) of every loss at this step.
            overall_loss: `sum(weight * loss)` at this step.
            grads: the gradient with respect to `wrt_value`, with the batch axis, in the
                model's layout.
            wrt_value: the input (or `wrt_tensor`'s value) at this step, likewise.
        """
        raise NotImplementedError()

    def on_end(self) -> None:
        """Called once when the optimization ends (e.g. to close files)."""


class Print(OptimizerCallback):
    """Print every step's losses (keras-vis' `verbose=True`)."""

    def callback(self, i, named_losses, overall_loss, grads, wrt_value) -> None:
        print(
            f"Iteration: {i + 1}, named_losses: {pprint.pformat(named_losses)}, "
            f"overall loss: {overall_loss}"
        )


class GifGenerator(OptimizerCallback):
    """An animated GIF of the optimized input, one frame per step, labelled "Step i".

    Each frame is keras-vis' contrast stretch of the input (`utils.deprocess_input`) in 8 bits.
    The file is written at the end, whole or not at all; an existing file is replaced only with
    `overwrite=True` (keras-vis replaced it silently).

    Args:
        path: the file (".gif" is added when it is missing).
        input_range: the model's input range.
        overwrite: replace an existing file.
    """

    def __init__(self, path: str | os.PathLike, input_range=(0, 255), overwrite: bool = False):
        path = os.fspath(path)
        if not path.endswith(".gif"):
            path += ".gif"
        if Path(path).exists() and not overwrite:
            raise ActmaxError(f"{path} already exists; pass overwrite=True to replace it")
        self.path = Path(path)
        self.input_range = input_range
        self.frames: list[np.ndarray] = []

    def callback(self, i, named_losses, overall_loss, grads, wrt_value) -> None:
        image = np.asarray(wrt_value)[0]
        if image.ndim >= 3 and not _CHANNELS_LAST.get():
            image = np.moveaxis(image, 0, -1)
        frame = np.clip(utils.deprocess_input(image, (0, 255)), 0, 255).astype(np.uint8)
        if frame.ndim == 3 and frame.shape[-1] in (1, 3):
            frame = utils.draw_text(frame, f"Step {i + 1}")
        self.frames.append(frame)

    def on_end(self) -> None:
        if not self.frames:
            return
        from PIL import Image

        pictures = [Image.fromarray(_pillow(frame)) for frame in self.frames]

        def writer(tmp: Path) -> Any:
            pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], loop=1)

        write_atomic(self.path, writer)
        self.frames = []


def _pillow(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3 and frame.shape[-1] == 1:
        return frame[..., 0]
    if frame.ndim == 1:
        return frame[None]
    return frame
