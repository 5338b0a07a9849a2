"""Activation maximization of a Keras model equals that of its PyTorch twin, for both recipes."""

import numpy as np
import pytest
from keras_lab import keras_lab_cnn, torch_twin

from actmax.engine import visualize
from actmax.objectives import channel, logit, neuron, unit

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


OBJECTIVES = [logit(1), unit("l5", 4), channel("l3", 2), neuron("l1", 5), logit(1) + logit(7)]


@pytest.fixture(scope="module", params=["float32", "float64"])
def pair(request):
    model = keras_lab_cnn(seed=7, dtype=request.param)
    return model, torch_twin(model)


def run_both(pair, recipe, iterations):
    return [
        visualize(
            model,
            OBJECTIVES,
            recipe=recipe,
            iterations=iterations,
            tv_weight=[0.5, 10, 1, 2, 0.5],
            seed=[0, 1, 2, 3, 4],
        )
        for model in pair
    ]


@pytest.mark.parametrize("recipe", ["keras-vis", "actmax"])
def test_a_batch_of_visualizations_is_the_same_for_keras_and_torch(pair, recipe):
    """In float32 the two models' rounding differs (1e-7) and keras-vis' sign-like steps of a
    whole input unit amplify it over many iterations, so float32 is compared over a few steps
    and float64 over many."""
    float64 = pair[0].get_layer("l1").kernel.dtype == "float64"
    keras_result, torch_result = run_both(pair, recipe, 60 if float64 else 4)
    assert keras_result.images.shape == (5, 28, 28, 1)
    atol = 1e-5 if float64 else 1e-4
    np.testing.assert_allclose(keras_result.inputs, torch_result.inputs, atol=atol)
    np.testing.assert_allclose(keras_result.images, torch_result.images, atol=atol)
    np.testing.assert_allclose(keras_result.activations, torch_result.activations, rtol=atol)
    for key in ("objective", "loss"):
        np.testing.assert_allclose(
            keras_result.history[key], torch_result.history[key], rtol=atol, atol=atol
        )


def test_the_model_comes_back_as_it_was(pair):
    model = pair[0]
    activation = model.get_layer("l5").activation
    flags = [v.trainable for v in model.weights]
    visualize(model, logit(3), recipe="keras-vis", iterations=3)
    assert model.get_layer("l5").activation is activation
    assert [v.trainable for v in model.weights] == flags
    assert all(v.value.requires_grad == v.trainable for v in model.weights)
    assert not any("call" in layer.__dict__ for layer in model.layers)
