"""keras-vis' `vis.backend`: guided and rectified backpropagation on a copy of the model.

keras-vis saved the model and reloaded it under a TensorFlow gradient override. Here the copy
is made in memory and every ReLU in it backpropagates by the rule (actmax's
`attribution.relu_backprop`): for a Keras model the layers whose activation is ReLU (`Dense(...,
activation='relu')`, `Activation('relu')`), for a PyTorch model its `nn.ReLU` modules. The
original model is left as it is.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from ....adapters.keras import is_keras_model
from ....attribution.backprop import RULES, relu_backprop
from ....errors import ActmaxError

__all__ = ["modify_model_backprop", "set_random_seed"]


class RuleReLU(nn.Module):
    """A ReLU whose backward pass follows `rule` ("guided" or "rectified")."""

    def __init__(self, rule: str):
        super().__init__()
        self.rule = rule
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with relu_backprop(self.relu, self.rule):
            return self.relu(x)


def modify_model_backprop(model: Any, backprop_modifier: str) -> Any:
    """A copy of `model` whose ReLUs backpropagate by another rule.

    Args:
        model: a Keras 3 or PyTorch model (left as it is).
        backprop_modifier: the rule, "guided" or "rectified".
    """
    if backprop_modifier not in RULES:
        raise ActmaxError(
            f"unknown backprop_modifier {backprop_modifier!r}; choose from {', '.join(RULES)}"
        )
    if is_keras_model(model):
        return _keras_copy(model, backprop_modifier)
    if not isinstance(model, nn.Module):
        raise ActmaxError(f"expected a Keras or PyTorch model, got {type(model).__name__}")
    modified = copy.deepcopy(model)
    changed = 0
    for module in list(modified.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(module, name, RuleReLU(backprop_modifier))
                changed += 1
    if not changed:
        raise ActmaxError(_no_relu(backprop_modifier, "nn.ReLU modules"))
    return modified


def _keras_copy(model: Any, rule: str) -> Any:
    try:
        modified = type(model).from_config(model.get_config())
    except (TypeError, ValueError) as error:
        raise ActmaxError(f"the model could not be copied from its config: {error}") from error
    modified.set_weights(model.get_weights())
    function = _activation(rule)
    changed = 0
    stack = list(modified.layers)
    while stack:
        layer = stack.pop()
        stack.extend(getattr(layer, "layers", []))
        if getattr(getattr(layer, "activation", None), "__name__", None) == "relu":
            layer.activation = function
            changed += 1
    if not changed:
        raise ActmaxError(_no_relu(rule, "layers with a ReLU activation"))
    return modified


def _activation(rule: str):
    module = RuleReLU(rule)

    def relu(x):
        return module(x)

    relu.__name__ = f"{rule}_relu"
    return relu


def _no_relu(rule: str, what: str) -> str:
    return f"{rule} backpropagation changes ReLUs, and this model has no {what}"


def set_random_seed(seed_value: int = 1337) -> None:
    """Seed numpy's and torch's global generators (actmax's own calls take `seed=`).

    Args:
        seed_value: the seed.
    """
    np.random.seed(seed_value)
    torch.manual_seed(seed_value)
