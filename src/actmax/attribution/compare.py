"""Comparing maps: how alike two explanations of the same images are."""

from __future__ import annotations

import numpy as np

from ..errors import ActmaxError


def _average_ranks(rows: np.ndarray) -> np.ndarray:
    """Ranks within each row, ties sharing their mean rank (as Spearman's rho needs)."""
    ranks = np.empty(rows.shape, dtype=np.float64)
    for i, row in enumerate(rows):
        _, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        ranks[i] = ((ends - counts + ends - 1) / 2.0)[inverse]
    return ranks


def rank_correlation(maps_a, maps_b) -> np.ndarray:
    """Spearman's rank correlation between paired maps, one value per image (N,).

    The measure of Adebayo et al. (2018) for "does the explanation depend on the model?": maps
    of a trained model and of the same model with random weights should be unlike (near 0).
    A constant map has no ranking; its correlation is NaN.

    Args:
        maps_a: a batch of maps (N, ...).
        maps_b: the maps to compare them with, of the same shape.
    """
    a, b = np.asarray(maps_a, dtype=np.float64), np.asarray(maps_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise ActmaxError(f"paired batches of maps are needed, got shapes {a.shape} and {b.shape}")
    ra = _average_ranks(a.reshape(len(a), -1))
    rb = _average_ranks(b.reshape(len(b), -1))
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    norm = np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (ra * rb).sum(1) / np.where(norm > 0, norm, 1), np.nan)
