import numpy as np
import pytest
import torch
from attribution_helpers import assert_untouched, hand_relu_net, snapshot, trained_lab_model
from torch import nn

from actmax.adapters import as_adapter
from actmax.attribution import SALIENCY_METHODS, rank_correlation, relu_backprop, saliency
from actmax.errors import ActmaxError
from actmax.lab.data import load_mnist
from actmax.lab.models import build_model
from actmax.objectives import channel, logit, unit


def input_gradient(fn, x):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    return grad


def test_vanilla_saliency_of_a_linear_model_is_abs_weight_for_every_input():
    shape = (3, 5, 4)  # colour, not square: the max over channels and the layout both matter
    model = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(shape)), 6))
    x = torch.randn(5, *shape) * 3
    targets = [0, 5, 2, 2, 4]
    result = saliency(model, x, targets, normalize=False)
    weights = model[1].weight.detach().reshape(6, *shape)
    expected = weights[targets].abs().amax(1)
    np.testing.assert_allclose(result.maps, expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.raw, weights[targets].numpy(), rtol=1e-6)
    scaled = saliency(model, x, targets).maps  # normalized: min-max per image
    low = expected.flatten(1).min(1).values[:, None, None]
    high = expected.flatten(1).max(1).values[:, None, None]
    np.testing.assert_allclose(scaled, ((expected - low) / (high - low)).numpy(), atol=1e-6)
    assert result.targets == tuple(f"class {t}" for t in targets)


def test_int_target_is_the_logit_and_none_is_the_predicted_class(lab_model):
    x = torch.rand(4, 1, 28, 28)
    result = saliency(lab_model, x, 3, normalize=False)
    expected = input_gradient(lambda v: lab_model.logits(v)[:, 3], x)
    np.testing.assert_allclose(result.raw, expected.numpy(), rtol=1e-5, atol=1e-7)

    predicted = lab_model(x).argmax(1)
    on_prediction = saliency(lab_model, x, normalize=False)
    expected = input_gradient(lambda v: lab_model.logits(v).gather(1, predicted[:, None]), x)
    np.testing.assert_allclose(on_prediction.raw, expected.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(on_prediction.predictions, predicted.numpy())
    assert on_prediction.targets == tuple(f"class {int(c)}" for c in predicted)


def test_each_image_can_have_its_own_objective(lab_model):
    x = torch.rand(3, 1, 28, 28)
    targets = [logit(1) - logit(7), unit("l4", 3), channel("l3", 2)]
    result = saliency(lab_model, x, targets, normalize=False)
    feats = {}

    def keep(name):
        return lambda _m, _i, out: feats.__setitem__(name, out)

    handles = [lab_model.l4.register_forward_hook(keep("l4"))]
    handles.append(lab_model.l3.register_forward_hook(keep("l3")))
    try:
        grads = [
            input_gradient(lambda v: lab_model.logits(v)[:, 1] - lab_model.logits(v)[:, 7], x),
            input_gradient(lambda v: (lab_model(v), feats["l4"][:, 3])[1], x),
            input_gradient(lambda v: (lab_model(v), feats["l3"][:, 2].mean((1, 2)))[1], x),
        ]
    finally:
        for handle in handles:
            handle.remove()
    for row, grad in enumerate(grads):
        np.testing.assert_allclose(result.raw[row], grad[row].numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("vanilla", [1.0, -1.0]),  # W1^T (w2 * [x>0]) = W1^T (2, 0, -1)
        ("guided", [2.0, 0.0]),  # only positive gradients through positive units: (2, 0, 0)
        ("rectified", [2.0, -3.0]),  # only positive gradients, any unit: (2, 3, 0)
    ],
)
def test_guided_and_rectified_backprop_on_a_hand_built_net(inplace, method, expected):
    net = hand_relu_net(inplace)
    x = torch.tensor([[[[1.0, 2.0]]]])
    result = saliency(net, x, 0, method=method, normalize=False)
    np.testing.assert_allclose(result.raw.reshape(-1), expected)
    np.testing.assert_allclose(result.maps.reshape(-1), np.abs(expected))


def test_modified_backprop_keeps_the_forward_pass_and_removes_its_hooks(lab_model):
    x = torch.rand(2, 1, 28, 28)
    before = snapshot(lab_model)
    plain = lab_model(x)
    with relu_backprop(lab_model, "guided") as relus:
        assert len(relus) == 4
        torch.testing.assert_close(lab_model(x), plain, rtol=0, atol=0)
    assert_untouched(lab_model, before)


def test_guided_needs_relu_modules():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ActmaxError, match="nn.ReLU modules and this model has none"):
        saliency(model, torch.rand(1, 1, 2, 2), 0, method="guided")


