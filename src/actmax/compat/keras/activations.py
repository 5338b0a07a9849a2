"""Keras' activation names as PyTorch modules, for the lab's swap on a PyTorch model.

    model.l5.activation = activations.linear   # softmax -> linear, as the lab does in Keras

Each name is a stateless module (callable on a tensor like Keras' function) that can be set as a
layer's `activation` submodule. For a Keras model keep `from keras import activations`.
"""

from __future__ import annotations

from torch import nn

from ...errors import ActmaxError


class Linear(nn.Identity):
    """Keras' `linear` activation: the identity."""


linear = Linear()
relu = nn.ReLU()
sigmoid = nn.Sigmoid()
tanh = nn.Tanh()
softmax = nn.Softmax(dim=1)  # the channel axis of a channels-first tensor, Keras' axis -1

_BY_NAME = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax}


def get(identifier: str | nn.Module | None) -> nn.Module:
    """Keras' `activations.get`: a name (or None for linear) to its module.

    Args:
        identifier: "linear", "relu", "sigmoid", "tanh", "softmax", None (linear), or a
            module (returned as it is).
    """
    if identifier is None:
        return linear
    if isinstance(identifier, nn.Module):
        return identifier
    try:
        return _BY_NAME[identifier]
    except (KeyError, TypeError):
        raise ActmaxError(
            f"unknown activation {identifier!r}; choose from {', '.join(sorted(_BY_NAME))}"
        ) from None


__all__ = ["get", "linear", "relu", "sigmoid", "softmax", "tanh"]
