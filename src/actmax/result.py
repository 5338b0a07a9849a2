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


@dataclass
class VisualizationResult:
    """One row per visualization.

    inputs: (N, C, H, W) raw optimized inputs on the CPU, exactly what was scored.
    images: (N, H, W, C) display images in [0, 1] (keras-vis recipe: its contrast stretch).
    activations: (N,) each row's objective value on `inputs`.
    history: per-iteration arrays (iterations, N): "objective", "tv", "lp", "loss"; entry t was
        measured on the input before update t + 1.
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

    def __getitem__(self, index: int | slice) -> VisualizationResult:
        """A one-row result (or several rows for a slice)."""
        rows = index if isinstance(index, slice) else _row(index, len(self))
        pick = list(range(len(self)))[rows]
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
        """A titled grid of the display images, the activation reached under each."""
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

        path: the file. cols: images per row (default: about square). title: above the grid.
        overwrite: replace an existing file; without it an existing file is refused.
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
    """An animation of (N, H, W, C) display frames in [0, 1], every frame a grid of the rows."""
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
