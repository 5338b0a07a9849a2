"""The atlas' pixels: display images, activation maps laid over real inputs, PNG files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..attribution import overlay_heatmap
from ..io import write_atomic

MAP_ALPHA = 0.5  # share of the heat map in an overlay


def to_display(x: np.ndarray, input_range: tuple[float, float]) -> np.ndarray:
    """Model inputs (..., C, H, W) mapped from `input_range` to [0, 1]."""
    lo, hi = input_range
    return np.clip((np.asarray(x, dtype=np.float32) - lo) / (hi - lo), 0.0, 1.0)


def unit_overlays(
    images: np.ndarray, maps: np.ndarray, spatial: bool, cmap: str = "jet"
) -> np.ndarray:
    """One unit's maps laid over its images: RGB uint8 (N, H, W, 3).

    images: (N, C, H, W) display images in [0, 1]. maps: (N, h, w). A channel's activation
    maps are scaled together (0 and the largest value the unit reaches on these images set the
    ends, so a weak response looks weak) and upsampled to the image; gradient maps (a dense
    unit's) are already at the image's size and scaled one by one.
    """
    images = np.asarray(images, dtype=np.float32)
    maps = np.asarray(maps, dtype=np.float32)
    size = images.shape[-2:]
    if spatial:
        low = min(0.0, float(maps.min()))
        span = float(maps.max()) - low
        maps = (maps - low) / span if span > 0 else np.zeros_like(maps)
    if tuple(maps.shape[-2:]) != tuple(size):
        grid = torch.from_numpy(maps)[:, None]
        maps = F.interpolate(grid, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()
    blended = overlay_heatmap(images, np.clip(maps, 0.0, 1.0), cmap=cmap, alpha=MAP_ALPHA)
    return to_uint8(blended)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_png(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """An (H, W), (H, W, 1) or (H, W, 3) image, uint8 or float in [0, 1], as a PNG (atomically)."""
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        pixels = to_uint8(pixels)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    picture = Image.fromarray(pixels)
    return write_atomic(path, lambda tmp: picture.save(tmp, format="PNG"))
