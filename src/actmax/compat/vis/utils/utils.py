"""keras-vis' `vis.utils.utils`: layer lookup and model modification, without save and reload.

A layer index means what it means to keras-vis: the position in `model.layers` for a Keras
model, and for a PyTorch model the Keras-style index actmax uses (the input is layer 0, then the
top-level modules in order: the lab's `l5` is 9 in both).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....adapters import ModelAdapter, as_adapter
from ....adapters.keras import is_keras_model
from ....errors import LayerNotFoundError


class LayerNotFound(LayerNotFoundError, ValueError):
    """keras-vis raises ValueError for a missing layer; this is also an actmax error."""


def layer_names(model: Any) -> list[str]:
    """The names keras-vis' layer indices count: `model.layers` for Keras, else actmax's."""
    if is_keras_model(model):
        return [layer.name for layer in model.layers]
    return as_adapter(model).layer_names()


def find_layer_idx(model: Any, layer_name: str) -> int:
    """The index of the layer called `layer_name` (keras-vis: a scan of `model.layers`).

    Args:
        model: a Keras 3 model, a PyTorch model or an adapter.
        layer_name: the layer's name.

    Raises:
        LayerNotFound: no layer has that name (a `ValueError`, as in keras-vis).
    """
    names = layer_names(model)
    if layer_name not in names:
        raise LayerNotFound(
            f"No layer with name {layer_name!r} within the model; the layers are: "
            f"{', '.join(names)}"
        )
    return names.index(layer_name)


def layer_name(model: Any, layer_idx: int | str) -> str:
    """The name of layer `layer_idx` (an index as keras-vis counts, or already a name)."""
    names = layer_names(model)
    if isinstance(layer_idx, str):
        if layer_idx not in names:
            find_layer_idx(model, layer_idx)  # raises with the list of names
        return layer_idx
    if isinstance(layer_idx, bool) or not isinstance(layer_idx, int | np.integer):
        raise LayerNotFound(f"a layer is given by its index, not {layer_idx!r}")
    if not -len(names) <= layer_idx < len(names):
        raise LayerNotFound(
            f"layer index {layer_idx} is out of range: this model has layers 0..{len(names) - 1} "
            f"({', '.join(f'{i}={name}' for i, name in enumerate(names))})"
        )
    return names[int(layer_idx)]


def apply_modifications(model: Any, custom_objects: dict | None = None) -> Any:
    """Returns `model` itself: a swapped activation already takes effect on the next call.

    keras-vis saved the model to a temporary .h5 file and loaded it back, to rebuild the graph
    of a TensorFlow 1 model. Keras 3 and PyTorch run eagerly and read `layer.activation` on
    every call, so there is nothing to rebuild; `custom_objects` is accepted and not needed.

    Args:
        model: the model whose activation was swapped.
        custom_objects: keras-vis' argument for the reload; not used.
    """
    if not isinstance(model, ModelAdapter):
        as_adapter(model)  # the same clear error as everywhere for something that is no model
    return model


def normalize(array: np.ndarray, min_value: float = 0.0, max_value: float = 1.0) -> np.ndarray:
    """keras-vis' min-max scaling to [min_value, max_value] (epsilon 1e-7 as Keras').

    Args:
        array: the values.
        min_value: the lowest value of the result.
        max_value: the highest value of the result.
    """
    array = np.asarray(array)
    scaled = (array - array.min()) / (array.max() - array.min() + 1e-7)
    return (max_value - min_value) * scaled + min_value


__all__ = ["LayerNotFound", "apply_modifications", "find_layer_idx", "normalize"]
