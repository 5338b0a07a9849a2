"""A titled grid of images with a caption under each: the picture of a batch of visualizations."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def image_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    captions: Sequence[str] | None = None,
    *,
    cols: int | None = None,
    title: str | None = None,
    cmap: str = "gray",
    size: float = 2.0,
):
    """Figure with one panel per image (N, H, W, C) in [0, 1]; grayscale images use `cmap`.

    `cols` defaults to at most 8 panels a row. Each panel gets its title above and its caption
    (e.g. the activation reached) below.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    n = len(images)
    if n == 0:
        raise ValueError("no images to draw")
    cols = max(1, min(cols or min(n, 8), n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(size * cols, size * rows + (0.5 if title else 0)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        image = images[i]
        if image.shape[-1] == 1:
            ax.imshow(image[..., 0], cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            ax.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        if captions is not None:
            ax.set_xlabel(captions[i], fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def tile(images: np.ndarray, cols: int | None = None, margin: int = 2) -> np.ndarray:
    """Pack (N, H, W, C) images into one (rows*H, cols*W, C) array with white margins
    (one frame of an animation)."""
    n, h, w, c = images.shape
    cols = max(1, min(cols or math.ceil(math.sqrt(n)), n))
    rows = math.ceil(n / cols)
    out = np.ones((rows * (h + margin) + margin, cols * (w + margin) + margin, c), images.dtype)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        y, x = margin + r * (h + margin), margin + k * (w + margin)
        out[y : y + h, x : x + w] = image
    return out
