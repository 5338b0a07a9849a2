import numpy as np
import pytest
import torch
import torch.nn.functional as F
from attribution_helpers import assert_untouched, gap_model, snapshot, trained_lab_model
from torch import nn

from actmax.attribution import grad_cam, grad_cam_plus_plus, rank_correlation
from actmax.errors import ActmaxError, LayerNotFoundError
from actmax.lab.data import load_mnist
from actmax.lab.models import build_model
from actmax.objectives import channel, logit


def class_activation_maps(model, x, classes):
    """The original CAM (Zhou et al. 2016): sum_c W_kc A_c with A the maps before pooling."""
    features = model[1](model[0](x)).detach()
    weights = model[4].weight.detach()[classes]  # (N, C)
    return features, torch.einsum("nc,nchw->nhw", weights, features)


def test_grad_cam_of_a_gap_network_is_the_class_activation_map():
    model = gap_model()
    x = torch.rand(5, 2, 8, 12)  # not square; the stride-2 conv gives 4x6 maps
    classes = [0, 1, 2, 1, 0]
    result = grad_cam(model, x, classes, normalize=False)
    assert result.layer == "1"  # the last spatial layer before the target (pooling is 1x1)
    _, cam = class_activation_maps(model, x, classes)
    # Grad-CAM's weights are W_kc / (h*w), so its sum is CAM / (h*w), negative parts included.
    np.testing.assert_allclose(result.raw, (cam / 24).numpy(), rtol=1e-5, atol=1e-7)
    upsampled = F.interpolate(cam.clamp(min=0)[:, None] / 24, size=(8, 12), mode="bilinear")
    np.testing.assert_allclose(result.maps, upsampled[:, 0].numpy(), rtol=1e-5, atol=1e-7)
    # Normalized, the 1/(h*w) disappears: each map is min-max scaled ReLU(CAM), upsampled.
    scaled = grad_cam(model, x, classes).maps
    flat = upsampled.flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    span = (high - low)[:, None, None]
    expected = torch.where(span > 0, (upsampled[:, 0] - low[:, None, None]) / span, 0.0)
    np.testing.assert_allclose(scaled, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert (span > 0).sum() >= 3  # most maps have a range; an all-negative CAM becomes all 0
    assert scaled.shape == (5, 8, 12)


def test_grad_cam_plus_plus_of_a_gap_network_has_the_closed_form_weights():
    model = gap_model()
    x = torch.rand(3, 2, 8, 12)
    classes = [2, 0, 1]
    result = grad_cam_plus_plus(model, x, classes, normalize=False)
    features, _ = class_activation_maps(model, x, classes)
    w = model[4].weight.detach()[classes]  # (N, C); the gradient is w / (h*w) everywhere
    mean = features.mean((2, 3))
    # alpha = g^2 / (2 g^2 + g^3 sum A) = 1 / (2 + w * mean A); sum_ij alpha relu(g) = alpha relu(w)
    weights = w.clamp(min=0) / (2 + w * mean)
    expected = torch.einsum("nc,nchw->nhw", weights, features)
    np.testing.assert_allclose(result.raw, expected.numpy(), rtol=1e-5, atol=1e-7)
    assert result.method == "gradcam++"


def test_lab_cnn_layer_choice_and_batching(lab_model):
    x = torch.rand(4, 1, 28, 28)
    auto = grad_cam(lab_model, x, 3)
    assert auto.layer == "l3_mp" and auto.raw.shape == (4, 3, 3)
    assert auto.maps.shape == (4, 28, 28) and auto.maps.dtype == np.float32
    by_index = grad_cam(lab_model, x, 3, layer=5)
    by_name = grad_cam(lab_model, x, 3, layer="l3")
    assert by_index.layer == by_name.layer == "l3" and by_name.raw.shape == (4, 7, 7)
    np.testing.assert_array_equal(by_index.maps, by_name.maps)
    one_by_one = np.concatenate([grad_cam(lab_model, x[i : i + 1], 3).maps for i in range(4)])
    np.testing.assert_allclose(auto.maps, one_by_one, rtol=1e-5, atol=1e-6)
    # A target inside the network: the layer is searched before the target's layer.
    assert grad_cam(lab_model, x, channel("l3", 0)).layer == "l2_mp"


def test_grad_cam_per_image_targets_and_prediction(lab_model):
    x = torch.rand(3, 1, 28, 28)
    predicted = lab_model(x).argmax(1).tolist()
    default = grad_cam(lab_model, x)
    explicit = grad_cam(lab_model, x, predicted)
    np.testing.assert_array_equal(default.maps, explicit.maps)
    assert default.targets == tuple(f"class {c}" for c in predicted)
    mixed = grad_cam(lab_model, x, [logit(1), 4, logit(2) - logit(3)])
    assert mixed.targets[1] == "class 4"


@pytest.mark.parametrize("plus_plus", [False, True])
def test_grad_cam_leaves_the_model_as_it_was(lab_model, plus_plus):
    lab_model.train()
    before = snapshot(lab_model)
    grad_cam(lab_model, torch.rand(2, 1, 28, 28), 1, plus_plus=plus_plus)
    assert_untouched(lab_model, before)
    with pytest.raises(ActmaxError):
        grad_cam(lab_model, torch.rand(2, 1, 28, 28), 1, layer="l4", plus_plus=plus_plus)
    assert_untouched(lab_model, before)


@pytest.mark.parametrize(
    ("model", "kwargs", "error", "message"),
    [
        ("lab", {"layer": "l4"}, ActmaxError, r"spatial extent.*'l4' has output shape \(25,\)"),
        ("lab", {"layer": "flat"}, ActmaxError, "spatial extent"),
        ("lab", {"layer": "l9"}, LayerNotFoundError, "the layers are: l0, l1"),
        ("lab", {"layer": "l3", "target": channel("l2", 0)}, ActmaxError, "does not depend on"),
        ("lab", {"images": torch.rand(1, 3, 28, 28)}, ActmaxError, r"takes \(1, 28, 28\)"),
        ("linear", {}, ActmaxError, "no layer with spatial extent comes before the target"),
    ],
)
def test_bad_input_gives_one_clear_error(lab_model, model, kwargs, error, message):
    net = lab_model if model == "lab" else nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    args = {"images": torch.rand(2, 1, 4, 4) if model == "linear" else torch.rand(2, 1, 28, 28)}
    args |= {"target": 1} | kwargs
    with pytest.raises(error, match=message):
        grad_cam(net, args.pop("images"), args.pop("target"), **args)


def test_grad_cam_depends_on_the_weights():
    """Adebayo et al. (2018): re-drawing a trained model's weights must change its maps."""
    mnist = load_mnist()
    x, y = mnist.x_test[:32], mnist.y_test[:32]
    model = trained_lab_model()
    for layer in ("l3", "l3_mp"):
        trained = grad_cam(model, x, y, layer=layer).maps
        randomized = grad_cam(build_model("lab_cnn", seed=1), x, y, layer=layer).maps
        assert np.nanmean(rank_correlation(trained, randomized)) < 0.5
