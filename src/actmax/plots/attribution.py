"""Figures for attribution maps: image | heat map | overlay, one image or a grid of many."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..attribution import METHODS, explain
from ..attribution.overlay import overlay_heatmap, to_rgb
from ..errors import ActmaxError

_TITLES = {
    "vanilla": "saliency",
    "guided": "guided backprop",
    "rectified": "rectified backprop",
    "smoothgrad": "SmoothGrad",
    "gradxinput": "gradient x input",
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
}


def _show_image(ax, image: np.ndarray, size: tuple[int, int]) -> None:
    rgb = to_rgb(image, size)
    if np.allclose(rgb[..., 0], rgb[..., 1]) and np.allclose(rgb[..., 0], rgb[..., 2]):
        ax.imshow(rgb[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(rgb)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_attribution(
    image: np.ndarray,
    heatmap: np.ndarray,
    *,
    title: str | None = None,
    cmap: str = "jet",
    alpha: float = 0.5,
    labels: Sequence[str] = ("image", "heat map", "overlay"),
) -> Figure:
    """Three panels in a row: the image, the heat map (values in [0, 1]) and the overlay."""
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 2:
        raise ActmaxError(f"one heat map (H, W) is drawn, got shape {heatmap.shape}")
    fig = Figure(figsize=(7.5, 2.9), layout="constrained")
    axes = fig.subplots(1, 3)
    _show_image(axes[0], image, heatmap.shape)
    shown = axes[1].imshow(heatmap, cmap=cmap, vmin=0.0, vmax=1.0)
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    axes[2].imshow(overlay_heatmap(image, heatmap, cmap=cmap, alpha=alpha))
    for ax, label in zip(axes, labels, strict=True):
        ax.set_title(label, fontsize=10)
        _bare(ax)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_attribution_grid(
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    row_labels: Sequence[str] | None = None,
    row_colors: Sequence[str] | None = None,
    cmap: str = "jet",
    alpha: float = 0.5,
    overlay: bool = True,
    title: str | None = None,
) -> Figure:
    """A row per image: the image, then one column per entry of `maps` (name -> (N, H, W)).

    Cells show the heat map over the image (`overlay=True`) or alone.
    """
    images = np.asarray(images)
    columns = {name: np.asarray(values) for name, values in maps.items()}
    n = len(images)
    for name, values in columns.items():
        if values.ndim != 3 or len(values) != n:
            raise ActmaxError(f"maps[{name!r}] must be (N={n}, H, W), got {values.shape}")
    if row_labels is not None and len(row_labels) != n:
        raise ActmaxError(f"{len(row_labels)} row labels for {n} images")
    size = next(iter(columns.values())).shape[1:] if columns else images.shape[-2:]
    ncols = 1 + len(columns)
    fig = Figure(figsize=(1.55 * ncols + 0.6, 1.55 * n + 0.5), layout="constrained")
    axes = np.asarray(fig.subplots(n, ncols, squeeze=False))
    for row in range(n):
        _show_image(axes[row, 0], images[row], size)
        for col, (name, values) in enumerate(columns.items(), start=1):
            ax = axes[row, col]
            if overlay:
                ax.imshow(overlay_heatmap(images[row], values[row], cmap=cmap, alpha=alpha))
            else:
                ax.imshow(values[row], cmap=cmap, vmin=0.0, vmax=1.0)
            if row == 0:
                ax.set_title(name, fontsize=9)
        if row_labels is not None:
            color = row_colors[row] if row_colors is not None else "black"
            axes[row, 0].set_ylabel(row_labels[row], fontsize=9, color=color)
        for ax in axes[row]:
            _bare(ax)
    if n:
        axes[0, 0].set_title("image", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_true_vs_predicted(
    model,
    images: np.ndarray,
    labels: Sequence[int],
    *,
    methods: Sequence[str] = ("vanilla", "gradcam"),
    cmap: str = "jet",
    alpha: float = 0.5,
    title: str | None = None,
    **options,
) -> Figure:
    """For each image, each method's map for the true class and for the predicted class.

    Misclassified rows are labelled in red. `options` go to every method (e.g. `samples=`).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ActmaxError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    labels = [int(label) for label in labels]
    columns: dict[str, np.ndarray] = {}
    predicted = None
    for method in methods:
        name = _TITLES.get(method, method)
        on_true = explain(model, images, labels, method, **options)
        predicted = on_true.predictions
        columns[f"{name}\ntrue class"] = on_true.maps
        columns[f"{name}\npredicted"] = explain(model, images, None, method, **options).maps
    if predicted is None:
        raise ActmaxError("the model's output is not one score per class")
    row_labels = [f"label {t} · pred {p}" for t, p in zip(labels, predicted, strict=True)]
    colors = ["black" if t == p else "red" for t, p in zip(labels, predicted, strict=True)]
    shown = np.asarray(images)
    return plot_attribution_grid(
        shown,
        columns,
        row_labels=row_labels,
        row_colors=colors,
        cmap=cmap,
        alpha=alpha,
        title=title,
    )
