"""The lab report's charts (tv choice, softmax evidence, measures per recipe) and its PNG writer.

Image grids come from `actmax.plots.grid`, training curves and the confusion matrix from
`training_plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..io import write_atomic  # noqa: E402
from ..plots.grid import DPI  # noqa: E402


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
    item: str = "digit",
) -> Figure:
    """Realism (judge agreement and confidence, plausibility) and activation against tv_weight."""
    tv = np.asarray(tv_weights, dtype=float)

    def series(key: str) -> np.ndarray:
        return np.array([s[key] for s in summaries], dtype=float)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(tv, series("agreement"), marker="o", label="judge agreement (fraction)")
    left.plot(tv, series("confidence"), marker="s", label="judge confidence (mean)")
    left.plot(tv, series("plausibility"), marker="^", label="plausibility (mean cosine)")
    left.set_ylim(-0.03, 1.03)
    left.set_title(f"Realism ({recipe})" if recipe else "Realism")
    right.plot(tv, series("activation"), marker="o", color="tab:red", label="mean")
    right.plot(tv, series("min_activation"), marker="v", color="tab:purple", label="weakest class")
    right.axhline(1.0, color="gray", lw=1, ls=":", label=f"best real {item}")
    right.set_title(
        f"Activation, logit / best real {item}'s ({recipe})"
        if recipe
        else f"Activation (logit / best real {item}'s)"
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
    names: Sequence[str] | None = None,
) -> Figure:
    """Why maximizing through the softmax fails: the target logit against the others.

    `softmax_logits` / `linear_logits` are (K, classes): every logit of each class's image, made
    through the softmax and through the logit. Left: the target's probability and logit; right:
    the mean of the other logits. `names`: every class's name (default: its number).
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
    axes[2].set_title(f"Mean of the other {softmax_logits.shape[1] - 1} logits")
    labels = [str(names[c]) if names is not None else str(c) for c in classes]
    for ax in axes:
        _class_ticks(ax, idx, labels)
        ax.grid(alpha=0.3, axis="y")
    axes[1].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _class_ticks(ax, idx: np.ndarray, labels: Sequence[str]) -> None:
    """Class names under the bars, slanted when they are words."""
    long = max((len(s) for s in labels), default=0) > 2
    ax.set_xticks(idx)
    ax.set_xticklabels(labels, rotation=35 if long else 0, ha="right" if long else "center")
    ax.set_xlabel("class")


def recipe_measures(
    classes: Sequence[int | str], measures: dict[str, dict[str, Sequence[float]]]
) -> Figure:
    """Judge confidence, plausibility and activation per class (number or name), one bar per
    recipe."""
    idx = np.arange(len(classes))
    names = list(measures)
    width = 0.8 / max(len(names), 1)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    keys = (
        ("confidence", "Judge confidence"),
        ("plausibility", "Plausibility"),
        ("activation", "Activation"),
    )
    for ax, (key, label) in zip(axes, keys, strict=True):
        for k, name in enumerate(names):
            ax.bar(idx + (k - (len(names) - 1) / 2) * width, measures[name][key], width, label=name)
        if key == "activation":
            ax.axhline(1.0, color="gray", lw=1, ls=":")
        ax.set_title(label)
        _class_ticks(ax, idx, [str(c) for c in classes])
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
