"""keras-vis' `vis.losses`: a loss is an object whose `build_loss()` gives the value to minimize.

    class Energy(Loss):
        def __init__(self, model):
            self.name = "energy"
            self.output = model.output              # Keras; utils.model_output(model) for PyTorch

        def build_loss(self):
            return K.sum(self.output * self.output)  # K: actmax.compat.keras.backend (or keras.ops)

`visualize_activation_with_losses(model.input, [(Energy(model), -1)])` then maximizes the
energy. What `build_loss()` receives and returns in actmax:

- It takes no arguments, as in keras-vis; it reads the model tensors the loss keeps as
  attributes.
- Keras 3 model: those are Keras' symbolic tensors (`model.input`, `model.output`,
  `layer.output`); `build_loss()` runs once and returns a symbolic scalar built with
  `keras.ops` or `actmax.compat.keras.backend` (as keras-vis' `K`). actmax compiles it into a
  function of the model's input and evaluates it on every step's image, as a torch scalar that
  gradients flow through.
- PyTorch model: keep `Handle`s (`utils.model_input(model)`, `utils.layer_output(model, i)`,
  `utils.model_output(model)`; channels-first, batch first). `build_loss()` runs on every step,
  with each handle acting as that step's torch tensor, and returns a torch scalar.
- The value is the loss of the one image keras-vis optimizes: a scalar, or any tensor of one
  element. It is minimized with its weight: `(loss, -1)` maximizes it.

The losses keras-vis ships run as actmax's own parts: `ActivationMaximization` as an objective
(`actmax.objectives`), `TotalVariation` and `LPNorm` (`vis.regularizers`) as regularizers
(`actmax.regularizers`); a subclass that overrides `build_loss` runs through its `build_loss`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import ActmaxError
from ...objectives import Objective, layer_mean, unit, units
from .tensors import Handle, is_keras_tensor, layer_index_or_name
from .utils import utils

__all__ = ["ActivationMaximization", "Loss"]


class Loss:
    """A value to minimize; subclasses set `name` and implement `build_loss()`."""

    name = "Unnamed Loss"

    def __init__(self):
        self.name = "Unnamed Loss"

    def __str__(self) -> str:
        return self.name

    def build_loss(self) -> Any:
        """The loss: a symbolic scalar (Keras) or a torch scalar (PyTorch, on every step)."""
        raise NotImplementedError()


class ActivationMaximization(Loss):
    """Minus the mean activation of `filter_indices` in `layer`: minimizing it maximizes them.

    Args:
        layer: the layer itself (a Keras layer, `model.layers[i]`, or a module of a PyTorch
            model), a `Handle` of its output, a layer name, or an index as keras-vis counts.
        filter_indices: a unit (for a spatial layer: a channel, averaged over positions), a
            list of them (their sum, one image), or None (the mean of the whole layer).
    """

    def __init__(self, layer: Any, filter_indices: int | Sequence[int] | None):
        super().__init__()
        self.name = "ActivationMax Loss"
        self.layer = layer
        self.filter_indices = utils.listify(filter_indices)

    def objective(self, model: Any) -> Objective:
        """The same target as actmax's objective (maximized): `-build_loss()`.

        Args:
            model: the model the loss is bound to.
        """
        layer = self.layer_name(model)
        indices = _indices(self.filter_indices)
        if indices is None:
            return layer_mean(layer)
        if len(indices) == 1:
            return unit(layer, indices[0])
        return units(layer, indices)

    def layer_name(self, model: Any) -> str:
        """The name of the layer the loss reads.

        Args:
            model: the model the loss is bound to.
        """
        layer = self.layer
        if isinstance(layer, Handle):
            if layer.ref is None or layer.is_input:
                raise ActmaxError("ActivationMaximization reads a layer's output, not the input")
            return layer.ref.name
        return utils.layer_name(model, layer_index_or_name(model, layer))

    def build_loss(self) -> Any:
        output = _output(self.layer)
        indices = _indices(self.filter_indices)
        if is_keras_tensor(output):
            from ..keras import backend as K

            if indices is None:
                return -K.mean(output)
            dense = len(output.shape) == 2
            loss = 0.0
            for idx in indices:
                index = (slice(None), idx) if dense else utils.slicer[:, idx, ...]
                loss = loss - K.mean(output[index])
            return loss
        return self.value(output)

    def value(self, output: Any) -> Any:
        """The loss of an activation.

        Args:
            output: a channels-first torch activation (or a `Handle` of one).
        """
        indices = _indices(self.filter_indices)
        if indices is None:
            return -output.mean()
        loss = 0.0
        for idx in indices:
            loss = loss - output[:, idx].mean()
        return loss


def _indices(filter_indices: list) -> list[int] | None:
    """keras-vis' listified indices: [None] is the whole layer; a tuple or array counts as a list
    of indices (keras-vis would wrap it in a list)."""
    if len(filter_indices) == 1 and filter_indices[0] is None:
        return None
    flat: list[int] = []
    for value in filter_indices:
        flat.extend(int(i) for i in np.ravel(value))
    return flat


def _output(layer: Any) -> Any:
    if isinstance(layer, Handle):
        return layer
    output = getattr(layer, "output", None)
    if is_keras_tensor(output):
        return output
    raise ActmaxError(
        "ActivationMaximization.build_loss() reads the layer's output: give a Keras layer "
        "(model.layers[i]) or, for a PyTorch model, utils.layer_output(model, i)"
    )
