"""Models for the attribution tests: a lab CNN trained for a few seconds, small hand-built nets,
and a snapshot that shows a model came back exactly as it was."""

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from actmax.lab.data import load_mnist
from actmax.lab.models import build_model


@cache
def _trained_state(n_train: int = 3000, seed: int = 0) -> dict[str, torch.Tensor]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: one thread is fastest, and fastest on a busy machine
    try:
        return _train(n_train, seed)
    finally:
        torch.set_num_threads(threads)


def _train(n_train: int, seed: int) -> dict[str, torch.Tensor]:
    mnist = load_mnist()
    x, y = torch.from_numpy(mnist.x_train[:n_train]), torch.from_numpy(mnist.y_train[:n_train])
    model = build_model("lab_cnn", seed=seed).train()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=2e-3)
    order = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed))
    for batch in order.split(32):
        loss = F.cross_entropy(model.logits(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def trained_lab_model() -> torch.nn.Module:
    """A fresh copy of the lab CNN after one pass over 3,000 training digits (one per call)."""
    model = build_model("lab_cnn")
    model.load_state_dict(_trained_state())
    return model.eval()


def snapshot(model: nn.Module) -> dict:
    """Everything an attribution method must leave as it found it."""
    return {
        "state": {name: value.clone() for name, value in model.state_dict().items()},
        "training": [module.training for module in model.modules()],
        "requires_grad": [param.requires_grad for param in model.parameters()],
        "grads": [param.grad for param in model.parameters()],
    }


def assert_untouched(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    assert after["training"] == before["training"]
    assert after["requires_grad"] == before["requires_grad"]
    assert all(grad is None for grad in after["grads"])
    for name, value in before["state"].items():
        assert torch.equal(after["state"][name], value), name
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks and not module._backward_pre_hooks


def gap_model(in_channels: int = 2, channels: int = 4, classes: int = 3) -> nn.Sequential:
    """Convolution, ReLU, global average pooling, dense: the network CAM was defined for."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, classes),
        )


def hand_relu_net(inplace: bool = False) -> nn.Sequential:
    """x (2) -> W1 (3x2) -> ReLU -> w2 (1x3): at x = (1, 2) the hidden pre-activations are
    (1, -2, 3) and the gradients arriving at the ReLU are w2 = (2, 3, -1)."""
    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(2, 3, bias=False),
        nn.ReLU(inplace=inplace),
        nn.Linear(3, 1, bias=False),
    )
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]]))
        net[3].weight.copy_(torch.tensor([[2.0, 3.0, -1.0]]))
    return net
