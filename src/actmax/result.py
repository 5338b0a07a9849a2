"""What `visualize()` returns: the optimized inputs, their display images and how they got there."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import ActmaxError
from .io import save_figure, write_atomic
from .objectives import Objective
from .plots.grid import image_grid, tile

__all__ = ["VisualizationResult", "write_gif"]


@dataclass
class VisualizationResult:
    """What `visualize()` returns: one row per visualization.

    `result[i]` is a one-row result, `result[i:j]` several rows; `len(result)` is the number
    of rows.

    Attributes:
        inputs: (N, C, H, W) raw optimized inputs on the CPU, exactly what was scored.
        images: (N, H, W, C) display images in [0, 1] (keras-vis recipe: its contrast stretch).
        activations: (N,) each row's objective value on `inputs`.
        history: per-iteration arrays (iterations, N): "objective", one per regularizer by name
            (e.g. "tv", "lp"), and "loss"; entry t was measured on the input before update
            t + 1.
        titles: one title per row (by default the objectives as text).
        objectives: each row's objective.
        recipe: the name of the recipe the rows were made with.
        input_range: (lo, hi), the model's input range the inputs lie in.
        seeds: each row's seed.
    """

    inputs: torch.Tensor
    images: np.ndarray
    activations: np.ndarray
    history: dict[str, np.ndarray]
    titles: list[str]
    objectives: list[Objective]
    recipe: str = "actmax"
    input_range: tuple[float, float] = (0.0, 1.0)
    seeds: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.titles)

    def __getitem__(self, index: int | slice | Sequence[int]) -> VisualizationResult:
        """A one-row result, or several rows for a slice or a list of row numbers (in its
        order)."""
        n = len(self)
        if isinstance(index, slice):
            rows, pick = index, list(range(n))[index]
        elif isinstance(index, Sequence | np.ndarray):
            pick = [_row(int(i), n).start for i in index]
            rows = pick
        else:
            rows = _row(index, n)
            pick = [rows.start]
        return VisualizationResult(
            inputs=self.inputs[rows],
            images=self.images[rows],
            activations=self.activations[rows],
            history={k: v[:, rows] for k, v in self.history.items()},
            titles=[self.titles[i] for i in pick],
            objectives=[self.objectives[i] for i in pick],
            recipe=self.recipe,
            input_range=self.input_range,
            seeds=[self.seeds[i] for i in pick] if self.seeds else [],
        )

    def __repr__(self) -> str:
        return (
            f"VisualizationResult({len(self)} rows, recipe={self.recipe!r}, "
            f"inputs={tuple(self.inputs.shape)})"
        )

    def plot(self, cols: int | None = None, title: str | None = None, cmap: str = "gray"):
        """A titled grid of the display images, the activation reached under each.

        Args:
            cols: images per row (default: about square).
            title: a title above the grid.
            cmap: the matplotlib colour map of one-channel images.

        Returns:
            A matplotlib figure.
        """
        captions = [f"activation {a:.4g}" for a in self.activations]
        return image_grid(self.images, self.titles, captions, cols=cols, title=title, cmap=cmap)

    def save(
        self,
        path: str | os.PathLike,
        cols: int | None = None,
        title: str | None = None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write the grid figure (PNG, or any format matplotlib knows by the suffix), atomically.

        Args:
            path: the file.
            cols: images per row (default: about square).
            title: a title above the grid.
            overwrite: replace an existing file; without it an existing file is refused.

        Returns:
            The path written.
        """
        if Path(path).exists() and not overwrite:
            raise ActmaxError(f"{path} already exists; pass overwrite=True to replace it")
        return save_figure(self.plot(cols=cols, title=title), path)


def _row(index: int, n: int) -> slice:
    if not -n <= index < n:
        raise IndexError(f"row {index} out of range for a result of {n} rows")
    index %= n
    return slice(index, index + 1)


def write_gif(
    frames: Sequence[np.ndarray], path: str | os.PathLike, duration_ms: int = 80, zoom: int = 1
) -> Path:
    """An animated GIF of display frames, every frame a grid of the rows, written atomically.

    Args:
        frames: the frames, each (N, H, W, C) display images in [0, 1].
        path: the file.
        duration_ms: how long each frame is shown (the last one at least a second).
        zoom: an integer factor to enlarge small images by.
    """
    from PIL import Image

    pictures = []
    for frame in frames:
        grid = tile(np.asarray(frame))
        pixels = np.round(grid * 255).astype(np.uint8)
        if zoom > 1:
            pixels = pixels.repeat(zoom, axis=0).repeat(zoom, axis=1)
        pictures.append(Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels))
    last = max(duration_ms, 1000)  # linger on the result

    def writer(tmp: Path) -> None:
        pictures[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=pictures[1:],
            duration=[duration_ms] * (len(pictures) - 1) + [last],
            loop=0,
        )

    return write_atomic(path, writer)
