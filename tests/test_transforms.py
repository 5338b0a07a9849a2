import pytest
import torch

from actmax.errors import ActmaxError
from actmax.transforms import RandomTransforms, shift, zoom


def test_shift_rolls_each_image_by_its_own_offset():
    x = torch.rand(3, 2, 5, 7)
    offsets = torch.tensor([[1, -2], [0, 0], [-4, 3]])
    out = shift(x, offsets)
    for i in range(3):
        expected = torch.roll(x[i], tuple(offsets[i].tolist()), dims=(1, 2))
        assert torch.equal(out[i], expected)


def test_shift_gradient_is_the_inverse_shift():
    x = torch.rand(2, 1, 4, 4, requires_grad=True)
    offsets = torch.tensor([[1, 2], [-1, 0]])
    weights = torch.rand(2, 1, 4, 4)
    (grad,) = torch.autograd.grad((shift(x, offsets) * weights).sum(), x)
    assert torch.equal(grad, shift(weights, -offsets))


def test_zoom_by_one_is_the_identity_and_zoom_enlarges_the_centre():
    x = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(zoom(x, torch.ones(2)), x)
    dot = torch.zeros(1, 1, 9, 9)
    dot[..., 3:6, 3:6] = 1.0
    assert zoom(dot, torch.tensor([2.0])).sum() > dot.sum() * 2


def make(seeds, jitter, iterations=20, scale=None):
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    return RandomTransforms(gens, iterations, 2, jitter, scale)


def test_draws_are_bounded_and_depend_only_on_the_row_seed():
    batch = make([5, 6, 7], [2, 0, 3])
    alone = make([7], [3])
    assert batch.shifts.shape == (20, 3, 2)
    assert batch.shifts[:, 0].abs().max() <= 2 and batch.shifts[:, 0].abs().max() > 0
    assert torch.all(batch.shifts[:, 1] == 0)
    assert torch.equal(batch.shifts[:, 2], alone.shifts[:, 0])


def test_a_row_without_jitter_is_left_untouched():
    x = torch.rand(2, 1, 6, 6)
    out = make([1, 2], [0, 3])(x, 4)
    assert torch.equal(out[0], x[0])


def test_scale_factors_fall_in_the_range():
    transforms = make([1, 2], [0, 0], scale=(0.9, 1.2))
    assert transforms.enabled
    assert transforms.factors.min() >= 0.9 and transforms.factors.max() <= 1.2


@pytest.mark.parametrize(("jitter", "scale"), [([-1], None), ([1.5], None), ([1], (0.0, 1.0))])
def test_bad_settings_are_refused(jitter, scale):
    with pytest.raises(ActmaxError):
        make([0], jitter, scale=scale)