def test_smoothgrad_with_zero_noise_equals_vanilla(lab_model):
    x = torch.rand(3, 1, 28, 28)
    vanilla = saliency(lab_model, x, [1, 2, 3], normalize=False)
    for batch_size in (None, 4):  # all 15 noisy rows at once, or in passes of 4
        smooth = saliency(
            lab_model,
            x,
            [1, 2, 3],
            method="smoothgrad",
            noise=0.0,
            samples=5,
            batch_size=batch_size,
            normalize=False,
        )
        np.testing.assert_allclose(smooth.raw, vanilla.raw, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(smooth.maps, vanilla.maps, rtol=1e-5, atol=1e-8)


def test_smoothgrad_noise_is_seeded_and_changes_the_map(lab_model):
    x = torch.rand(2, 1, 28, 28)

    def smooth(seed):
        return saliency(lab_model, x, 4, method="smoothgrad", samples=4, seed=seed).maps

    np.testing.assert_array_equal(smooth(7), smooth(7))
    assert not np.allclose(smooth(7), smooth(8))
    assert not np.allclose(smooth(7), saliency(lab_model, x, 4).maps)


def test_gradient_times_input(lab_model):
    x = torch.rand(2, 1, 28, 28)
    grad = saliency(lab_model, x, 5, normalize=False).raw
    result = saliency(lab_model, x, 5, method="gradxinput", normalize=False)
    np.testing.assert_allclose(result.raw, grad * x.numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.maps, np.abs(grad * x.numpy())[:, 0], rtol=1e-6)


@pytest.mark.parametrize("method", SALIENCY_METHODS)
def test_every_method_leaves_the_model_as_it_was(lab_model, method):
    lab_model.train()
    lab_model.l2.conv.bias.requires_grad_(False)
    before = snapshot(lab_model)
    result = saliency(lab_model, np.random.rand(1, 28, 28), 3, method=method, samples=2)
    assert result.maps.shape == (1, 28, 28) and result.maps.dtype == np.float32
    assert result.maps.min() == 0.0 and result.maps.max() == 1.0
    assert_untouched(lab_model, before)


@pytest.mark.parametrize("method", ["vanilla", "guided"])
def test_the_model_comes_back_also_when_the_target_is_bad(lab_model, method):
    lab_model.train()
    before = snapshot(lab_model)
    with pytest.raises(ActmaxError, match="out of range"):
        saliency(lab_model, torch.rand(1, 1, 28, 28), 10, method=method)
    assert_untouched(lab_model, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": torch.rand(2, 28, 28)}, r"shape \(2, 28, 28\).*takes \(1, 28, 28\)"),
        ({"images": torch.rand(1, 28, 28, 1)}, "move the channel axis first"),
        ({"method": "lime"}, "unknown saliency method 'lime'; choose from vanilla, guided"),
        ({"method": "smoothgrad", "samples": 0}, "samples >= 1"),
        ({"method": "smoothgrad", "noise": -0.1}, "noise level must be >= 0"),
        ({"target": "seven"}, "a target is a class index, an actmax Objective"),
        ({"target": [1, 2]}, "2 targets for 1 images"),
        ({"images": torch.full((1, 1, 28, 28), float("nan"))}, "NaN"),
    ],
)
def test_bad_input_gives_one_clear_error(lab_model, kwargs, message):
    args = {"images": torch.rand(1, 1, 28, 28), "target": 1} | kwargs
    with pytest.raises(ActmaxError, match=message):
        saliency(lab_model, args.pop("images"), args.pop("target"), **args)


def test_saliency_depends_on_the_weights():
    """Adebayo et al. (2018): re-drawing a trained model's weights must change its maps."""
    mnist = load_mnist()
    x, y = mnist.x_test[:32], mnist.y_test[:32]
    trained = saliency(trained_lab_model(), x, y).maps
    randomized = saliency(build_model("lab_cnn", seed=1), x, y).maps
    retrained_same = saliency(trained_lab_model(), x, y).maps
    assert np.nanmean(rank_correlation(trained, retrained_same)) == pytest.approx(1.0)
    assert np.nanmean(rank_correlation(trained, randomized)) < 0.6


def test_rank_correlation_known_values():
    a = np.array([[1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    b = np.array([[1.0, 2.0, 3.0, 4.0], [8.0, 6.0, 4.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    rho = rank_correlation(a, b)
    np.testing.assert_allclose(rho[:2], [4.5 / np.sqrt(4.5 * 5.0), -1.0])
    assert np.isnan(rho[2])


def test_adapter_with_input_shape_accepts_one_image():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    adapter = as_adapter(model, input_shape=(1, 2, 2))
    result = saliency(adapter, np.ones((1, 2, 2), dtype=np.float32), 1, normalize=False)
    np.testing.assert_allclose(result.maps[0], model[1].weight[1].abs().reshape(2, 2).detach())
