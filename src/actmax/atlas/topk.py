"""Each unit's extremes over the data, found chunk by chunk and merged exactly.

Images are ordered by score, ties broken by the image's index (lower first), for the top and
for the bottom alike. Under one total order the k best of the whole data set are among the k
best of the chunk that holds each of them, so merging the chunks' k best gives exactly what one
pass over all the data gives, whatever the chunks and the order they come in.

Histograms are counted over each unit's whole range, known once every chunk's range is merged;
counts add up exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

EXTREMES = ("top_scores", "top_index", "bottom_scores", "bottom_index")


@dataclass(frozen=True)
class Extremes:
    """Per unit (rows): the k highest and k lowest scores, their image indices, and the range,
    sum and count of all scores seen."""

    top_scores: np.ndarray  # (U, k) float32, highest first
    top_index: np.ndarray  # (U, k) int64
    bottom_scores: np.ndarray  # (U, k) float32, lowest first
    bottom_index: np.ndarray  # (U, k) int64
    low: np.ndarray  # (U,) float32
    high: np.ndarray  # (U,) float32
    total: np.ndarray  # (U,) float64
    count: int

    @property
    def mean(self) -> np.ndarray:
        return self.total / max(self.count, 1)

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields as arrays, as a shard file keeps them."""
        out = {name: getattr(self, name) for name in EXTREMES}
        out.update(low=self.low, high=self.high, total=self.total, count=np.int64(self.count))
        return out

    @classmethod
    def from_arrays(cls, arrays) -> Extremes:
        fields = {name: np.asarray(arrays[name]) for name in (*EXTREMES, "low", "high", "total")}
        return cls(**fields, count=int(arrays["count"]))


def _best(scores: np.ndarray, index: np.ndarray, k: int, highest: bool):
    """The k first of each row under (score, then lower index), highest or lowest scores first."""
    key = -scores if highest else scores
    order = np.lexsort((index, key), axis=-1)[:, :k]
    return np.take_along_axis(scores, order, -1), np.take_along_axis(index, order, -1)


def chunk_extremes(scores: np.ndarray, first_index: int, k: int) -> Extremes:
    """The extremes of one chunk: `scores` (n images, U units) for images first_index ...."""
    scores = np.asarray(scores, dtype=np.float32)
    n = scores.shape[0]
    per_unit = np.ascontiguousarray(scores.T)  # (U, n)
    index = np.broadcast_to(np.arange(first_index, first_index + n, dtype=np.int64), per_unit.shape)
    top_s, top_i = _best(per_unit, index, k, highest=True)
    bottom_s, bottom_i = _best(per_unit, index, k, highest=False)
    return Extremes(
        top_s,
        top_i,
        bottom_s,
        bottom_i,
        low=per_unit.min(1),
        high=per_unit.max(1),
        total=per_unit.sum(1, dtype=np.float64),
        count=n,
    )


def merge_extremes(parts: Iterable[Extremes], k: int) -> Extremes:
    """The extremes of all the chunks together: the same as one pass over all the data.

    Only the sum (and so the mean) depends on the order of the parts, in its last bits; give
    them in the data's order for a reproducible value.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("nothing to merge")

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts], axis=1)

    top_s, top_i = _best(joined("top_scores"), joined("top_index"), k, highest=True)
    bottom_s, bottom_i = _best(joined("bottom_scores"), joined("bottom_index"), k, highest=False)
    total = parts[0].total.copy()
    for part in parts[1:]:
        total += part.total
    return Extremes(
        top_s,
        top_i,
        bottom_s,
        bottom_i,
        low=np.min([p.low for p in parts], axis=0),
        high=np.max([p.high for p in parts], axis=0),
        total=total,
        count=sum(p.count for p in parts),
    )


def bin_edges(low: np.ndarray, high: np.ndarray, bins: int) -> np.ndarray:
    """(U, bins + 1) equal-width edges over each unit's range; a constant unit's edges span
    its value +-0.5, so the middle bin holds it."""
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    width = np.where(high > low, high - low, 1.0)
    start = np.where(high > low, low, low - 0.5)
    return start[:, None] + width[:, None] * (np.arange(bins + 1) / bins)


def histogram_counts(
    scores: np.ndarray, low: np.ndarray, high: np.ndarray, bins: int
) -> np.ndarray:
    """(U, bins) counts of `scores` (n, U) over each unit's range [low, high] (the last bin
    holds `high` itself); a constant unit's scores all go into the middle bin (see `bin_edges`)."""
    scores = np.asarray(scores, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    spread = high > low
    width = np.where(spread, high - low, 1.0)
    where = np.floor((scores - low) / width * bins)
    where = np.where(spread, where, bins // 2)
    where = np.clip(where, 0, bins - 1).astype(np.int64)
    units = scores.shape[1]
    flat = where + np.arange(units, dtype=np.int64) * bins
    return np.bincount(flat.ravel(), minlength=units * bins).reshape(units, bins)
