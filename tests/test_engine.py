"""The engine against known answers, keras-vis' own update rule, and itself (batched vs alone)."""

import math

import numpy as np
import pytest
import torch
from engine_helpers import conv_channel, linear_unit, one_thread  # noqa: F401

from actmax.engine import visualize
from actmax.objectives import channel, logit, neuron, unit, units
from actmax.recipes import deprocess_input

PLAIN = {"tv_weight": 0.0, "lp_weight": 0.0, "jitter": 0}


def test_linear_unit_reaches_its_maximum_on_the_box():
    lo, hi = -1.0, 2.0
    model = linear_unit((3, 4, 4))
    w, b = model[1].weight.detach().flatten().numpy(), model[1].bias.item()
    best = b + np.maximum(w * hi, w * lo).sum()
    result = visualize(model, unit("1", 0), input_range=(lo, hi), iterations=100, **PLAIN)
    assert best > 0
    assert result.activations[0] >= 0.995 * best
    assert result.activations[0] <= best + 1e-4  # the input never leaves the box
    x = result.inputs.flatten().numpy()
    np.testing.assert_allclose(x, np.where(w > 0, hi, lo), atol=1e-6)


def conv_coefficients(w: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """d(channel mean)/dx of a 'valid' 3x3 cross-correlation: how often each pixel meets each
    kernel weight, over the output positions, divided by their number."""
    h, wd = shape
    oh, ow = h - 2, wd - 2
    c = np.zeros(shape)
    for i in range(oh):
        for j in range(ow):
            c[i : i + 3, j : j + 3] += w
    return c / (oh * ow)


def test_conv_channel_reaches_its_closed_form_maximum():
    lo, hi = 0.0, 1.0
    model = conv_channel((1, 6, 7))
    w, b = model[0].weight.detach()[0, 0].numpy(), model[0].bias.item()
    c = conv_coefficients(w, (6, 7))
    best = b + np.maximum(c * hi, c * lo).sum()
    result = visualize(model, channel("0", 0), input_range=(lo, hi), iterations=100, **PLAIN)
    assert result.activations[0] >= 0.995 * best
    assert result.activations[0] <= best + 1e-5
    # one neuron (the centre of the 4x5 map, at (2, 2)) sees only its 3x3 window
    best_neuron = b + np.maximum(w * hi, w * lo).sum()
    result = visualize(model, neuron("0", 0), input_range=(lo, hi), iterations=100, **PLAIN)
    assert result.activations[0] >= 0.995 * best_neuron
    window = result.inputs[0, 0, 2:5, 2:5].numpy()
    np.testing.assert_allclose(window, np.where(w > 0, hi, lo), atol=1e-6)


def test_huge_total_variation_weight_gives_a_constant_image(lab_model):
    result = visualize(lab_model, logit(3), tv_weight=1e6, lp_weight=0.0, jitter=0)
    x = result.inputs
    # the seed is noise with std 5% of the range; what is left is a faint, smooth ramp
    assert x.max() - x.min() < 0.01
    assert x.std() < 0.002
    assert result.history["tv"][-1, 0] < 1e-3 * result.history["tv"][0, 0]


# --- keras-vis' algorithm, re-implemented directly in NumPy -------------------------------------


def keras_vis_reference(w, b, x0, iterations, act_w, lp_w, tv_w, p=6.0):
    """keras-vis' Optimizer.minimize for the loss -act_w*(w.x + b) + lp_w*LP + tv_w*TV on one
    (C, H, W) image: gradient L2-normalized, RMSProp(decay 0.95, eps 1e-7 inside the sqrt),
    step 1. Returns the scored images and their losses."""
    c, h, wd = x0.shape
    size = c * h * wd
    x = x0.astype(np.float64).copy()
    cache = np.zeros_like(x)
    images, losses = [], []
    for _ in range(iterations):
        dv = x[:, 1:, :-1] - x[:, :-1, :-1]
        dh = x[:, :-1, 1:] - x[:, :-1, :-1]
        tv = (dv**2 + dh**2).sum() / size
        g_tv = np.zeros_like(x)
        g_tv[:, 1:, :-1] += 2 * dv
        g_tv[:, :-1, 1:] += 2 * dh
        g_tv[:, :-1, :-1] -= 2 * (dv + dh)
        g_tv /= size
        norm = (np.abs(x) ** p).sum() ** (1 / p)
        g_lp = np.abs(x) ** (p - 1) * np.sign(x) / norm ** (p - 1) / size
        loss = -act_w * ((w * x).sum() + b) + lp_w * norm / size + tv_w * tv
        grad = -act_w * w + lp_w * g_lp + tv_w * g_tv
        images.append(x.copy())
        losses.append(loss)
        grad = grad / np.sqrt(max((grad**2).sum(), 1e-12))
        cache = 0.95 * cache + 0.05 * grad**2
        x = x - grad / np.sqrt(cache + 1e-7)
    return images, losses, x


def test_keras_vis_recipe_matches_keras_vis_update_step_by_step():
    shape = (1, 4, 5)
    model = linear_unit(shape, seed=3)
    w = model[1].weight.detach().numpy().reshape(shape).astype(np.float64)
    b = model[1].bias.item()
    x0 = torch.rand(shape, generator=torch.Generator().manual_seed(1)) * 0.2 + 0.4
    images, losses, last = keras_vis_reference(w, b, x0.numpy(), 6, 1.0, 10.0, 10.0)
    seen = []
    result = visualize(
        model,
        unit("1", 0),
        recipe="keras-vis",
        iterations=6,
        seed_input=x0,
        callback=lambda state: seen.append(state.inputs[0].clone()),
    )
    for step, expected in enumerate(images):
        np.testing.assert_allclose(seen[step].numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.history["loss"][:, 0], losses, rtol=1e-4, atol=1e-5)
    # the returned input is the candidate with the lowest loss, scored on itself
    candidates = images + [last]
    final = -((w * last).sum() + b) + 10 * (np.abs(last) ** 6).sum() ** (1 / 6) / 20
    dv, dh = last[:, 1:, :-1] - last[:, :-1, :-1], last[:, :-1, 1:] - last[:, :-1, :-1]
    final += 10 * (dv**2 + dh**2).sum() / 20
    best = candidates[int(np.argmin(losses + [final]))]
    np.testing.assert_allclose(result.inputs[0].numpy(), best, rtol=1e-4, atol=1e-5)


def test_keras_vis_first_step_is_sign_times_sqrt20():
    """With RMSProp's empty cache the first step is -g/sqrt(0.05 g^2 + 1e-7): ~4.47 per pixel
    in input units, whatever the input range, as keras-vis does."""
    model = linear_unit((1, 4, 4))
    w = model[1].weight.detach().reshape(1, 1, 4, 4)
    seen = []
    visualize(
        model,
        unit("1", 0),
        recipe="keras-vis",
        iterations=2,
        tv_weight=0.0,
        lp_weight=0.0,
        callback=lambda state: seen.append(state.inputs.clone()),
    )
    step = seen[1] - seen[0]
    g = w / w.norm()
    expected = g / torch.sqrt(0.05 * g**2 + 1e-7)
    torch.testing.assert_close(step, expected)
    assert step.abs().max() < math.sqrt(20) and step.abs().max() > 4.0


def test_keras_vis_display_is_its_contrast_stretch(lab_model):
    result = visualize(lab_model, logit(1), recipe="keras-vis", iterations=5)
    x = result.inputs[0].numpy()
    expected = np.clip((x - x.mean()) / (x.std() + 1e-7) * 0.1 + 0.5, 0, 1)
    np.testing.assert_allclose(result.images[0], np.moveaxis(expected, 0, -1), atol=1e-6)
    torch.testing.assert_close(
        deprocess_input(torch.full((1, 1, 2, 2), 3.0)), torch.full((1, 1, 2, 2), 0.5)
    )


# --- batching and reproducibility ----------------------------------------------------------------

ROWS = [
    logit(3),
    channel("l2", 4),
    unit("l4", 5) - 0.5 * unit("l4", 1),
    neuron("l1", 2),
    units("l5", [1, 7], pre_activation=True),
]


@pytest.mark.parametrize("recipe", ["actmax", "keras-vis"])
def test_batched_rows_equal_rows_optimized_alone(lab_model, recipe):
    tv = [0.5, 2.0, 10.0, 0.0, 4.0]
    seeds = [3, 1, 4, 1, 5]
    jitter = [2, 0, 1, 3, 2] if recipe == "actmax" else 0
    kwargs = {"recipe": recipe, "iterations": 12}
    batched = visualize(lab_model, ROWS, tv_weight=tv, seed=seeds, jitter=jitter, **kwargs)
    for i, objective in enumerate(ROWS):
        alone = visualize(
            lab_model,
            objective,
            tv_weight=tv[i],
            seed=seeds[i],
            jitter=jitter[i] if isinstance(jitter, list) else jitter,
            **kwargs,
        )
        torch.testing.assert_close(batched.inputs[i], alone.inputs[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(batched.activations[i], alone.activations[0], rtol=1e-4)
        for key, values in batched.history.items():
            np.testing.assert_allclose(values[:, i], alone.history[key][:, 0], rtol=1e-4, atol=1e-5)


def test_same_seed_same_result_bit_for_bit(lab_model):
    a = visualize(lab_model, ROWS, seed=7, iterations=10)
    b = visualize(lab_model, ROWS, seed=7, iterations=10)
    c = visualize(lab_model, ROWS, seed=8, iterations=10)
    assert torch.equal(a.inputs, b.inputs)
    assert all(np.array_equal(a.history[k], b.history[k]) for k in a.history)
    assert not torch.equal(a.inputs, c.inputs)


def test_default_seed_is_keras_vis_noise(lab_model):
    seen = []
    visualize(
        lab_model,
        [logit(0), logit(1)],
        input_range=(0.0, 255.0),
        seed=[0, 1],
        iterations=1,
        callback=lambda state: seen.append(state.inputs.clone()),
    )
    x = seen[0].double()
    for image in x:
        assert image.mean().item() == pytest.approx(127.5, abs=1e-3)
        assert image.std(unbiased=False).item() == pytest.approx(12.75, rel=1e-5)
        # standardized uniform noise ends near +-sqrt(3) standard deviations, not beyond
        assert 1.6 < (image.max() - 127.5) / 12.75 < 1.8
        assert 1.6 < (127.5 - image.min()) / 12.75 < 1.8
    assert not torch.equal(x[0], x[1])


def test_seed_images_are_used_as_given(lab_model):
    start = torch.rand(2, 1, 28, 28)
    seen = []
    visualize(
        lab_model,
        [logit(0), logit(1)],
        seed_input=start,
        iterations=1,
        callback=lambda state: seen.append(state.inputs.clone()),
    )
    torch.testing.assert_close(seen[0], start)
    one = torch.rand(1, 28, 28)
    result = visualize(lab_model, [logit(0), logit(1)], seed_input=one, iterations=1, jitter=0)
    assert result.inputs.shape == (2, 1, 28, 28)
