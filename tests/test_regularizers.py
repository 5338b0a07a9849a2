import numpy as np
import pytest
import torch

from actmax.errors import ActmaxError
from actmax.regularizers import l1, l2, lp_norm, total_variation


def tv_by_hand(x: np.ndarray, beta: float) -> float:
    """keras-vis' formula for one (C, H, W) image, written out pixel by pixel."""
    c, h, w = x.shape
    total = 0.0
    for k in range(c):
        for i in range(h - 1):
            for j in range(w - 1):
                down = (x[k, i + 1, j] - x[k, i, j]) ** 2
                right = (x[k, i, j + 1] - x[k, i, j]) ** 2
                total += (down + right) ** (beta / 2)
    return total / (c * h * w)


@pytest.mark.parametrize("beta", [2.0, 1.0, 3.0])
def test_total_variation_is_keras_vis_formula_per_image(beta):
    x = torch.rand(3, 2, 5, 6, dtype=torch.float64)
    values = total_variation(x, beta)
    assert values.shape == (3,)
    expected = [tv_by_hand(img.numpy(), beta) for img in x]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-12)


def test_total_variation_of_a_constant_is_zero_with_a_finite_gradient():
    x = torch.full((2, 1, 4, 4), 0.3, requires_grad=True)
    for beta in (1.0, 2.0):
        value = total_variation(x, beta)
        (grad,) = torch.autograd.grad(value.sum(), x)
        assert torch.all(value == 0) and torch.all(torch.isfinite(grad))


def test_total_variation_of_a_step_edge():
    x = torch.zeros(1, 1, 3, 3)
    x[..., 2] = 1.0  # a vertical edge between columns 1 and 2: one jump per row on the 2x2 grid
    assert total_variation(x).item() == pytest.approx(2 / 9)


def test_lp_norm_is_keras_vis_formula():
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    flat = x.flatten(1).numpy()
    for p in (1.0, 2.0, 6.0):
        expected = (np.abs(flat) ** p).sum(1) ** (1 / p) / 75
        np.testing.assert_allclose(lp_norm(x, p).numpy(), expected, rtol=1e-12)
    # keras-vis' p = inf is max(x), not max|x|
    np.testing.assert_allclose(lp_norm(x, float("inf")).numpy(), flat.max(1) / 75)
    np.testing.assert_allclose(l1(x).numpy(), np.abs(flat).sum(1) / 75)
    np.testing.assert_allclose(l2(x).numpy(), np.sqrt((flat**2).sum(1)) / 75)


def test_lp_norm_gradient_at_zero_is_zero_not_nan():
    x = torch.zeros(2, 1, 3, 3, requires_grad=True)
    (grad,) = torch.autograd.grad(lp_norm(x, 6.0).sum(), x)
    assert torch.equal(grad, torch.zeros_like(grad))


def test_rows_do_not_interact():
    x = torch.rand(5, 1, 6, 6)
    for fn in (total_variation, lp_norm, l1, l2):
        rows = torch.cat([fn(x[i : i + 1]) for i in range(5)])
        torch.testing.assert_close(fn(x), rows)


def test_bad_parameters_are_refused():
    x = torch.rand(1, 1, 4, 4)
    with pytest.raises(ActmaxError, match="p >= 1"):
        lp_norm(x, 0.5)
    with pytest.raises(ActmaxError, match="beta must be > 0"):
        total_variation(x, 0.0)


def test_full_total_variation_ties_every_pixel_to_its_neighbours():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 3, 3] = 1.0  # keras-vis' grid never sees the bottom-right pixel
    assert total_variation(x).item() == 0.0
    assert total_variation(x, full=True).item() == pytest.approx(2 / 16)
    y = torch.rand(2, 3, 5, 6)
    inner = total_variation(y)
    assert torch.all(total_variation(y, full=True) > inner)
    for beta in (1.0, 2.0):  # on 1-D signals too
        signal = torch.tensor([[[0.0, 1.0, 3.0]]])
        assert total_variation(signal, beta, full=True).item() == pytest.approx((1 + 2**beta) / 3)
