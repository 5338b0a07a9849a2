"""keras-vis' activation maximization: the input that minimizes weighted losses.

Images come back channels-last (H, W, C), as keras-vis returns them, for Keras and PyTorch
models alike: uint8 when both bounds of `input_range` are Python ints, float otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backprop_modifiers
from ..common import check_range, integer_range
from ..losses import ActivationMaximization, Loss
from ..optimizer import MINIMIZE_OPTIONS, Optimizer
from ..regularizers import LPNorm, TotalVariation
from ..utils import utils

__all__ = ["visualize_activation", "visualize_activation_with_losses"]


def visualize_activation_with_losses(
    input_tensor: Any,
    losses: Sequence[tuple[Loss, float]],
    wrt_tensor: Any = None,
    seed_input: Any = None,
    input_range: tuple[float, float] = (0, 255),
    **optimizer_params: Any,
) -> np.ndarray:
    """The input that minimizes `sum(weight * loss)` (a custom loss list; see `vis.losses`).

    Args:
        input_tensor: `model.input` of a Keras model, `utils.model_input(model)`, or the model.
        losses: (loss, weight) pairs (see `vis.losses`).
        wrt_tensor: the tensor to optimize; one other than the input optimizes nothing, as in
            keras-vis (default: the input).
        seed_input: the start image, channels-last (H, W, C) or, for a PyTorch model, also
            channels-first (default: keras-vis' noise from the seed).
        input_range: the model's input range; when both bounds are Python ints the image is
            uint8, else float.
        **optimizer_params: `Optimizer.minimize`'s (`max_iter` 200, `input_modifiers`,
            `grad_modifier`, `callbacks`, `verbose` False; actmax's `seed` 0 and `progress`).

    Returns:
        The contrast-stretched image (H, W, C), keras-vis' display of the optimized input.
    """
    _check_options(optimizer_params, "visualize_activation_with_losses")
    check_range(input_range)
    params = utils.add_defaults_to_kwargs(
        {"seed_input": seed_input, "max_iter": 200, "verbose": False}, **optimizer_params
    )
    optimizer = Optimizer(input_tensor, losses, input_range, wrt_tensor=wrt_tensor)
    image = optimizer.minimize(**params)[0].astype(np.float32)
    if integer_range(input_range):
        image = np.clip(image, input_range[0], input_range[1]).astype("uint8")
    if not optimizer.channels_last and image.ndim >= 2:
        image = np.moveaxis(image, 0, -1)
    return image


def visualize_activation(
    model: Any,
    layer_idx: int,
    filter_indices: int | Sequence[int] | None = None,
    wrt_tensor: Any = None,
    seed_input: Any = None,
    input_range: tuple[float, float] = (0, 255),
    backprop_modifier: str | None = None,
    grad_modifier: Any = None,
    act_max_weight: float = 1,
    lp_norm_weight: float = 10,
    tv_weight: float = 10,
    **optimizer_params: Any,
) -> np.ndarray:
    """The input that maximizes `filter_indices` of layer `layer_idx`, as keras-vis computes it.

    The losses are keras-vis': `ActivationMaximization` (weight `act_max_weight`), `LPNorm`
    (`lp_norm_weight`) and `TotalVariation` (`tv_weight`); a weight of 0 leaves its loss out.

    Args:
        model: a Keras 3 model, a PyTorch model, a path to a model or an adapter.
        layer_idx: the layer's index as keras-vis counts (`utils.find_layer_idx`), or its
            name.
        filter_indices: a unit (or channel: its mean over positions), a list (their sum, one
            image) or None (the mean of the whole layer).
        wrt_tensor: the tensor to optimize (default: the input).
        seed_input: the start image, channels-last (H, W, C) or, for a PyTorch model, also
            channels-first (default: keras-vis' noise from the seed).
        input_range: the model's input range; when both bounds are Python ints the image is
            uint8, else float.
        backprop_modifier: "guided" or "rectified" (a copy of the model whose ReLUs
            backpropagate so), or None.
        grad_modifier: what is done to the gradient before each step (a name of
            `vis.grad_modifiers`, a function, or None).
        act_max_weight: the weight of the activation's loss.
        lp_norm_weight: the weight of the Lp norm (p = 6).
        tv_weight: the weight of the total variation.
        **optimizer_params: as for `visualize_activation_with_losses`.

    Returns:
        The contrast-stretched image (H, W, C), keras-vis' display of the optimized input.
    """
    _check_options(optimizer_params, "visualize_activation")
    if backprop_modifier is not None:
        model = backprop_modifiers.get(backprop_modifier)(model)
    image_input = utils.model_input(model)
    losses = [
        (
            ActivationMaximization(utils.layer_name(model, layer_idx), filter_indices),
            act_max_weight,
        ),
        (LPNorm(image_input), lp_norm_weight),
        (TotalVariation(image_input), tv_weight),
    ]
    optimizer_params = utils.add_defaults_to_kwargs(
        {"grad_modifier": grad_modifier}, **optimizer_params
    )
    return visualize_activation_with_losses(
        model, losses, wrt_tensor, seed_input, input_range, **optimizer_params
    )


def _check_options(options: dict, function: str) -> None:
    unknown = sorted(set(options) - MINIMIZE_OPTIONS)
    if unknown:
        raise TypeError(f"{function}() got unexpected arguments: {unknown}")
