import pytest
import torch
from keras_lab import keras, keras_lab_cnn, layers

from actmax.compat.keras import activations
from actmax.compat.vis.utils import utils
from actmax.errors import ActmaxError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture
def x():
    return torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_find_layer_idx_counts_as_the_lab_does_for_keras_and_torch(lab_model):
    assert utils.find_layer_idx(keras_lab_cnn(), "l5") == 9
    assert utils.find_layer_idx(lab_model, "l5") == 9
    assert utils.find_layer_idx(lab_model, "l0") == 0


def test_find_layer_idx_of_a_sequential_model_is_its_position_in_model_layers():
    model = keras.Sequential(
        [layers.Input((4,)), layers.Dense(3, name="a"), layers.Dense(2, name="b")]
    )
    assert (
        utils.find_layer_idx(model, "b") == 1 == [layer.name for layer in model.layers].index("b")
    )
    assert utils.layer_name(model, 1) == "b"


def test_a_missing_layer_is_a_value_error_as_in_keras_vis_naming_the_layers(lab_model):
    with pytest.raises(ValueError, match="No layer with name 'dense_1'.*l0, l1, l1_mp"):
        utils.find_layer_idx(lab_model, "dense_1")
    with pytest.raises(ActmaxError, match=r"out of range: this model has layers 0\.\.9"):
        utils.layer_name(lab_model, 12)


def test_the_labs_softmax_swap_on_a_keras_model_needs_no_reload(x):
    model = keras_lab_cnn(seed=2)
    logits = keras.Model(model.inputs, model.get_layer("l4").output)
    layer_idx = utils.find_layer_idx(model, "l5")
    model.layers[layer_idx].activation = keras.activations.linear
    swapped = utils.apply_modifications(model)
    assert swapped is model
    nhwc = x.permute(0, 2, 3, 1)
    dense = model.get_layer("l5")
    expected = logits(nhwc) @ dense.kernel.value + dense.bias.value
    torch.testing.assert_close(swapped(nhwc), expected)


def test_the_labs_softmax_swap_on_a_torch_model(lab_model, x):
    lab_model.eval()
    probabilities = lab_model(x)
    lab_model.l5.activation = activations.linear
    model = utils.apply_modifications(lab_model)
    assert model is lab_model
    torch.testing.assert_close(model(x), model.logits(x))
    torch.testing.assert_close(torch.softmax(model(x), 1), probabilities)


def test_apply_modifications_refuses_what_is_not_a_model():
    with pytest.raises(ActmaxError, match="expected a torch.nn.Module, a Keras 3 model"):
        utils.apply_modifications([1, 2])


def test_activations_by_name(x):
    assert activations.get(None) is activations.linear
    assert activations.get("softmax") is activations.softmax
    torch.testing.assert_close(activations.softmax(x.flatten(1)).sum(1), torch.ones(3))
    with pytest.raises(ActmaxError, match="unknown activation 'swish'"):
        activations.get("swish")
