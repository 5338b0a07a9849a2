"""Parametrizations against known answers: exact inverses, the colour matrix, box optima."""

import numpy as np
import pytest
import torch
from engine_helpers import linear_unit, one_thread  # noqa: F401
from torch import nn

from actmax import param, regularizers, unit, visualize
from actmax.errors import ActmaxError
from actmax.param import COLOR_CORRELATION, Canvas, decorrelate_colors, recorrelate_colors

PLAIN = {"regularizers": [], "transforms": []}


@pytest.mark.parametrize("shape", [(3, 8, 8), (3, 7, 10), (1, 9, 5)])
@pytest.mark.parametrize("decorrelate", [True, False])
def test_fourier_maps_back_to_the_image_exactly(shape, decorrelate):
    canvas = Canvas(shape, (-1.0, 2.0))
    x = torch.rand((2, *shape), dtype=torch.float64) * 2.8 - 0.9  # strictly inside the range
    fourier = param.Fourier(decorrelate=decorrelate)
    raw = fourier.from_image(x, canvas)
    assert raw.shape == (2, shape[0], shape[1], shape[2] // 2 + 1, 2)
    torch.testing.assert_close(fourier.image(raw, canvas), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("parametrization", [param.Pixels(), param.Sigmoid()])
def test_pixel_parametrizations_map_back_to_the_image(parametrization):
    canvas = Canvas((3, 4, 4), (0.0, 255.0))
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64) * 250 + 2
    raw = parametrization.from_image(x, canvas)
    torch.testing.assert_close(parametrization.image(raw, canvas), x)


def test_the_colour_matrix_is_the_documented_square_root():
    m = COLOR_CORRELATION
    # scaled so that its largest column (luminance) has norm 1
    assert np.linalg.norm(m, axis=0).max() == pytest.approx(1.0)
    assert np.argmax(np.linalg.norm(m, axis=0)) == 0
    # white noise in the decorrelated space gets the colour covariance M @ M.T: strongly
    # positive correlations between R, G and B, as in natural images
    noise = torch.randn(1, 3, 400, 400, generator=torch.Generator().manual_seed(0))
    rgb = recorrelate_colors(noise.double()).flatten(2)[0].numpy()
    np.testing.assert_allclose(np.cov(rgb), m @ m.T, atol=0.01)
    cov = m @ m.T
    correlation = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert correlation[np.triu_indices(3, 1)].min() > 0.75
    # and the inverse undoes it
    torch.testing.assert_close(
        decorrelate_colors(recorrelate_colors(noise.double())), noise.double()
    )


def box_optimum(model: nn.Module, lo: float, hi: float) -> float:
    w, b = model[1].weight.detach().flatten().numpy(), model[1].bias.item()
    return b + np.maximum(w * hi, w * lo).sum()


@pytest.mark.parametrize("parametrization", [param.Pixels(), param.Sigmoid()])
def test_a_linear_rgb_unit_reaches_its_box_optimum(parametrization):
    model = linear_unit((3, 12, 10))
    best = box_optimum(model, 0.0, 1.0)
    result = visualize(model, unit("1", 0), param=parametrization, **PLAIN)
    assert best * 0.99 <= result.activations[0] <= best + 1e-4


def test_fourier_reaches_the_box_optimum_of_a_linear_rgb_unit_without_its_priors():
    """With no 1/f scaling and no colour decorrelation the Fourier parametrization is an
    orthogonal change of basis: the white-noise optimum is as reachable as in pixels."""
    model = linear_unit((3, 12, 10))
    best = box_optimum(model, 0.0, 1.0)
    fourier = param.Fourier(decay=0.0, decorrelate=False)
    result = visualize(model, unit("1", 0), param=fourier, iterations=400, **PLAIN)
    assert best * 0.99 <= result.activations[0] <= best + 1e-4


def test_fourier_priors_favour_natural_images():
    """With its priors on, a bright image is reached at once, a white-noise pattern slowly."""
    bright = linear_unit((3, 12, 10))
    with torch.no_grad():
        bright[1].weight.abs_()  # the optimum: every pixel at the top of the range
    noise = linear_unit((3, 12, 10))
    reached = []
    for model in (bright, noise):
        result = visualize(model, unit("1", 0), param=param.Fourier(), **PLAIN)
        reached.append(result.activations[0] / box_optimum(model, 0.0, 1.0))
    assert reached[0] >= 0.9
    assert 0.8 < reached[1] < reached[0]


def test_latent_codes_make_images_through_the_generator():
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 36), nn.Sigmoid(), nn.Unflatten(1, (1, 6, 6)))
    generator.train()
    model = linear_unit((1, 6, 6))
    latent = param.Latent(generator, (4,))
    free = visualize(model, [unit("1", 0)] * 2, param=latent, seed=[0, 1], **PLAIN)
    held = visualize(
        model,
        [unit("1", 0)] * 2,
        param=latent,
        seed=[0, 1],
        regularizers=[regularizers.LatentPrior(1e6)],
        transforms=[],
        iterations=50,
    )
    # the codes climb the objective; held by the prior, they stay near its centre
    with torch.no_grad():
        centre = generator(torch.zeros(1, 4))[0]
    assert np.all(free.activations > free.history["objective"][0] + 0.1)
    assert (held.inputs - centre).abs().mean() < 0.2 * (free.inputs - centre).abs().mean()
    assert set(held.history) == {"objective", "latent", "loss"}
    assert generator.training and all(p.requires_grad for p in generator.parameters())


def test_a_generator_in_training_mode_is_frozen_from_its_first_image():
    """Its BatchNorm would otherwise learn from the engine's shape probe and its steps."""
    torch.manual_seed(0)
    generator = nn.Sequential(
        nn.Linear(4, 36), nn.BatchNorm1d(36), nn.Sigmoid(), nn.Unflatten(1, (1, 6, 6))
    )
    generator.train()
    model = linear_unit((1, 6, 6))
    del model.input_shape  # the engine then asks the generator for the image's shape
    visualize(model, unit("1", 0), param=param.Latent(generator, (4,)), **PLAIN)
    assert generator[1].num_batches_tracked.item() == 0
    assert torch.equal(generator[1].running_mean, torch.zeros(36)) and generator.training


def test_latent_seed_input_must_be_codes():
    generator = nn.Sequential(nn.Linear(4, 36), nn.Unflatten(1, (1, 6, 6)))
    with pytest.raises(ActmaxError, match="codes"):
        visualize(
            linear_unit((1, 6, 6)),
            unit("1", 0),
            param=param.Latent(generator, (4,)),
            seed_input=torch.zeros(1, 1, 6, 6),
        )
