"""Preprocessing in front of the model, RGB and non-square inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import actmax
from actmax import logit
from actmax.adapters import Normalize, as_adapter
from actmax.attribution import grad_cam, saliency
from actmax.errors import ActmaxError

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_normalize_per_channel():
    x = torch.rand(2, 3, 4, 5)
    expected = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    torch.testing.assert_close(Normalize(MEAN, STD)(x), expected)
    torch.testing.assert_close(Normalize(0.5, 0.25)(x), (x - 0.5) / 0.25)
    with pytest.raises(ActmaxError, match="statistics for 3 channels, but the input has 1"):
        Normalize(MEAN, STD)(torch.rand(1, 1, 4, 4))
    with pytest.raises(ActmaxError, match="std must be positive"):
        Normalize(0, 0)
    with pytest.raises(ActmaxError, match="preprocess must be a callable"):
        as_adapter(nn.Linear(2, 2), preprocess=(0.5, 0.2))


class Linear(nn.Module):
    """f(z) = W z: a known gradient in normalized space, W / std in pixel space."""

    input_shape = (3, 4, 6)

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 6, 2, bias=False)

    def forward(self, z):
        return self.fc(z.flatten(1))


def test_the_model_gets_normalized_input_and_gradients_are_in_pixel_space():
    torch.manual_seed(0)
    model = Linear().eval()
    normalize = Normalize(MEAN, STD)
    adapter = as_adapter(model, preprocess=normalize)
    x = torch.rand(2, 3, 4, 6)
    out, acts = adapter.run(x, [adapter.ref(0)])
    torch.testing.assert_close(out, model(normalize(x)))
    assert acts[adapter.ref(0)] is x  # the input is recorded in pixel space
    result = saliency(model, x, target=1, preprocess=normalize, normalize=False)
    w = model.fc.weight[1].detach().view(3, 4, 6) / torch.tensor(STD).view(3, 1, 1)
    torch.testing.assert_close(torch.from_numpy(result.raw), w.expand(2, 3, 4, 6))


def test_visualize_optimizes_pixels_for_a_normalized_model():
    torch.manual_seed(0)
    model = Linear().eval()
    adapter = as_adapter(model, preprocess=Normalize(MEAN, STD))
    objectives = [logit(0), logit(1)]
    result = actmax.visualize(
        adapter, objectives, iterations=40, tv_weight=0, lp_weight=0, jitter=0
    )
    assert result.inputs.shape == (2, 3, 4, 6) and result.images.shape == (2, 4, 6, 3)
    assert result.inputs.min() >= 0 and result.inputs.max() <= 1  # pixel space
    # the box optimum of a linear unit: each pixel at the end of [0, 1] its weight points to
    # (std > 0, so normalizing keeps the signs)
    optimum = (model.fc.weight.detach().view(2, 3, 4, 6) > 0).float()
    torch.testing.assert_close(result.inputs, optimum)
    best = model(Normalize(MEAN, STD)(optimum))[[0, 1], [0, 1]].detach()
    torch.testing.assert_close(torch.from_numpy(result.activations), best)


class RgbNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


@pytest.mark.parametrize("shape", [(3, 12, 20), (3, 17, 9)])
def test_rgb_non_square_inputs_everywhere(shape):
    torch.manual_seed(1)
    model = RgbNet().eval()
    adapter = as_adapter(model, input_shape=shape, preprocess=Normalize(MEAN, STD))
    result = actmax.visualize(adapter, [logit(1), actmax.channel("conv", 2)], iterations=3)
    assert result.inputs.shape == (2, *shape) and result.images.shape == (2, *shape[1:], 3)
    x = torch.rand(2, *shape)
    assert grad_cam(adapter, x, target=3).maps.shape == (2, *shape[1:])
    assert saliency(adapter, x).maps.shape == (2, *shape[1:])


def test_one_image_on_a_plain_module_without_an_input_shape():
    torch.manual_seed(2)
    model = RgbNet().eval()
    image = torch.rand(3, 8, 10)
    one = saliency(model, image, target=2)
    batch = saliency(model, image[None], target=2)
    assert one.maps.shape == (1, 8, 10)
    np.testing.assert_array_equal(one.maps, batch.maps)
    assert grad_cam(model, image.numpy()).maps.shape == (1, 8, 10)
