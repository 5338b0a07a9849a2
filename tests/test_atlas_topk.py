"""Each unit's extremes, merged from chunks, equal one pass over all the data; counts add up."""

import numpy as np
import pytest

from actmax.atlas.topk import (
    bin_edges,
    chunk_extremes,
    histogram_counts,
    merge_extremes,
)


def brute_force(scores: np.ndarray, k: int):
    """Each unit's column sorted by (score down, index up) and by (score up, index up)."""
    top, bottom = [], []
    for column in scores.T:
        pairs = [(float(v), i) for i, v in enumerate(column)]
        top.append(sorted(pairs, key=lambda p: (-p[0], p[1]))[:k])
        bottom.append(sorted(pairs, key=lambda p: (p[0], p[1]))[:k])
    return top, bottom


def chunked(scores: np.ndarray, bounds: list[int], k: int):
    parts = [
        chunk_extremes(scores[a:b], a, k) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return merge_extremes(parts, k)


@pytest.mark.parametrize("bounds", [[0, 100], [0, 7, 50, 51, 100], [0, 33, 66, 100]])
def test_merged_extremes_equal_one_sorted_pass_with_many_ties(bounds):
    rng = np.random.default_rng(3)
    scores = rng.integers(-3, 4, size=(100, 6)).astype(np.float32)  # ties everywhere
    k = 9
    merged = chunked(scores, bounds, k)
    top, bottom = brute_force(scores, k)
    for unit in range(scores.shape[1]):
        assert merged.top_index[unit].tolist() == [i for _, i in top[unit]]
        assert merged.top_scores[unit].tolist() == [v for v, _ in top[unit]]
        assert merged.bottom_index[unit].tolist() == [i for _, i in bottom[unit]]
        assert merged.bottom_scores[unit].tolist() == [v for v, _ in bottom[unit]]
    assert np.array_equal(merged.low, scores.min(0))
    assert np.array_equal(merged.high, scores.max(0))
    assert merged.count == 100
    np.testing.assert_allclose(merged.mean, scores.mean(0, dtype=np.float64), rtol=1e-12)


def test_the_order_of_the_chunks_does_not_change_the_extremes():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(90, 4)).astype(np.float32)
    parts = [chunk_extremes(scores[a : a + 30], a, 5) for a in (0, 30, 60)]
    forward, backward = merge_extremes(parts, 5), merge_extremes(parts[::-1], 5)
    for name in ("top_index", "top_scores", "bottom_index", "bottom_scores", "low", "high"):
        assert np.array_equal(getattr(forward, name), getattr(backward, name))


def test_a_chunk_smaller_than_k_keeps_what_it_has():
    scores = np.array([[3.0], [1.0], [2.0]], dtype=np.float32)
    merged = merge_extremes([chunk_extremes(scores[:2], 0, 9), chunk_extremes(scores[2:], 2, 9)], 9)
    assert merged.top_index.tolist() == [[0, 2, 1]]
    assert merged.bottom_index.tolist() == [[1, 2, 0]]


def test_histogram_counts_known_answer():
    # unit 0 spans [0, 4] in 4 bins: 0, 1 -> bins 0, 1; 2 -> bin 2; 3.99, 4 -> bin 3 (4 included)
    # unit 1 is constant: everything in its middle bin
    scores = np.array([[0, 7], [1, 7], [2, 7], [3.99, 7], [4, 7]], dtype=np.float32)
    counts = histogram_counts(scores, low=[0, 7], high=[4, 7], bins=4)
    assert counts.tolist() == [[1, 1, 1, 2], [0, 0, 5, 0]]
    edges = bin_edges(np.array([0.0, 7.0]), np.array([4.0, 7.0]), 4)
    assert edges[0].tolist() == [0, 1, 2, 3, 4]
    assert edges[1][2] <= 7 < edges[1][3]


def test_histogram_counts_add_up_over_chunks():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(500, 3)).astype(np.float32)
    low, high = scores.min(0), scores.max(0)
    whole = histogram_counts(scores, low, high, 20)
    parts = sum(histogram_counts(scores[a : a + 128], low, high, 20) for a in range(0, 500, 128))
    assert np.array_equal(whole, parts)
    assert whole.sum(1).tolist() == [500, 500, 500]
    for unit in range(3):  # numpy's own histogram over the same range agrees
        expected, _ = np.histogram(scores[:, unit].astype(np.float64), 20, (low[unit], high[unit]))
        assert whole[unit].tolist() == expected.tolist()
