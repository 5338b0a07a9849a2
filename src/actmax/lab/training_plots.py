"""How a network learned: loss and accuracy per epoch (training vs. test) and the confusion matrix.

The loss figure is the lab's own plot (`Training` and `Testing` curves, grid, legend), with axis
labels added. Figures are built on `matplotlib.figure.Figure` (no GUI backend) and lay themselves
out, so `actmax train` and the lab report draw them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..io import save_figure

FIGURES = ("loss.png", "accuracy.png", "confusion_matrix.png")
CURVES = {"loss": ("categorical cross-entropy", "Loss"), "accuracy": ("accuracy", "Accuracy")}


def draw_curves(ax: Axes, history: Mapping[str, Sequence[float]], key: str) -> None:
    """Training and test (validation) `key` ("loss" or "accuracy") per epoch, into `ax`."""
    ylabel, title = CURVES[key]
    train, test = history.get(key, []), history.get(f"val_{key}", [])
    if train:
        ax.plot(range(1, len(train) + 1), train, marker="o", label="Training")
    if test:
        ax.plot(range(1, len(test) + 1), test, marker="o", label="Testing")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    n = max(len(train), len(test))
    if n:
        ax.set_xticks(range(1, n + 1))


def _curves(history: Mapping[str, Sequence[float]], key: str) -> Figure:
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    draw_curves(fig.add_subplot(), history, key)
    return fig


def plot_loss(history: Mapping[str, Sequence[float]]) -> Figure:
    """Training and test (validation) loss per epoch, as the lab plots them."""
    return _curves(history, "loss")


def plot_accuracy(history: Mapping[str, Sequence[float]]) -> Figure:
    """Training and test (validation) accuracy per epoch."""
    return _curves(history, "accuracy")


def plot_training_curves(history: Mapping[str, Sequence[float]]) -> Figure:
    """Loss and accuracy side by side in one figure (the lab report's)."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    for ax, key in zip(fig.subplots(1, 2), CURVES, strict=True):
        draw_curves(ax, history, key)
    return fig


def plot_confusion_matrix(cm: np.ndarray, labels: Sequence[str] | None = None) -> Figure:
    """The confusion matrix as a heat map with every count written in its cell."""
    cm = np.asarray(cm)
    n = len(cm)
    labels = [str(i) for i in range(n)] if labels is None else list(labels)
    long = max((len(s) for s in labels), default=0) > 2
    fig = Figure(figsize=(6.6, 5.8) if long else (6, 5.2), layout="constrained")
    ax = fig.add_subplot()
    # Log-like scaling keeps the few errors visible next to the large diagonal.
    image = ax.imshow(np.log1p(cm), cmap="Blues")
    threshold = np.log1p(cm).max() / 2 if cm.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(int(cm[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if np.log1p(cm[i, j]) > threshold else "black",
            )
    ax.set_xticks(range(n), labels, rotation=45 if long else 0, ha="right" if long else "center")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(cm) / cm.sum() if cm.sum() else 0.0
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.2%})")
    colorbar = fig.colorbar(image, ax=ax)
    colorbar.set_label("log(1 + count)")
    return fig


def save_training_figures(
    history: Mapping[str, Sequence[float]],
    cm: np.ndarray,
    folder: str | Path,
    labels: Sequence[str] | None = None,
) -> list[Path]:
    """Write `loss.png`, `accuracy.png` and `confusion_matrix.png` into `folder`."""
    folder = Path(folder)
    figures = (plot_loss(history), plot_accuracy(history), plot_confusion_matrix(cm, labels))
    return [save_figure(fig, folder / name) for fig, name in zip(figures, FIGURES, strict=True)]
