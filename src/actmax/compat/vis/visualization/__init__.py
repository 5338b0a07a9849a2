"""keras-vis' `vis.visualization`: activation maximization, saliency, Grad-CAM and overlay.

Signatures, defaults and return values are keras-vis' (saliency and Grad-CAM as the flavour
says: see `actmax.compat.vis`). Images go in and come out in the model's own layout:
channels-last for a Keras model, as keras-vis; a PyTorch model's seed image may be given
channels-first or channels-last, and results come back channels-last (H, W, C) in both cases.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....attribution import overlay as _overlay
from ..tensors import is_keras_tensor
from ..utils import utils
from .activation_maximization import visualize_activation, visualize_activation_with_losses
from .saliency import (
    visualize_cam,
    visualize_cam_with_losses,
    visualize_saliency,
    visualize_saliency_with_losses,
)

__all__ = [
    "get_num_filters",
    "overlay",
    "visualize_activation",
    "visualize_activation_with_losses",
    "visualize_cam",
    "visualize_cam_with_losses",
    "visualize_saliency",
    "visualize_saliency_with_losses",
]


def overlay(array1: np.ndarray, array2: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """keras-vis' blend: `(array1 * alpha + array2 * (1 - alpha)).astype(array1.dtype)`.

    Args:
        array1: the first array (its dtype is the result's).
        array2: the second, of the same shape.
        alpha: the weight of `array1`, in [0, 1].
    """
    return _overlay(array1, array2, alpha)


def get_num_filters(layer: Any) -> int:
    """The number of filters of a layer (units of a dense layer).

    Args:
        layer: a Keras layer, or a PyTorch convolution or linear module (or a module holding
            them: its last one counts).
    """
    output = getattr(layer, "output", None)
    if is_keras_tensor(output):
        shape = output.shape
        if len(shape) == 2:
            return int(shape[-1])
        return int(shape[1] if utils.image_data_format() == "channels_first" else shape[-1])
    modules = list(layer.modules()) if hasattr(layer, "modules") else [layer]
    for module in reversed(modules):  # a wrapper's last convolution or linear map
        for attribute in ("out_channels", "out_features"):
            if isinstance(getattr(module, attribute, None), int):
                return getattr(module, attribute)
    raise TypeError(f"cannot tell how many filters a {type(layer).__name__} has")
