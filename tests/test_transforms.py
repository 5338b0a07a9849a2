import pytest
import torch

from actmax.errors import ActmaxError
from actmax.transforms import (
    Blur,
    Jitter,
    Pad,
    Rotate,
    Scale,
    Transforms,
    blur,
    rotate,
    shift,
    standard,
    zoom,
)


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


def test_rotate_by_zero_is_the_identity_and_by_90_degrees_is_rot90():
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(rotate(x, torch.zeros(2, dtype=torch.float64)), x)
    quarter = rotate(x, torch.full((2,), 90.0, dtype=torch.float64))
    # a quarter turn maps pixel centres onto pixel centres: exact up to rounding
    torch.testing.assert_close(quarter, torch.rot90(x, 1, dims=(2, 3)))


def test_rotate_keeps_the_aspect_of_a_non_square_image():
    x = torch.zeros(1, 1, 7, 11, dtype=torch.float64)
    x[..., 3, :] = 1.0  # a horizontal line through the centre
    turned = rotate(x, torch.tensor([90.0], dtype=torch.float64))
    # now vertical through the centre column, as long as the image is high
    assert turned[0, 0, :, 5].min() > 0.99
    assert turned[0, 0, :, :4].max() < 1e-9


def test_blur_keeps_a_constant_image_and_spreads_a_dot_like_a_gaussian():
    flat = torch.full((2, 3, 9, 9), 0.25, dtype=torch.float64)
    torch.testing.assert_close(blur(flat, torch.tensor([0.7, 1.5], dtype=torch.float64), 5), flat)
    dot = torch.zeros(1, 1, 21, 21, dtype=torch.float64)
    dot[..., 10, 10] = 1.0
    sigma = 1.5
    out = blur(dot, torch.tensor([sigma], dtype=torch.float64), 6)[0, 0]
    assert out.sum().item() == pytest.approx(1.0)
    ys, xs = torch.meshgrid(torch.arange(21.0), torch.arange(21.0), indexing="ij")
    variance = (out * ((ys - 10) ** 2)).sum().item()
    assert variance == pytest.approx(sigma**2, rel=1e-3)


def test_pad_adds_the_border():
    x = torch.rand(1, 1, 4, 5)
    out = Pad(2, mode="constant", value=0.5).apply(x, None)
    assert out.shape == (1, 1, 8, 9)
    assert torch.all(out[..., :2, :] == 0.5)
    assert torch.equal(out[..., 2:-2, 2:-2], x)


def transforms(seeds, parts, iterations=20, shape=(1, 8, 8)):
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    return Transforms(parts, gens, iterations, shape)


def test_draws_are_bounded_and_depend_only_on_the_row_seed():
    batch = transforms([5, 6, 7], [Jitter([2, 0, 3]), Rotate(15)])
    alone = transforms([7], [Jitter(3), Rotate(15)])
    shifts, angles = batch.draws
    assert shifts.shape == (20, 3, 2) and angles.shape == (20, 3)
    assert shifts[:, 0].abs().max() <= 2 and shifts[:, 0].abs().max() > 0
    assert torch.all(shifts[:, 1] == 0)
    assert torch.equal(shifts[:, 2], alone.draws[0][:, 0])
    assert torch.equal(angles[:, 2], alone.draws[1][:, 0])
    assert angles.abs().max() <= 15


def test_a_batched_row_is_transformed_as_it_would_be_alone():
    parts = [Pad(2), Jitter(2), Scale((0.8, 1.2)), Rotate(20), Blur((0.3, 1.0))]
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    batch = transforms([1, 2, 3], parts)
    for row, seed in enumerate([1, 2, 3]):
        alone = transforms([seed], parts)
        for step in (0, 7):
            torch.testing.assert_close(batch(x, step)[row], alone(x[row : row + 1], step)[0])


def test_until_switches_a_transform_off_after_its_share_of_the_steps():
    chain = transforms([1], [Jitter(3, until=0.5)], iterations=10)
    assert chain.active(4) and not chain.active(5)
    x = torch.rand(1, 1, 8, 8)
    assert torch.equal(chain(x, 9), x)


def test_standard_transforms_scale_lucids_pixels_to_the_image():
    small = standard(28)
    assert [type(t).__name__ for t in small] == ["Pad", "Jitter", "Scale", "Rotate", "Jitter"]
    assert small[0].pixels == 2 and small[1].pixels == 1
    assert standard(224)[1].pixels == 8


@pytest.mark.parametrize(
    "make",
    [
        lambda: Jitter(-1),
        lambda: Jitter(1.5),
        lambda: Scale((0.0, 1.0)),
        lambda: Scale((1.2, 1.1)),
        lambda: Rotate("a lot"),
        lambda: Blur(-1.0),
        lambda: Pad(2, mode="mirror"),
        lambda: Jitter(2, until=1.5),
    ],
)
def test_bad_settings_are_refused(make):
    with pytest.raises(ActmaxError):
        make()


def test_a_fixed_size_model_refusing_padded_images_gets_an_error_naming_pad():
    from torch import nn

    import actmax

    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    with pytest.raises(ActmaxError, match=r"\(8, 8\) images into \(12, 12\).*leave out Pad"):
        actmax.visualize(mlp, actmax.logit(0), input_shape=(1, 8, 8), transforms=[Pad(2)])
