"""A titled grid of images with a caption under each: the picture of a batch of visualizations.

The grid is one mosaic drawn into one axes: each image blown up by whole pixels (no resampling),
framed, with its title above and its caption below, so even a grid of a hundred images takes a
fraction of a second. It is a bare `matplotlib.figure.Figure` (no pyplot, no GUI backend).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DPI = 110  # the grid is laid out in output pixels at this resolution (`io.save_figure`'s default)
DEFAULT_COLS = 8
PAD = 12  # pixels around each cell


def _display(image: np.ndarray) -> np.ndarray:
    """One image as (H, W) grayscale or (H, W, 3) RGB; (H, W, 1) and (1, H, W) are grayscale."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    elif image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3):
        return image
    raise ValueError(f"an image must be (H, W), (H, W, 1) or (H, W, 3), got {image.shape}")


def _rgb(image: np.ndarray, cmap, vmin: float | None, vmax: float | None) -> np.ndarray:
    """(H, W, 3) colours in [0, 1]: grayscale through `cmap`, RGB as it is, both scaled."""
    lo = np.nanmin(image) if vmin is None else vmin
    hi = np.nanmax(image) if vmax is None else vmax
    scaled = np.clip((image - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    return scaled if scaled.ndim == 3 else cmap(scaled)[..., :3]


def image_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    captions: Sequence[str] | None = None,
    *,
    cols: int | None = None,
    title: str | None = None,
    cmap: str = "gray",
    size: int = 112,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    fontsize: float = 8.0,
    row_labels: Sequence[str] | None = None,
):
    """A figure with one cell per image: its title above, its (multi-line) caption below.

    `images`: (N, H, W, C) with C 1 (drawn with `cmap`) or 3 (RGB), or (N, H, W) grayscale,
    in [`vmin`, `vmax`] (None: each image's own range). `cols` defaults to at most 8 a row;
    `size` is about how many pixels an image's longer side takes (whole multiples of its own);
    `row_labels` puts a label left of every row.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    arrays = [_display(image) for image in images]
    n = len(arrays)
    if n == 0:
        raise ValueError("no images to draw")
    cols = max(1, min(cols or min(n, DEFAULT_COLS), n))
    rows = math.ceil(n / cols)
    h = max(a.shape[0] for a in arrays)
    w = max(a.shape[1] for a in arrays)
    k = max(1, round(size / max(h, w)))
    px = fontsize * DPI / 72
    line = px * 1.3

    def lines(texts):
        return max((t.count("\n") + 1 for t in texts), default=0) if texts is not None else 0

    def widest(texts):  # in pixels, from an average character width
        longest = max((len(part) for t in texts or [] for part in t.split("\n")), default=0)
        return longest * 0.62 * px

    cell_w = int(max(w * k, widest(titles), widest(captions))) + PAD
    title_band = int(lines(titles) * line) + (4 if titles is not None else 0)
    caption_band = int(lines(captions) * line) + (4 if captions is not None else 0)
    cell_h = title_band + h * k + caption_band + PAD
    top = int(line * 1.8) if title else PAD // 2
    left = int(widest(row_labels)) + PAD if row_labels is not None else 0
    width, height = left + cols * cell_w + PAD, top + rows * cell_h
    canvas = np.ones((height, width, 3))
    colormap = colormaps[cmap]
    boxes = []
    for i, image in enumerate(arrays):
        ih, iw = image.shape[0] * k, image.shape[1] * k
        r, c = divmod(i, cols)
        x0 = left + PAD // 2 + c * cell_w + (cell_w - iw) // 2
        y0 = top + r * cell_h + title_band + (h * k - ih) // 2
        canvas[y0 - 1 : y0 + ih + 1, x0 - 1 : x0 + iw + 1] = 0.75  # a thin frame
        canvas[y0 : y0 + ih, x0 : x0 + iw] = (
            _rgb(image, colormap, vmin, vmax).repeat(k, 0).repeat(k, 1)
        )
        boxes.append((x0 + iw / 2, top + r * cell_h + title_band))
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(canvas, interpolation="none", extent=(0, width, height, 0))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    for i, (centre, y0) in enumerate(boxes):
        if titles is not None:
            ax.text(centre, y0 - 3, titles[i], ha="center", va="bottom", fontsize=fontsize)
        if captions is not None:
            ax.text(
                centre,
                y0 + h * k + 3,
                captions[i],
                ha="center",
                va="top",
                fontsize=fontsize,
                linespacing=1.15,
                color="#333333",
            )
    for r, label in enumerate(row_labels or []):
        y = top + r * cell_h + title_band + h * k / 2
        ax.text(left - PAD / 2, y, label, ha="right", va="center", fontsize=fontsize)
    if title:
        ax.text(width / 2, PAD / 2, title, ha="center", va="top", fontsize=fontsize + 2)
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
