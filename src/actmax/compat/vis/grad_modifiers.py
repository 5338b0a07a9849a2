"""keras-vis' `vis.grad_modifiers`: changes to the gradient before it is used.

Each works on numpy arrays and torch tensors alike. `relu` returns a new array (keras-vis'
changed its argument in place).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .utils import utils

__all__ = ["absolute", "get", "invert", "negate", "relu", "small_values"]


def negate(grads: Any) -> Any:
    """Regions that lower the target (for regression outputs).

    Args:
        grads: the gradient (a numpy array).
    """
    return -grads


def absolute(grads: Any) -> Any:
    """The magnitude of the gradient (saliency's default).

    Args:
        grads: the gradient (a numpy array).
    """
    return abs(grads)


def invert(grads: Any) -> Any:
    """1 / (g + epsilon): large where the gradient is small.

    Args:
        grads: the gradient (a numpy array).
    """
    return 1.0 / (grads + utils.EPSILON)


def relu(grads: Any) -> Any:
    """Only the positive part: regions that raise the target.

    Args:
        grads: the gradient (a numpy array).
    """
    return grads.clip(min=0)


def small_values(grads: Any) -> Any:
    """|1 / (g + epsilon)|: regions that barely change the target ("maintain").

    Args:
        grads: the gradient (a numpy array).
    """
    return absolute(invert(grads))


def get(identifier: str | Callable) -> Callable:
    """A modifier by name, or a callable as it is.

    Args:
        identifier: "absolute", "negate", "invert", "relu" or "small_values", or a callable.
    """
    return utils.get_identifier(identifier, globals(), __name__)
