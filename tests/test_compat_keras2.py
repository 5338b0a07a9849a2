"""Keras 2's names keras-vis code uses (actmax.compat.keras), and keras-vis' array helpers."""

import numpy as np
import pytest
import torch
from keras_lab import keras
from torch import nn

from actmax.compat.keras import backend as K
from actmax.compat.keras.initializers import Constant
from actmax.compat.keras.layers import Activation, Dense, advanced_activations
from actmax.compat.keras.models import Sequential
from actmax.compat.vis.backend import modify_model_backprop
from actmax.compat.vis.utils import test_utils, utils
from actmax.errors import ActmaxError

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation:DeprecationWarning",
    "ignore:Do not pass an `input_shape`:UserWarning",
)


def two_layer_net(with_activation_layer: bool):
    """x -> relu(x W1) W2 with W1 = [[-1, 1], [-1, 1]], W2 = [[-1], [1]]: d out / d x = W1 @
    (W2 * relu'), so [1, 1] wherever the second hidden unit is on."""
    first = Constant([[-1.0, 1.0], [-1.0, 1.0]])
    layers = [Dense(2, activation="relu", use_bias=False, kernel_initializer=first)]
    if with_activation_layer:
        layers = [Dense(2, use_bias=False, kernel_initializer=first), Activation("relu")]
    last = Dense(1, use_bias=False, kernel_initializer=Constant([-1.0, 1.0]))
    return Sequential([keras.Input((2,)), *layers, last])


def input_gradient(model, x):
    grads = K.gradients(model.output, model.input)[0]
    return K.function([model.input, K.learning_phase()], [grads])([np.array([x]), 0])[0][0]


@pytest.mark.parametrize("with_activation_layer", [False, True])
def test_guided_backprop_copy_has_the_known_gradients(with_activation_layer):
    model = two_layer_net(with_activation_layer)
    guided = modify_model_backprop(model, "guided")
    rectified = modify_model_backprop(model, "rectified")
    cases = {  # input: (plain, guided, rectified)
        (1.0, 0.0): ([1, 1], [1, 1], [1, 1]),
        (-1.0, 0.0): ([1, 1], [0, 0], [1, 1]),  # the first hidden unit gets -1: guided drops it
        (0.0, 0.0): ([0, 0], [0, 0], [1, 1]),  # no unit is on; rectified passes it anyway
    }
    for x, expected in cases.items():
        got = [input_gradient(m, x) for m in (model, guided, rectified)]
        np.testing.assert_array_equal(got, np.array(expected, dtype=np.float32))
    assert model.layers[0].activation.__name__ in ("relu", "linear")  # the original is unchanged
    np.testing.assert_array_equal(model.get_weights()[0], guided.get_weights()[0])


def test_a_torch_copy_backpropagates_like_actmax_guided_saliency():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1))
    guided = modify_model_backprop(model, "guided")
    assert isinstance(model[1], nn.ReLU) and not isinstance(guided[1], nn.ReLU)
    x = torch.randn(3, 4, requires_grad=True)
    (g_copy,) = torch.autograd.grad(guided(x).sum(), x)
    from actmax.attribution import relu_backprop

    with relu_backprop(model, "guided"):
        (g_hooks,) = torch.autograd.grad(model(x).sum(), x)
    torch.testing.assert_close(g_copy, g_hooks)
    with pytest.raises(ActmaxError, match="no nn.ReLU modules"):
        modify_model_backprop(nn.Sequential(nn.Linear(2, 2)), "guided")
    with pytest.raises(ActmaxError, match="unknown backprop_modifier 'smooth'"):
        modify_model_backprop(model, "smooth")


def test_keras_2_names():
    model = Sequential([keras.Input((3,)), Dense(2)])
    assert model.input is model.inputs[0] and model.output is model.outputs[0]
    kernel = Constant([1.0, 2.0, 3.0])((3, 1))
    np.testing.assert_array_equal(K.int_shape(kernel), (3, 1))
    np.testing.assert_array_equal(np.asarray(kernel)[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(np.asarray(Constant(2.0)((2, 2))), np.full((2, 2), 2.0))
    with pytest.raises(ActmaxError, match="Constant holds 2 values but the weight has shape"):
        Constant([1.0, 2.0])((3,))
    assert advanced_activations.LeakyReLU is keras.layers.LeakyReLU
    assert float(K.sum(K.square(K.ones((2, 3))))) == 6.0
    assert K.ndim(K.zeros((1, 2, 3))) == 3 and K.epsilon() == 1e-7
    np.testing.assert_allclose(np.asarray(K.l2_normalize(torch.tensor([3.0, 4.0]))), [0.6, 0.8])


def test_image_shapes_follow_keras_data_format():
    before = K.image_data_format()
    try:
        K.set_image_data_format("channels_first")
        assert utils.get_img_shape(K.ones(shape=(5, 4, 1, 2))) == (5, 4, 1, 2)
        assert utils.slicer[:, 3, ...] == (slice(None), 3, Ellipsis)
        K.set_image_data_format("channels_last")
        assert utils.get_img_shape(K.ones(shape=(5, 1, 2, 4))) == (5, 4, 1, 2)
        assert utils.get_img_shape(np.ones((5, 1, 2, 3, 4))) == (5, 4, 1, 2, 3)
        assert utils.slicer[:, 3, ...] == (slice(None), Ellipsis, 3)
    finally:
        K.set_image_data_format(before)


def test_keras_vis_array_helpers():
    assert list(utils.reverse_enumerate("abc")) == [(2, "c"), (1, "b"), (0, "a")]
    assert utils.listify(3) == [3] and utils.listify([3]) == [3] and utils.listify((3,)) == [(3,)]
    assert utils.add_defaults_to_kwargs({"a": 1, "b": 2}, b=3) == {"a": 1, "b": 3}
    np.random.seed(0)
    noise = utils.random_array((1000,), mean=5.0, std=2.0)
    assert noise.mean() == pytest.approx(5.0) and noise.std() == pytest.approx(2.0, rel=1e-6)
    stretched = utils.deprocess_input(np.array([0.0, 1.0, 2.0, 3.0]), (0, 255))
    spread = np.array([-1.5, -0.5, 0.5, 1.5]) / np.sqrt(1.25)
    np.testing.assert_allclose(stretched, 255 * (spread * 0.1 + 0.5), rtol=1e-6)
    tiles = utils.stitch_images([np.ones((2, 2, 1))] * 3, margin=1, cols=2)
    assert tiles.shape == (5, 5, 1) and tiles.sum() == 12
    np.testing.assert_array_equal(utils.bgr2rgb(np.array([[1, 2, 3]])), [[3, 2, 1]])
    with pytest.raises(ValueError, match="Unknown"):
        utils.get_identifier("nope", {}, "vis.grad_modifiers")


def test_keras_vis_test_decorators():
    calls = []

    @test_utils.skip_backends("torch")
    def skipped():
        calls.append("skipped")

    @test_utils.skip_backends(["theano", "tensorflow"])
    def run():
        calls.append("run")

    @test_utils.across_data_formats
    def formats():
        calls.append(K.image_data_format())

    before = K.image_data_format()
    skipped(), run(), formats()
    assert calls == ["run", "channels_first", "channels_last"]
    assert K.image_data_format() == before
