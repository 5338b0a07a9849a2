"""keras-vis' `vis.backprop_modifiers`: a copy of the model whose ReLUs backpropagate
differently (guided or rectified backpropagation); see `vis.backend.modify_model_backprop`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import backend
from .utils import utils

__all__ = ["deconv", "get", "guided", "rectified", "relu"]


def guided(model: Any) -> Any:
    """Only positive gradients, only through positive activations (Springenberg et al.).

    Args:
        model: a Keras 3 or PyTorch model; a modified copy is returned.
    """
    return backend.modify_model_backprop(model, "guided")


def rectified(model: Any) -> Any:
    """Only positive gradients (Zeiler & Fergus' deconvnet).

    Args:
        model: a Keras 3 or PyTorch model; a modified copy is returned.
    """
    return backend.modify_model_backprop(model, "rectified")


relu = deconv = rectified


def get(identifier: str | Callable) -> Callable:
    """A modifier by name, or a callable as it is.

    Args:
        identifier: "guided", "rectified", "relu" or "deconv", or a callable.
    """
    return utils.get_identifier(identifier, globals(), __name__)
