"""The lab report's figures: training curves, confusion matrix, captioned image grids, tv choice."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..io import write_atomic  # noqa: E402


def _as_2d(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        return image[..., 0]
    if image.ndim == 3 and image.shape[0] == 1:
        return image[0]
    return image


def training_curves(history: dict[str, Sequence[float]]) -> Figure:
    """Loss and accuracy per epoch, training against test (the lab's `history` plot, completed)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, key, label in ((axes[0], "loss", "loss"), (axes[1], "accuracy", "accuracy")):
        ax.plot(epochs, history[key], marker="o", label="training")
        ax.plot(epochs, history[f"val_{key}"], marker="o", label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_xticks(epochs)
    axes[0].set_title("Cross-entropy")
    axes[1].set_title("Accuracy")
    fig.tight_layout()
    return fig


def confusion_matrix(matrix: np.ndarray) -> Figure:
    """Counts of true class (rows) against predicted class (columns), each cell labelled."""
    matrix = np.asarray(matrix)
    k = len(matrix)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    shown = np.log1p(matrix)
    ax.imshow(shown, cmap="Blues")
    for i in range(k):
        for j in range(k):
            dark = shown[i, j] > shown.max() * 0.6
            ax.text(
                j,
                i,
                str(int(matrix[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (test set)")
    fig.tight_layout()
    return fig


DPI = 110  # save_figure's default: the grid is laid out in output pixels


def image_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    captions: Sequence[str] | None = None,
    cols: int | None = None,
    title: str | None = None,
    cmap: str = "gray",
    size: int = 112,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    fontsize: float = 8.0,
    row_labels: Sequence[str] | None = None,
) -> Figure:
    """A titled grid: a title above and a (multi-line) caption under every image, and
    optionally a label left of every row.

    Drawn as one mosaic in one axes (each image blown up by whole pixels to about `size` pixels,
    no resampling), so even a grid of a hundred images takes a fraction of a second.
    `vmin`/`vmax` None scale each image to its own range.
    """
    arrays = [_as_2d(im).astype(np.float64) for im in images]
    n = len(arrays)
    if n == 0:
        raise ValueError("no images to draw")
    cols = max(1, min(cols or min(n, 10), n))
    rows = -(-n // cols)
    h, w = arrays[0].shape
    k = max(1, round(size / max(h, w)))
    ih, iw = h * k, w * k
    px = fontsize * DPI / 72
    line = px * 1.3

    def lines(texts):
        return max((t.count("\n") + 1 for t in texts), default=0) if texts is not None else 0

    def widest(texts):
        return max((len(part) for t in texts or [] for part in t.split("\n")), default=0)

    pad = 12
    cell_w = int(max(iw, widest(titles) * 0.62 * px, widest(captions) * 0.62 * px)) + pad
    title_band = int(lines(titles) * line) + (4 if titles is not None else 0)
    caption_band = int(lines(captions) * line) + (4 if captions is not None else 0)
    cell_h = title_band + ih + caption_band + pad
    top = int(line * 1.8) if title else pad // 2
    left = int(widest(row_labels) * 0.62 * px) + pad if row_labels is not None else 0
    width, height = left + cols * cell_w + pad, top + rows * cell_h
    canvas = np.ones((height, width, 3))
    colormap = plt.get_cmap(cmap)
    origins = []
    for i, image in enumerate(arrays):
        lo = np.nanmin(image) if vmin is None else vmin
        hi = np.nanmax(image) if vmax is None else vmax
        scaled = np.clip((image - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
        rgb = colormap(scaled)[..., :3].repeat(k, 0).repeat(k, 1)
        r, c = divmod(i, cols)
        x0 = left + pad // 2 + c * cell_w + (cell_w - iw) // 2
        y0 = top + r * cell_h + title_band
        canvas[y0 - 1 : y0 + ih + 1, x0 - 1 : x0 + iw + 1] = 0.75  # a thin frame
        canvas[y0 : y0 + ih, x0 : x0 + iw] = rgb
        origins.append((x0, y0))
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(canvas, interpolation="none", extent=(0, width, height, 0))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    for i, (x0, y0) in enumerate(origins):
        centre = x0 + iw / 2
        if titles is not None:
            ax.text(centre, y0 - 3, titles[i], ha="center", va="bottom", fontsize=fontsize)
        if captions is not None:
            ax.text(
                centre,
                y0 + ih + 3,
                captions[i],
                ha="center",
                va="top",
                fontsize=fontsize,
                linespacing=1.15,
                color="#333333",
            )
    for r, label in enumerate(row_labels or []):
        y = top + r * cell_h + title_band + ih / 2
        ax.text(left - pad / 2, y, label, ha="right", va="center", fontsize=fontsize)
    if title:
        ax.text(width / 2, pad / 2, title, ha="center", va="top", fontsize=fontsize + 2)
    return fig


def save(fig: Figure, path) -> Path:
    """Save atomically as PNG, as laid out (every figure here lays itself out: a mosaic edge to
    edge, the charts with a layout engine), so no second, tight-bbox drawing pass is needed."""
    try:
        return write_atomic(
            path,
            # zlib level 3: about 2.5x faster than the default 6, for files about 25% larger
            lambda tmp: fig.savefig(tmp, dpi=DPI, format="png", pil_kwargs={"compress_level": 3}),
        )
    finally:
        plt.close(fig)


def tv_choice(
    tv_weights: Sequence[float],
    summaries: Sequence[dict],
    chosen: float,
    lab_choice: float | None = None,
    recipe: str | None = None,
) -> Figure:
    """Realism (judge agreement and confidence, the realism score) and activation against
    tv_weight."""
    tv = np.asarray(tv_weights, dtype=float)

    def series(key: str) -> np.ndarray:
        return np.array([s[key] for s in summaries], dtype=float)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(tv, series("agreement"), marker="o", label="judge agreement (fraction)")
    left.plot(tv, series("confidence"), marker="s", label="judge confidence (mean)")
    realism = series("realism")
    left.plot(tv, realism, marker="^", label="realism (mean, ink per nat)")
    left.set_ylim(-0.03, max(1.03, 1.05 * float(np.nanmax(realism))))
    left.set_title(f"Realism ({recipe})" if recipe else "Realism")
    right.plot(tv, series("activation"), marker="o", color="tab:red", label="mean")
    right.plot(tv, series("min_activation"), marker="v", color="tab:purple", label="weakest class")
    right.axhline(1.0, color="gray", lw=1, ls=":", label="best real digit")
    right.set_title(
        f"Activation, logit / best real digit's ({recipe})"
        if recipe
        else "Activation (logit / best real digit's)"
    )
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(tv)
        ax.set_xticklabels([f"{t:g}" for t in tv])
        ax.set_xlabel("tv_weight")
        ax.grid(alpha=0.3)
        ax.axvline(chosen, color="tab:green", lw=2, alpha=0.6, label=f"chosen ({chosen:g})")
        if lab_choice is not None and lab_choice != chosen:
            ax.axvline(
                lab_choice, color="gray", lw=1.5, ls="--", label=f"lab's eye ({lab_choice:g})"
            )
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def softmax_evidence(
    probability: Sequence[float],
    softmax_logits: np.ndarray,
    linear_logits: np.ndarray,
    classes: Sequence[int],
) -> Figure:
    """Why maximizing through the softmax fails: the target logit against the others.

    `softmax_logits` / `linear_logits` are (K, 10): every logit of each class's image, made
    through the softmax and through the logit. Left: the target's probability and logit; right:
    the mean of the other logits.
    """
    classes = list(classes)
    idx = np.arange(len(classes))
    target_soft = softmax_logits[idx, classes]
    target_lin = linear_logits[idx, classes]
    mask = np.ones_like(softmax_logits, dtype=bool)
    mask[idx, classes] = False
    others_soft = np.where(mask, softmax_logits, np.nan)
    others_lin = np.where(mask, linear_logits, np.nan)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].bar(idx, probability, color="tab:gray")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title("Target probability (softmax kept)")
    width = 0.38
    axes[1].bar(idx - width / 2, target_soft, width, label="softmax kept")
    axes[1].bar(idx + width / 2, target_lin, width, label="logit maximized")
    axes[1].set_title("Target logit")
    axes[2].bar(idx - width / 2, np.nanmean(others_soft, 1), width, label="softmax kept")
    axes[2].bar(idx + width / 2, np.nanmean(others_lin, 1), width, label="logit maximized")
    axes[2].set_title("Mean of the other 9 logits")
    for ax in axes:
        ax.set_xticks(idx)
        ax.set_xticklabels([str(c) for c in classes])
        ax.set_xlabel("class")
        ax.grid(alpha=0.3, axis="y")
    axes[1].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return fig


def recipe_measures(
    classes: Sequence[int], measures: dict[str, dict[str, Sequence[float]]]
) -> Figure:
    """Judge confidence, realism and activation per class, one bar per recipe."""
    idx = np.arange(len(classes))
    names = list(measures)
    width = 0.8 / max(len(names), 1)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    keys = (
        ("confidence", "Judge confidence"),
        ("realism", "Realism (ink per nat)"),
        ("activation", "Activation"),
    )
    for ax, (key, label) in zip(axes, keys, strict=True):
        for k, name in enumerate(names):
            ax.bar(idx + (k - (len(names) - 1) / 2) * width, measures[name][key], width, label=name)
        if key == "activation":
            ax.axhline(1.0, color="gray", lw=1, ls=":")
        ax.set_title(label)
        ax.set_xticks(idx)
        ax.set_xticklabels([str(c) for c in classes])
        ax.set_xlabel("class")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
