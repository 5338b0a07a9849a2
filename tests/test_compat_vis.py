"""keras-vis' visualization API on actmax, for a Keras model and its PyTorch twin."""

import numpy as np
import pytest
import torch
from keras_lab import keras, keras_lab_cnn, torch_twin

from actmax.compat.keras import activations
from actmax.compat.vis.utils import utils
from actmax.compat.vis.visualization import (
    overlay,
    visualize_activation,
    visualize_cam,
    visualize_saliency,
)
from actmax.engine import visualize
from actmax.errors import ActmaxError
from actmax.objectives import layer_mean, unit, units

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
ITERS = 8


@pytest.fixture(scope="module")
def pair():
    model = keras_lab_cnn(seed=4)
    return model, torch_twin(model)


@pytest.fixture(scope="module")
def digit():
    """A stand-in digit, channels-last as keras-vis takes it: a bright vertical bar."""
    image = np.zeros((28, 28, 1), dtype=np.float32)
    image[4:24, 12:16] = 1.0
    return image


def test_activation_images_are_the_same_for_keras_and_torch(pair):
    images = [
        visualize_activation(model, 9, filter_indices=3, input_range=(0.0, 1.0), max_iter=ITERS)
        for model in pair
    ]
    assert images[0].shape == (28, 28, 1) and images[0].dtype == np.float32
    np.testing.assert_allclose(images[0], images[1], atol=1e-4)


def test_activation_is_the_engines_keras_vis_recipe_rescaled_to_the_range(pair):
    model = pair[1]
    for filter_indices, objective in (
        (3, unit("l5", 3)),
        ([1, 7], units("l5", [1, 7])),
        (None, layer_mean("l5")),
    ):
        image = visualize_activation(
            model, 9, filter_indices, input_range=(-1.0, 3.0), tv_weight=0.5, max_iter=ITERS
        )
        result = visualize(
            model,
            objective,
            recipe="keras-vis",
            iterations=ITERS,
            input_range=(-1.0, 3.0),
            tv_weight=0.5,
            seed=0,
        )
        np.testing.assert_allclose(image, -1.0 + 4.0 * result.images[0], rtol=1e-6, atol=1e-6)


def test_integer_ranges_give_uint8_images_and_float_ranges_floats(pair):
    model = pair[1]
    as_int = visualize_activation(model, 9, 0, max_iter=ITERS)  # input_range=(0, 255)
    as_float = visualize_activation(model, 9, 0, input_range=(0.0, 255.0), max_iter=ITERS)
    assert as_int.dtype == np.uint8 and as_float.dtype == np.float32
    np.testing.assert_array_equal(as_int, np.clip(as_float, 0, 255).astype(np.uint8))
    assert visualize_activation(model, 9, 0, input_range=(0, 1.0), max_iter=2).dtype == np.float32


def test_saliency_maps_are_jet_rgb_and_the_same_for_keras_and_torch(pair, digit):
    maps = [visualize_saliency(model, 9, 2, digit) for model in pair]
    assert maps[0].shape == (28, 28, 3) and maps[0].dtype == np.uint8
    assert np.abs(maps[0].astype(int) - maps[1].astype(int)).max() <= 1
    assert len(np.unique(maps[0].reshape(-1, 3), axis=0)) > 10  # a map, not a flat colour


def test_saliency_is_the_normalized_channel_max_of_the_absolute_gradient(pair, digit):
    model = pair[1]
    x = torch.from_numpy(digit).permute(2, 0, 1)[None].requires_grad_(True)
    model(x)[0, 2].backward()
    grads = x.grad.abs().amax(1)[0].numpy()
    expected = (grads - grads.min()) / (grads.max() - grads.min() + 1e-7)
    from matplotlib import colormaps

    np.testing.assert_array_equal(
        visualize_saliency(model, 9, 2, digit.transpose(2, 0, 1)),  # channels-first works too
        np.uint8(colormaps["jet"](expected)[..., :3] * 255),
    )


def test_cam_maps_are_the_same_for_keras_and_torch_on_keras_vis_layer(pair, digit):
    maps = [visualize_cam(model, 9, 2, digit) for model in pair]
    assert maps[0].shape == (28, 28, 3) and maps[0].dtype == np.uint8
    assert np.abs(maps[0].astype(int) - maps[1].astype(int)).max() <= 1
    explicit = visualize_cam(pair[0], 9, 2, digit, penultimate_layer_idx=6)  # l3_mp
    np.testing.assert_array_equal(maps[0], explicit)


def test_the_labs_swap_makes_the_class_visualization_maximize_the_logit(digit):
    model = keras_lab_cnn(seed=5)
    twin = torch_twin(model)
    idx = utils.find_layer_idx(model, "l5")
    model.layers[idx].activation = keras.activations.linear
    model = utils.apply_modifications(model)
    twin.l5.activation = activations.linear
    images = [
        visualize_activation(m, idx, 5, input_range=(0.0, 1.0), tv_weight=0.5, max_iter=ITERS)
        for m in (model, twin)
    ]
    np.testing.assert_allclose(images[0], images[1], atol=1e-4)
    logit = visualize(
        twin,
        unit("l5", 5, pre_activation=True),
        recipe="keras-vis",
        iterations=ITERS,
        tv_weight=0.5,
        seed=0,
    )
    np.testing.assert_allclose(images[1], logit.images[0], atol=1e-6)


def test_overlay_is_keras_vis_blend():
    a = np.full((2, 2, 3), 200, np.uint8)
    b = np.full((2, 2, 3), 100, np.uint8)
    np.testing.assert_array_equal(overlay(a, b, 0.25), np.full((2, 2, 3), 125, np.uint8))
    with pytest.raises(ValueError):
        overlay(a, b, 1.5)


def test_unsupported_options_and_bad_inputs_are_one_clear_error(pair, digit):
    model = pair[1]
    with pytest.raises(ActmaxError, match="wrt_tensor is a model tensor"):
        visualize_activation(model, 9, 0, wrt_tensor=object())
    with pytest.raises(TypeError, match="unexpected arguments: \\['learning_rate'\\]"):
        visualize_activation(model, 9, 0, learning_rate=0.1)
    with pytest.raises(ActmaxError, match=r"seed_input has shape \(28, 27, 1\)"):
        visualize_saliency(model, 9, 0, np.zeros((28, 27, 1)))
    with pytest.raises(ActmaxError, match="unknown grad_modifier 'square'"):
        visualize_saliency(model, 9, 0, digit, grad_modifier="square")
    with pytest.raises(ValueError, match="No layer with name"):
        utils.find_layer_idx(model, "conv9")
    with pytest.raises(ActmaxError, match="input_range needs low < high"):
        visualize_activation(model, 9, 0, input_range=(1.0, 0.0))
