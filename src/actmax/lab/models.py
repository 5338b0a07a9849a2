"""The lab's CNN, layer for layer as the lab's Keras code builds it.

Layers carry Keras' names (`l1` ... `l5`) and each layer with an activation keeps it as a
separate `activation` submodule, so a visualization can read the pre-activation (the logits of
`l5`) or swap the activation out, as the lab does with `activations.linear`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "linear": nn.Identity,
    "relu": nn.ReLU,
    "softmax": lambda: nn.Softmax(dim=1),
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}


def make_activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}"
        ) from None


def glorot_uniform_(weight: torch.Tensor, generator: torch.Generator | None = None) -> None:
    """Keras' default kernel initializer (fans as Keras counts them for dense and conv kernels)."""
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    with torch.no_grad():
        weight.uniform_(-limit, limit, generator=generator)


class Conv2D(nn.Module):
    """Keras' Conv2D(filters, kernel, padding='same', activation=...): conv, then `activation`."""

    def __init__(
        self, in_channels: int, filters: int, kernel_size: int, activation: str = "linear"
    ):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, filters, kernel_size, padding="same")
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.conv(x))


class Dense(nn.Module):
    """Keras' Dense(units, activation=...): affine map, then `activation`."""

    def __init__(self, in_features: int, units: int, activation: str = "linear"):
        super().__init__()
        self.linear = nn.Linear(in_features, units)
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


class KerasFlatten(nn.Module):
    """Flatten in Keras' channels-last order, so dense weights copy 1:1 from the Keras model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


class LabCNN(nn.Module):
    """The lab's MNIST network: 3 conv + pool blocks, a 25-unit dense layer, 10 softmax outputs.

    Input (N, 1, 28, 28) in [0, 1]; output class probabilities. 7,465 parameters.
    Keras' layer indices count the input as layer 0, so `l5` is layer 9.
    """

    input_name = "l0"
    input_shape = (1, 28, 28)

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.l1 = Conv2D(1, 9, 5, activation="relu")
        self.l1_mp = nn.MaxPool2d(2)
        self.l2 = Conv2D(9, 9, 5, activation="relu")
        self.l2_mp = nn.MaxPool2d(2)
        self.l3 = Conv2D(9, 16, 3, activation="relu")
        self.l3_mp = nn.MaxPool2d(2)
        self.flat = KerasFlatten()
        self.l4 = Dense(16 * 3 * 3, 25, activation="relu")
        self.l5 = Dense(25, n_classes, activation="softmax")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate (`l4`) representation."""
        for layer in list(self.children())[:-1]:
            x = layer(x)
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-activation of `l5`, whatever its activation currently is."""
        return self.l5.linear(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Every layer is called as a module, so forward hooks on any of them fire.
        for layer in self.children():
            x = layer(x)
        return x

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Keras' defaults: Glorot-uniform kernels, zero biases."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                glorot_uniform_(module.weight, generator)
                nn.init.zeros_(module.bias)


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"lab_cnn": LabCNN}


def build_model(architecture: str, seed: int | None = None, **config) -> nn.Module:
    """Build a registered architecture, with Keras' initialization drawn from `seed`."""
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(
            f"unknown architecture {architecture!r}; known: {', '.join(sorted(ARCHITECTURES))}"
        ) from None
    model = factory(**config)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    if hasattr(model, "reset_parameters"):
        model.reset_parameters(generator)
    return model
