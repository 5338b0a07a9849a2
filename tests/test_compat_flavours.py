"""Saliency and Grad-CAM as the lab's keras-vis fork returns them, and as keras-vis master does."""

import numpy as np
import pytest
import torch
from keras_lab import keras, keras_lab_cnn, torch_twin

from actmax.attribution import saliency
from actmax.compat import vis
from actmax.compat.vis.losses import ActivationMaximization
from actmax.compat.vis.regularizers import TotalVariation
from actmax.compat.vis.utils import utils
from actmax.compat.vis.visualization import (
    get_num_filters,
    visualize_cam,
    visualize_cam_with_losses,
    visualize_saliency,
    visualize_saliency_with_losses,
)
from actmax.errors import ActmaxError
from actmax.objectives import unit
from actmax.regularizers import total_variation

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def pair():
    model = keras_lab_cnn(seed=4)
    return model, torch_twin(model)


@pytest.fixture(scope="module")
def digit():
    image = np.zeros((28, 28, 1), dtype=np.float32)
    image[4:24, 12:16] = 1.0
    return image


@pytest.fixture
def master():
    previous = vis.set_flavour("master")
    yield
    vis.set_flavour(previous)


def test_with_losses_are_the_plain_functions_on_their_losses(pair, digit):
    keras_model, twin = pair
    losses = [(ActivationMaximization(keras_model.layers[9], 2), -1)]
    np.testing.assert_array_equal(
        visualize_saliency_with_losses(keras_model.input, losses, digit),
        visualize_saliency(keras_model, 9, 2, digit),
    )
    np.testing.assert_array_equal(
        visualize_cam_with_losses(keras_model.input, losses, digit, keras_model.layers[6]),
        visualize_cam(keras_model, 9, 2, digit),
    )
    torch_losses = [(ActivationMaximization(twin.l5, 2), -1)]
    np.testing.assert_array_equal(
        visualize_cam_with_losses(twin, torch_losses, digit, "l3_mp"),
        visualize_cam(twin, 9, 2, digit),
    )


def test_a_prior_in_the_saliency_losses_adds_its_gradient(pair, digit, master):
    twin = pair[1]
    image = utils.model_input(twin)
    losses = [(ActivationMaximization("l5", 2), -1), (TotalVariation(image), 0.5)]
    got = visualize_saliency_with_losses(image, losses, digit, grad_modifier=None, keepdims=True)
    x = torch.from_numpy(digit).permute(2, 0, 1)[None].requires_grad_(True)
    (twin(x)[0, 2] + 0.5 * total_variation(x)[0]).backward()
    grads = x.grad[0].permute(1, 2, 0).numpy()
    expected = (grads - grads.min()) / (grads.max() - grads.min() + 1e-7)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_master_gives_float_maps_and_keepdims(pair, digit, master):
    keras_model, twin = pair
    for model in pair:
        flat = visualize_saliency(model, 9, 2, digit)
        kept = visualize_saliency(model, 9, 2, digit, keepdims=True)
        cam = visualize_cam(model, 9, 2, digit)
        assert flat.shape == (28, 28) and kept.shape == (28, 28, 1) and cam.shape == (28, 28)
        assert flat.dtype == np.float32 and flat.min() >= 0 and flat.max() <= 1
        np.testing.assert_allclose(flat, kept[..., 0], atol=1e-6)  # one channel: max is itself
    direct = saliency(twin, torch.from_numpy(digit).permute(2, 0, 1)[None], unit("l5", 2))
    # keras-vis' normalize divides by (max - min + 1e-7), actmax's by (max - min)
    np.testing.assert_allclose(visualize_saliency(twin, 9, 2, digit), direct.maps[0], rtol=1e-4)


def test_master_takes_gradients_with_respect_to_a_layer(pair, digit, master):
    keras_model, twin = pair
    keras_map = visualize_saliency(
        keras_model, 9, 2, digit, wrt_tensor=keras_model.layers[6].output
    )
    torch_map = visualize_saliency(twin, 9, 2, digit, wrt_tensor=utils.layer_output(twin, 6))
    assert keras_map.shape == torch_map.shape == (3, 3)
    np.testing.assert_allclose(keras_map, torch_map, atol=1e-4)


def test_master_saliency_of_a_vector_input_keeps_its_shape(master):
    inputs = keras.Input((35,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(5)(hidden))
    grads = visualize_saliency(
        model, -1, 0, np.random.default_rng(0).random((1, 35)), keepdims=True
    )
    assert grads.shape == (35,)


def test_the_fork_has_no_master_options_and_flavours_are_checked(pair, digit, monkeypatch):
    with pytest.raises(ActmaxError, match="keepdims and wrt_tensor are keras-vis master's"):
        visualize_saliency(pair[1], 9, 2, digit, keepdims=True)
    with pytest.raises(ActmaxError, match="unknown keras-vis flavour 'main'"):
        vis.set_flavour("main")
    monkeypatch.setattr(vis, "_chosen", ["0.5"])
    with pytest.raises(ActmaxError, match="ACTMAX_KERAS_VIS is '0.5'"):
        vis.flavour()


def test_guided_saliency_of_a_keras_model_uses_a_modified_copy(pair, digit):
    keras_model, twin = pair
    maps = [visualize_saliency(m, 9, 2, digit, backprop_modifier="guided") for m in pair]
    assert np.abs(maps[0].astype(int) - maps[1].astype(int)).max() <= 1
    assert keras_model.layers[1].activation.__name__ == "relu"  # the original is left alone
    plain = visualize_saliency(keras_model, 9, 2, digit)
    assert not np.array_equal(plain, maps[0])


def test_get_num_filters(pair):
    keras_model, twin = pair
    assert get_num_filters(keras_model.layers[9]) == 10
    assert get_num_filters(keras_model.get_layer("l3")) == keras_model.get_layer("l3").filters
    assert get_num_filters(twin.l5) == 10
