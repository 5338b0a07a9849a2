"""Saliency and Grad-CAM on a Keras model equal those on its PyTorch twin."""

import numpy as np
import pytest
import torch
from keras_lab import keras_lab_cnn, torch_twin

from actmax.attribution import grad_cam, saliency
from actmax.objectives import channel, logit, unit

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def pair():
    model = keras_lab_cnn(seed=6)
    return model, torch_twin(model)


@pytest.fixture(scope="module")
def images():
    return torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3))


TARGETS = [logit(0), logit(7), unit("l4", 3), channel("l3", 5)]


@pytest.mark.parametrize("method", ["vanilla", "smoothgrad", "gradxinput"])
def test_saliency_maps_match(pair, images, method):
    maps = [saliency(model, images, TARGETS, method=method, samples=4) for model in pair]
    np.testing.assert_allclose(maps[0].raw, maps[1].raw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(maps[0].maps, maps[1].maps, atol=1e-4)
    np.testing.assert_array_equal(maps[0].predictions, maps[1].predictions)


@pytest.mark.parametrize("plus_plus", [False, True])
def test_grad_cam_maps_match_on_the_same_automatically_chosen_layer(pair, images, plus_plus):
    cams = [grad_cam(model, images[:3], TARGETS[:3], plus_plus=plus_plus) for model in pair]
    assert cams[0].layer == cams[1].layer == "l3_mp"
    np.testing.assert_allclose(cams[0].raw, cams[1].raw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(cams[0].maps, cams[1].maps, atol=1e-4)


def test_grad_cam_on_a_chosen_keras_layer_index(pair, images):
    cams = [grad_cam(model, images, logit(2), layer=3) for model in pair]  # l2
    assert cams[0].layer == "l2" and cams[0].raw.shape == (4, 14, 14)
    np.testing.assert_allclose(cams[0].maps, cams[1].maps, atol=1e-4)


def test_an_int_target_means_the_logit_on_keras_models_too(pair, images):
    keras_model, torch_model = pair
    by_index = saliency(keras_model, images, 7)
    by_logit = saliency(torch_model, images, logit(7))
    np.testing.assert_allclose(by_index.raw, by_logit.raw, rtol=1e-4, atol=1e-6)
