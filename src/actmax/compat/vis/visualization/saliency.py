"""keras-vis' saliency and Grad-CAM, on actmax's `attribution.saliency` and `grad_cam`.

The target is keras-vis' `sum(weight * loss)` (`ActivationMaximization` with weight -1 for the
plain functions, so that the map explains raising the filters). What comes back follows the
flavour (`actmax.compat.vis.set_flavour`): "fork" gives jet-coloured uint8 RGB maps (H, W, 3);
"master" gives float maps in [0, 1], (H, W), or with `keepdims=True` the gradient's own shape
(channels-last). `wrt_tensor` and `keepdims` are master's and keyword-only here, since the
fork's fifth positional argument is `backprop_modifier`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ....adapters import ModelAdapter, as_adapter
from ....adapters.keras import is_keras_model
from ....attribution import grad_cam, saliency
from ....errors import ActmaxError
from .. import backend, flavour, grad_modifiers
from ..common import as_batch, jet
from ..graph import Bound, bind
from ..losses import ActivationMaximization, Loss
from ..optimizer import Optimizer
from ..tensors import Handle, layer_index_or_name
from ..utils import utils

__all__ = [
    "visualize_cam",
    "visualize_cam_with_losses",
    "visualize_saliency",
    "visualize_saliency_with_losses",
]

BACKPROP_RULES = {"guided": "guided", "rectified": "rectified", "relu": "rectified"}
BACKPROP_RULES["deconv"] = "rectified"
CAM_LAYER_TYPES = (
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
)


def visualize_saliency_with_losses(
    input_tensor: Any,
    losses: Sequence[tuple[Loss, float]],
    seed_input: Any,
    grad_modifier: str | Callable | None = "absolute",
    *,
    wrt_tensor: Any = None,
    keepdims: bool = False,
) -> np.ndarray:
    """Saliency of `sum(weight * loss)` for `seed_input`: how much each input value moves it.

    The gradient with respect to the input (or `wrt_tensor`, master), through `grad_modifier`,
    its maximum over channels (unless `keepdims`, master), scaled to [0, 1].

    Args:
        input_tensor: `model.input` of a Keras model, `utils.model_input(model)`, or the model.
        losses: (loss, weight) pairs (see `vis.losses`).
        seed_input: the image, channels-last (H, W, C) as keras-vis, or for a PyTorch model
            also channels-first.
        grad_modifier: what is done to the gradient first: a name of `vis.grad_modifiers`
            ("absolute", the default), a function, or None.
        wrt_tensor: the tensor to take the gradient with respect to (master; default: the
            input).
        keepdims: keep the gradient's own shape instead of its maximum over channels (master).

    Returns:
        The map: jet-coloured uint8 (H, W, 3) with the "fork" flavour, float (H, W) in [0, 1]
        with "master" (see `actmax.compat.vis`).
    """
    return _saliency(bind(input_tensor, losses), seed_input, grad_modifier, wrt_tensor, keepdims)


def visualize_saliency(
    model: Any,
    layer_idx: int,
    filter_indices: int | Sequence[int] | None,
    seed_input: Any,
    backprop_modifier: str | None = None,
    grad_modifier: str | Callable | None = "absolute",
    *,
    wrt_tensor: Any = None,
    keepdims: bool = False,
) -> np.ndarray:
    """Saliency of `filter_indices` of layer `layer_idx` for `seed_input`.

    Args:
        model: a Keras 3 model, a PyTorch model, a path to a model or an adapter.
        layer_idx: the layer's index as keras-vis counts (`utils.find_layer_idx`), or its
            name.
        filter_indices: a unit, a list of units (their sum) or None (the layer's mean).
        seed_input: the image, channels-last (H, W, C) as keras-vis, or for a PyTorch model
            also channels-first.
        backprop_modifier: None, "guided", or "rectified" ("relu", "deconv"): ReLUs
            backpropagate only positive gradients (for a PyTorch model: the `nn.ReLU` modules of
            the frozen copy the map is computed on; for a Keras model: a copy whose ReLU
            activations are changed).
        grad_modifier: what is done to the gradient first: a name of `vis.grad_modifiers`
            ("absolute", the default), a function, or None.
        wrt_tensor: the tensor to take the gradient with respect to (master; default: the
            input).
        keepdims: keep the gradient's own shape instead of its maximum over channels (master).

    Returns:
        The map, as `visualize_saliency_with_losses` returns it.
    """
    rule = _rule(backprop_modifier)
    method = "vanilla"
    if rule is not None and is_keras_model(model):
        model = backend.modify_model_backprop(model, rule)
    elif rule is not None:
        method = rule
    losses = [(ActivationMaximization(utils.layer_name(model, layer_idx), filter_indices), -1)]
    bound = bind(model, losses)
    return _saliency(bound, seed_input, grad_modifier, wrt_tensor, keepdims, method)


def visualize_cam_with_losses(
    input_tensor: Any,
    losses: Sequence[tuple[Loss, float]],
    seed_input: Any,
    penultimate_layer: Any,
    grad_modifier: str | None = None,
) -> np.ndarray:
    """Grad-CAM of `sum(weight * loss)` on the feature maps of `penultimate_layer`.

    Args:
        input_tensor: `model.input` of a Keras model, `utils.model_input(model)`, or the model.
        losses: (loss, weight) pairs (see `vis.losses`).
        seed_input: the image, channels-last (H, W, C) as keras-vis, or for a PyTorch model
            also channels-first.
        penultimate_layer: the layer whose feature maps are weighed: the layer itself, its
            index or its name.
        grad_modifier: None or "negate" (regions that lower it).

    Returns:
        The map: jet-coloured uint8 (H, W, 3) with the "fork" flavour, float (H, W) in [0, 1]
        with "master".
    """
    bound = bind(input_tensor, losses)
    return _cam(bound, seed_input, _layer(bound, penultimate_layer), grad_modifier)


def visualize_cam(
    model: Any,
    layer_idx: int,
    filter_indices: int | Sequence[int] | None,
    seed_input: Any,
    penultimate_layer_idx: int | None = None,
    backprop_modifier: str | None = None,
    grad_modifier: str | None = None,
) -> np.ndarray:
    """Grad-CAM of `filter_indices` of layer `layer_idx` for `seed_input`.

    Args:
        model: a Keras 3 model, a PyTorch model, a path to a model or an adapter.
        layer_idx: the layer's index as keras-vis counts, or its name.
        filter_indices: a unit, a list of units (their sum) or None (the layer's mean).
        seed_input: the image, channels-last (H, W, C) as keras-vis, or for a PyTorch model
            also channels-first.
        penultimate_layer_idx: the layer whose feature maps are weighed; None takes keras-vis'
            choice, the nearest convolution or pooling layer before `layer_idx - 1`.
        backprop_modifier: None, "guided" or "rectified": the model's ReLUs backpropagate so.
        grad_modifier: None or "negate" (regions that lower the target).

    Returns:
        The map, as `visualize_cam_with_losses` returns it.
    """
    rule = _rule(backprop_modifier)
    if rule is not None:
        model = backend.modify_model_backprop(model, rule)
    adapter = as_adapter(model)
    if penultimate_layer_idx is None:
        penultimate = _penultimate_layer(model, adapter, layer_idx)
    else:
        penultimate = utils.layer_name(model, penultimate_layer_idx)
    losses = [(ActivationMaximization(utils.layer_name(model, layer_idx), filter_indices), -1)]
    return _cam(bind(model, losses), seed_input, penultimate, grad_modifier)


def _saliency(
    bound: Bound, seed_input, grad_modifier, wrt_tensor, keepdims, method: str = "vanilla"
) -> np.ndarray:
    master = flavour() == "master"
    if not master and (keepdims or wrt_tensor is not None):
        raise ActmaxError(
            "keepdims and wrt_tensor are keras-vis master's options; call "
            "actmax.compat.vis.set_flavour('master') for master's float maps"
        )
    modifier = None if grad_modifier is None else _grad_modifier(grad_modifier)
    adapter = bound.adapter
    x = as_batch(seed_input, adapter)
    if wrt_tensor is not None:  # keras-vis: an optimizer step without update
        optimizer = Optimizer(
            bound.model,
            [(e.loss, e.weight) for e in bound.entries],
            wrt_tensor=wrt_tensor,
            norm_grads=False,
        )
        grads = optimizer.minimize(x, max_iter=1, grad_modifier=modifier, verbose=False)[1]
        channel_axis = -1 if optimizer.channels_last else 1
    else:
        raw = saliency(adapter, x, bound.overall(), method=method, normalize=False).raw
        grads = raw if modifier is None else np.asarray(modifier(raw))
        channel_axis = 1
    if not master:
        return jet(utils.normalize(np.max(grads, axis=channel_axis)))[0]
    if not keepdims:
        return utils.normalize(np.max(grads, axis=channel_axis))[0]
    grads = utils.normalize(grads)[0]
    if channel_axis == 1 and grads.ndim >= 2:
        grads = np.moveaxis(grads, 0, -1)
    return grads


def _cam(bound: Bound, seed_input, layer: str, grad_modifier) -> np.ndarray:
    if grad_modifier not in (None, "negate"):
        raise ActmaxError(
            f"visualize_cam takes grad_modifier None or 'negate', not {grad_modifier!r}"
        )
    objective = bound.overall()
    if grad_modifier == "negate":
        objective = -objective
    adapter = bound.adapter
    cam = grad_cam(adapter, as_batch(seed_input, adapter), objective, layer=layer)
    if flavour() == "master":
        return cam.maps[0]
    return jet(cam.maps[0])


def _layer(bound: Bound, layer: Any) -> str:
    if isinstance(layer, Handle):
        return layer.ref.name
    return utils.layer_name(bound.model, layer_index_or_name(bound.model, layer))


def _rule(backprop_modifier: str | None) -> str | None:
    if backprop_modifier is None:
        return None
    if backprop_modifier not in BACKPROP_RULES:
        raise ActmaxError(
            f"unknown backprop_modifier {backprop_modifier!r}; choose from "
            f"{', '.join(BACKPROP_RULES)}"
        )
    return BACKPROP_RULES[backprop_modifier]


def _grad_modifier(grad_modifier: str | Callable) -> Callable:
    try:
        return grad_modifiers.get(grad_modifier)
    except ValueError:
        raise ActmaxError(
            f"unknown grad_modifier {grad_modifier!r}; choose from negate, absolute, invert, "
            "relu, small_values"
        ) from None


def _penultimate_layer(model: Any, adapter: ModelAdapter, layer_idx: int) -> str:
    """keras-vis: the nearest Conv or Pooling layer in `model.layers[:layer_idx - 1]`, backwards."""
    names = utils.layer_names(model)
    index = names.index(utils.layer_name(model, layer_idx))
    for name in reversed(names[: index - 1]):
        if _is_conv_or_pool(model, adapter, name):
            return name
    raise ActmaxError(
        f"Unable to determine penultimate Conv or Pooling layer for layer_idx: {layer_idx}; "
        "give penultimate_layer_idx"
    )


def _is_conv_or_pool(model: Any, adapter: ModelAdapter, name: str) -> bool:
    if is_keras_model(model):
        return type(model.get_layer(name)).__name__ in CAM_LAYER_TYPES
    module = adapter.module(name)
    kinds = (torch.nn.modules.conv._ConvNd, torch.nn.modules.pooling._MaxPoolNd)
    kinds += (torch.nn.AvgPool1d, torch.nn.AvgPool2d)
    return isinstance(module, kinds) or isinstance(getattr(module, "conv", None), kinds)
