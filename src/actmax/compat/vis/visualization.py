"""keras-vis' `vis.visualization`: activation maximization, saliency, Grad-CAM and overlay.

Signatures, defaults and return values are keras-vis' (saliency and Grad-CAM as the keras-vis
fork that returns jet-coloured uint8 maps). Images go in and come out in the model's own layout:
channels-last for a Keras model, as keras-vis; a PyTorch model's seed image may be given
channels-first or channels-last, and results come back channels-last (H, W, C) in both cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps

from ...adapters import ModelAdapter, as_adapter
from ...adapters.keras import is_keras_model
from ...attribution import grad_cam, saliency
from ...attribution import overlay as _overlay
from ...engine import visualize
from ...errors import ActmaxError
from ...objectives import Objective, layer_mean, unit, units
from .utils.utils import layer_name, layer_names, normalize

# keras-vis' grad modifiers (vis.grad_modifiers), on numpy gradients
GRAD_MODIFIERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "absolute": np.abs,
    "negate": np.negative,
    "invert": lambda g: 1.0 / (g + 1e-7),
    "relu": lambda g: np.maximum(g, 0),
    "small_values": lambda g: np.abs(1.0 / (g + 1e-7)),
}
BACKPROP_RULES = {
    "guided": "guided",
    "rectified": "rectified",
    "relu": "rectified",
    "deconv": "rectified",
}
CAM_LAYER_TYPES = (
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
)


def visualize_activation(
    model: Any,
    layer_idx: int,
    filter_indices: int | Sequence[int] | None = None,
    wrt_tensor: Any = None,
    seed_input: Any = None,
    input_range: tuple[float, float] = (0, 255),
    backprop_modifier: str | None = None,
    grad_modifier: str | None = None,
    act_max_weight: float = 1,
    lp_norm_weight: float = 10,
    tv_weight: float = 10,
    **optimizer_params: Any,
) -> np.ndarray:
    """The input that maximizes `filter_indices` of layer `layer_idx`, as keras-vis computes it.

    Args:
        model: a Keras 3 model, a PyTorch model, a path to a model or an adapter.
        layer_idx: the layer's index as keras-vis counts (`utils.find_layer_idx`), or its
            name.
        filter_indices: a unit (or channel: its mean over positions), a list (their sum, one
            image) or None (the mean of the whole layer).
        wrt_tensor: not supported (must be None).
        seed_input: the start image, channels-last (H, W, C) or, for a PyTorch model,
            channels-first (default: keras-vis' noise from the seed).
        input_range: the model's input range; when both bounds are Python ints the image is
            uint8, else float.
        backprop_modifier: not supported (must be None).
        grad_modifier: not supported (must be None).
        act_max_weight: the weight of the activation in the loss.
        lp_norm_weight: the weight of the Lp norm (p = 6).
        tv_weight: the weight of the total variation.
        **optimizer_params: `max_iter` (200), `verbose` (a progress bar), `seed` (0; actmax's
            addition).

    Returns:
        The contrast-stretched image (H, W, C), keras-vis' display of the optimized input.
    """
    _refuse("wrt_tensor", wrt_tensor)
    _refuse("backprop_modifier", backprop_modifier)
    _refuse("grad_modifier", grad_modifier)
    params = dict(optimizer_params)
    max_iter = params.pop("max_iter", 200)
    verbose = params.pop("verbose", False)
    seed = params.pop("seed", 0)
    for name in ("input_modifiers", "callbacks"):
        _refuse(name, params.pop(name, None) or None)
    if params:
        raise TypeError(f"visualize_activation() got unexpected arguments: {sorted(params)}")
    lo, hi = _range(input_range)
    adapter = as_adapter(model)
    objective = _objective(model, layer_idx, filter_indices)
    result = visualize(
        adapter,
        objective,
        recipe="keras-vis",
        iterations=int(max_iter),
        input_range=(float(lo), float(hi)),
        act_weight=float(act_max_weight or 0),
        lp_weight=float(lp_norm_weight or 0),
        tv_weight=float(tv_weight or 0),
        seed=seed,
        seed_input=None if seed_input is None else _batch(seed_input, adapter),
        progress=bool(verbose),
    )
    image = ((hi - lo) * result.images[0] + lo).astype(np.float32)
    if isinstance(input_range[0], int) and isinstance(input_range[1], int):
        image = np.clip(image, lo, hi).astype("uint8")
    return image


def visualize_saliency(
    model: Any,
    layer_idx: int,
    filter_indices: int | Sequence[int] | None,
    seed_input: Any,
    backprop_modifier: str | None = None,
    grad_modifier: str | None = "absolute",
) -> np.ndarray:
    """Saliency of `filter_indices` for `seed_input`: a jet-coloured uint8 (H, W, 3) map.

    The gradient of the target (the layer's output, as keras-vis reads it) with respect to the
    input, through `grad_modifier`, its maximum over channels, scaled to [0, 1], coloured.

    Args:
        model: a Keras 3 model, a PyTorch model, a path to a model or an adapter.
        layer_idx: the layer's index as keras-vis counts, or its name.
        filter_indices: a unit, a list of units (their sum) or None (the layer's mean).
        seed_input: the image, channels-last (H, W, C) or, for a PyTorch model,
            channels-first.
        backprop_modifier: None, 'guided', or 'rectified' ('relu', 'deconv') for models whose
            ReLUs are `nn.ReLU` modules.
        grad_modifier: what is done to the gradient first: 'absolute' (the default),
            'negate', 'invert', 'relu', 'small_values', or None.
    """
    if grad_modifier is not None and grad_modifier not in GRAD_MODIFIERS:
        raise ActmaxError(
            f"unknown grad_modifier {grad_modifier!r}; choose from {', '.join(GRAD_MODIFIERS)}"
        )
    if backprop_modifier is not None and backprop_modifier not in BACKPROP_RULES:
        raise ActmaxError(
            f"unknown backprop_modifier {backprop_modifier!r}; choose from "
            f"{', '.join(BACKPROP_RULES)}"
        )
    adapter = as_adapter(model)
    objective = _objective(model, layer_idx, filter_indices)
    method = BACKPROP_RULES.get(backprop_modifier, "vanilla")
    grads = saliency(
        adapter, _batch(seed_input, adapter), objective, method=method, normalize=False
    )
    values = grads.raw if grad_modifier is None else GRAD_MODIFIERS[grad_modifier](grads.raw)
    heatmap = normalize(np.max(values, axis=1))
    return _jet(heatmap)[0]


def visualize_cam(
    model: Any,
    layer_idx: int,
    filter_indices: int | Sequence[int] | None,
    seed_input: Any,
    penultimate_layer_idx: int | None = None,
    backprop_modifier: str | None = None,
    grad_modifier: str | None = None,
) -> np.ndarray:
    """Grad-CAM of `filter_indices` for `seed_input`: a jet-coloured uint8 (H, W, 3) map.

    Args:
        model: a Keras 3 model, a PyTorch model, a path to a model or an adapter.
        layer_idx: the layer's index as keras-vis counts, or its name.
        filter_indices: a unit, a list of units (their sum) or None (the layer's mean).
        seed_input: the image, channels-last (H, W, C) or, for a PyTorch model,
            channels-first.
        penultimate_layer_idx: the layer whose feature maps are weighed; None takes keras-vis'
            choice, the nearest convolution or pooling layer before `layer_idx - 1`.
        backprop_modifier: not supported (must be None).
        grad_modifier: None or 'negate' (regions that lower the target).
    """
    _refuse("backprop_modifier", backprop_modifier)
    if grad_modifier not in (None, "negate"):
        raise ActmaxError(
            f"visualize_cam takes grad_modifier None or 'negate', not {grad_modifier!r}"
        )
    adapter = as_adapter(model)
    objective = _objective(model, layer_idx, filter_indices)
    if grad_modifier == "negate":
        objective = -objective
    if penultimate_layer_idx is None:
        penultimate = _penultimate_layer(model, adapter, layer_idx)
    else:
        penultimate = layer_name(model, penultimate_layer_idx)
    cam = grad_cam(adapter, _batch(seed_input, adapter), objective, layer=penultimate)
    return _jet(cam.maps[0])


def overlay(array1: np.ndarray, array2: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """keras-vis' blend: `(array1 * alpha + array2 * (1 - alpha)).astype(array1.dtype)`.

    Args:
        array1: the first array (its dtype is the result's).
        array2: the second, of the same shape.
        alpha: the weight of `array1`, in [0, 1].
    """
    return _overlay(array1, array2, alpha)


def _objective(model: Any, layer_idx: int, filter_indices: Any) -> Objective:
    layer = layer_name(model, layer_idx)
    if filter_indices is None:
        return layer_mean(layer)
    if isinstance(filter_indices, list | tuple | np.ndarray):
        return units(layer, [int(i) for i in np.ravel(filter_indices)])
    return unit(layer, int(filter_indices))


def _penultimate_layer(model: Any, adapter: ModelAdapter, layer_idx: int) -> str:
    """keras-vis: the nearest Conv or Pooling layer in `model.layers[:layer_idx - 1]`, backwards."""
    names = layer_names(model)
    index = names.index(layer_name(model, layer_idx))
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


def _batch(seed_input: Any, adapter: ModelAdapter) -> torch.Tensor:
    """One seed image (or a batch) as a channels-first batch, moving a channels-last axis."""
    x = np.asarray(seed_input, dtype=np.float32)
    expected = tuple(adapter.input_shape) if adapter.input_shape is not None else None
    if expected is None:
        return torch.from_numpy(x if x.ndim > 3 else x[None])
    if x.ndim == len(expected):
        x = x[None]
    if x.shape[1:] != expected and x.ndim == len(expected) + 1:
        moved = np.moveaxis(x, -1, 1)
        if moved.shape[1:] == expected:
            x = moved
    if x.shape[1:] != expected:
        channels_last = (*expected[1:], expected[0])
        raise ActmaxError(
            f"seed_input has shape {np.shape(seed_input)}; this model takes images of shape "
            f"{channels_last} (channels-last) or {expected} (channels-first)"
        )
    return torch.from_numpy(np.ascontiguousarray(x))


def _jet(heatmap: np.ndarray) -> np.ndarray:
    """keras-vis (fork): `np.uint8(cm.jet(heatmap)[..., :3] * 255)`."""
    return np.uint8(colormaps["jet"](heatmap)[..., :3] * 255)


def _range(input_range: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = input_range
    except (TypeError, ValueError):
        raise ActmaxError(f"input_range is (low, high), got {input_range!r}") from None
    if not hi > lo:
        raise ActmaxError(f"input_range needs low < high, got {input_range!r}")
    return lo, hi


def _refuse(name: str, value: Any) -> None:
    if value is not None:
        raise ActmaxError(
            f"{name} is not supported by actmax's keras-vis API; use actmax.visualize, "
            "actmax.attribution.saliency or grad_cam for more control"
        )


__all__ = ["overlay", "visualize_activation", "visualize_cam", "visualize_saliency"]
