"""keras-vis' weighted losses bound to a model, as actmax's parts.

keras-vis minimizes `sum(weight * loss.build_loss())` over a list of `(loss, weight)` pairs.
Bound to a model, the list splits into actmax's parts:

==========================================  =================================================
keras-vis loss                              actmax part
==========================================  =================================================
`ActivationMaximization` (the first one)    an objective: `unit`, `units` or `layer_mean`
`TotalVariation(model.input, beta)`         `actmax.regularizers.TotalVariation(w, beta)`
`LPNorm(model.input, p)`                    `actmax.regularizers.LpNorm(w, p)`
any other loss (a user's `Loss`, a          one `actmax.objectives.custom` term on the input:
subclass overriding `build_loss`, a         each step, the image goes through the model once
further `ActivationMaximization`)           more and every such loss is evaluated on it
==========================================  =================================================

A loss whose weight is 0 is left out, as keras-vis leaves it out. The same binding gives the
objective that saliency and Grad-CAM take the gradient of (there the priors are custom terms
too), and the per-loss values keras-vis' callbacks print.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...adapters import LayerRef, ModelAdapter, as_adapter
from ...adapters.keras import import_keras, is_keras_model
from ...engine import Step
from ...errors import ActmaxError
from ...objectives import Objective, custom
from ...regularizers import Regularizer, lp_norm, total_variation
from .losses import ActivationMaximization, Loss
from .regularizers import LPNorm, TotalVariation
from .tensors import Handle, handles_in, is_keras_tensor, live

__all__ = ["Bound", "bind"]


@dataclass
class _Entry:
    loss: Loss
    weight: float
    kind: str  # "objective" (native), "prior", "evaluated"
    name: str = ""  # a prior's regularizer name


class Bound:
    """A loss list bound to one model (see the module's table); made by `bind`.

    Args:
        adapter: the model's adapter.
        model: the model (Keras or PyTorch).
        keras_input: the Keras input tensor the losses were given with, or None.
        entries: each loss with its weight and how it runs (objective, prior or evaluated).
    """

    def __init__(self, adapter: ModelAdapter, model: Any, keras_input: Any, entries: list):
        self.adapter, self.model, self.keras_input = adapter, model, keras_input
        self.entries: list[_Entry] = entries
        self.input_name = adapter.input_name
        evaluated = [e for e in entries if e.kind == "evaluated"]
        self._evaluate = _evaluator(self, [e.loss for e in evaluated]) if evaluated else None
        self._weights = [e.weight for e in evaluated]
        self.last_values: list[torch.Tensor] = []  # the evaluated losses at the last call

    # -- the parts ------------------------------------------------------------------------
    @property
    def native(self) -> _Entry | None:
        return next((e for e in self.entries if e.kind == "objective"), None)

    @property
    def priors(self) -> list[_Entry]:
        """TV before Lp (the order of actmax's keras-vis recipe, so sums round alike)."""
        kinds = (TotalVariation, LPNorm)
        return sorted(
            (e for e in self.entries if e.kind == "prior"),
            key=lambda e: next(i for i, k in enumerate(kinds) if isinstance(e.loss, k)),
        )

    def regularizers(self) -> list[Regularizer]:
        """The priors as actmax's regularizers, TV before Lp."""
        return [e.loss.regularizer(e.weight, e.name) for e in self.priors]

    def maximized(self) -> tuple[Objective, float]:
        """The objective the engine maximizes and its weight: minus the losses that are not
        priors. One `ActivationMaximization` alone is its objective with its weight as
        `act_weight`, exactly as `visualize(..., act_weight=w)`."""
        native = self.native
        if native is not None and self._evaluate is None:
            return native.loss.objective(self.model), native.weight
        terms = []
        if native is not None:
            terms.append(native.weight * native.loss.objective(self.model))
        if self._evaluate is not None:
            terms.append(-1.0 * custom(self.input_name, self._combined, "keras-vis losses"))
        if not terms:
            terms.append(custom(self.input_name, _zeros, "no objective"))
        return sum(terms, start=0), 1.0

    def overall(self) -> Objective:
        """`sum(weight * loss)`, all losses as one objective (for saliency and Grad-CAM)."""
        terms = []
        native = self.native
        if native is not None:
            terms.append(-native.weight * native.loss.objective(self.model))
        for entry in self.priors:
            terms.append(entry.weight * custom(self.input_name, _prior(entry.loss), entry.name))
        if self._evaluate is not None:
            terms.append(custom(self.input_name, self._combined, "keras-vis losses"))
        if not terms:
            raise ActmaxError("every loss has weight 0: there is nothing to explain")
        return sum(terms, start=0)

    # -- values -----------------------------------------------------------------------------
    def _combined(self, x: torch.Tensor) -> torch.Tensor:
        """sum(weight * loss) of the evaluated losses, for each row of `x` (channels-first)."""
        rows = []
        for row in range(len(x)):
            values = self._evaluate(x[row : row + 1])
            self.last_values = [v.detach() for v in values]
            total = sum((w * v for w, v in zip(self._weights, values, strict=True)), start=0.0)
            rows.append(total.reshape(1))
        return torch.cat(rows)

    def named_losses(self, step: Step, act_weight: float) -> list[tuple[str, float]]:
        """keras-vis' `(name, weight * value)` per loss, from one engine step (row 0).

        Args:
            step: what the engine's callback saw at this step.
            act_weight: the objective's weight in that run.
        """
        objective = float(step.objective[0])
        evaluated = iter(self.last_values)
        named = []
        for entry in self.entries:
            if entry.kind == "prior":
                value = entry.weight * float(step.terms[entry.name][0])
            elif entry.kind == "evaluated":
                value = entry.weight * float(next(evaluated))
            elif self._evaluate is None:
                value = -act_weight * objective
            else:  # the objective also holds -sum(w * evaluated)
                combined = sum(
                    w * float(v) for w, v in zip(self._weights, self.last_values, strict=True)
                )
                value = -(objective + combined)
            named.append((entry.loss.name, value))
        return named

    def values_with(self, x: torch.Tensor, wrt: Handle | Any) -> tuple[list, torch.Tensor]:
        """Every loss through its `build_loss`, and the value of a tensor in the same pass.

        Args:
            x: one image, channels-first, with the batch axis.
            wrt: the tensor whose value is returned too (for gradients with respect to it).
        """
        evaluate = _evaluator(self, [e.loss for e in self.entries], wrt=wrt)
        return evaluate(x)


def bind(target: Any, losses: Sequence[tuple[Loss, float]]) -> Bound:
    """Bind `losses` to the model that `target` is the input of.

    Args:
        target: `model.input` of a Keras model, `utils.model_input(model)`, or a model itself.
        losses: (loss, weight) pairs.
    """
    losses = _checked(losses)
    model, keras_input = _model_of(target)
    if model is None:  # a Keras input tensor: a model from it to the layers the losses read
        keras = import_keras()
        outputs = [
            _keras_layer(loss.layer).output
            for loss, _ in losses
            if isinstance(loss, ActivationMaximization) and _keras_layer(loss.layer) is not None
        ]
        model = keras.Model(keras_input, outputs[:1] or keras_input)
    adapter = as_adapter(model)
    entries = []
    names: dict[str, int] = {}
    have_native = False
    for loss, weight in losses:
        kind = _kind(loss, keras_input, model)
        if kind == "objective":
            if have_native:
                kind = "evaluated"
            have_native = True
        name = ""
        if kind == "prior":
            base = "tv" if isinstance(loss, TotalVariation) else "lp"
            names[base] = names.get(base, 0) + 1
            name = base if names[base] == 1 else f"{base}_{names[base]}"
        entries.append(_Entry(loss, weight, kind, name))
    return Bound(adapter, model, keras_input, entries)


def _checked(losses) -> list[tuple[Loss, float]]:
    out = []
    for item in losses:
        try:
            loss, weight = item
        except (TypeError, ValueError):
            raise ActmaxError(f"losses are (Loss, weight) pairs, got {item!r}") from None
        if not isinstance(loss, Loss):
            raise ActmaxError(f"{loss!r} is not a vis.losses.Loss")
        if weight is not None and float(weight) != 0:  # keras-vis: "not used if 0 or None"
            out.append((loss, float(weight)))
    return out


def _model_of(target: Any) -> tuple[Any, Any]:
    """(the model or None, its Keras input tensor or None)."""
    if is_keras_tensor(target):
        return None, target
    if isinstance(target, Handle):
        if not target.is_input:
            raise ActmaxError(f"input_tensor is {target.describe()}, not the model's input")
        return target.model, None
    if isinstance(target, ModelAdapter):
        return target, None
    if is_keras_model(target):
        return target, target.inputs[0]
    if isinstance(target, torch.nn.Module):
        return target, None
    if isinstance(target, str | os.PathLike):  # a model file or run folder
        return _model_of(as_adapter(target))
    raise ActmaxError(
        "input_tensor is model.input (a Keras model), utils.model_input(model), the model or "
        "its path; "
        f"got {type(target).__name__}"
    )


def _keras_layer(layer: Any) -> Any:
    return layer if is_keras_tensor(getattr(layer, "output", None)) else None


def _overrides(loss: Loss, base: type) -> bool:
    return type(loss).build_loss is not base.build_loss


def _kind(loss: Loss, keras_input: Any, model: Any) -> str:
    if isinstance(loss, ActivationMaximization) and not _overrides(loss, ActivationMaximization):
        return "objective"
    for base in (TotalVariation, LPNorm):
        if (
            isinstance(loss, base)
            and not _overrides(loss, base)
            and _is_input(loss.img, keras_input, model)
        ):
            return "prior"
    return "evaluated"


def _is_input(tensor: Any, keras_input: Any, model: Any) -> bool:
    if keras_input is not None:
        return tensor is keras_input
    return isinstance(tensor, Handle) and tensor.is_input and tensor.model is model


def _zeros(x: torch.Tensor) -> torch.Tensor:
    return x.new_zeros(len(x))


def _prior(loss: Loss) -> Callable[[torch.Tensor], torch.Tensor]:
    """keras-vis' TV or Lp of each image of a batch (one value per row)."""
    if isinstance(loss, TotalVariation):
        return lambda x: total_variation(x, float(loss.beta))
    return lambda x: lp_norm(x, float(loss.p))


def _evaluator(bound: Bound, losses: list[Loss], wrt: Any = None):
    """A function of one channels-first image giving each loss's value (and `wrt`'s)."""
    if bound.keras_input is not None:
        return _keras_evaluator(bound, losses, wrt)
    return _torch_evaluator(bound, losses, wrt)


def _keras_evaluator(bound: Bound, losses: list[Loss], wrt: Any):
    keras = import_keras()
    symbolic = [_symbolic(loss, bound) for loss in losses]
    if wrt is not None:
        symbolic.append(wrt)
    program = keras.Model(bound.keras_input, symbolic)
    to_keras = getattr(bound.adapter, "to_keras", lambda x: x)

    def evaluate(x: torch.Tensor):
        outputs = program(to_keras(x), training=False)
        outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
        values = [_one_value(v, loss) for v, loss in zip(outputs, losses, strict=False)]
        return (values, outputs[-1]) if wrt is not None else values

    return evaluate


def _symbolic(loss: Loss, bound: Bound) -> Any:
    if isinstance(loss, ActivationMaximization) and _keras_layer(loss.layer) is None:
        layer = bound.adapter.layer(loss.layer_name(bound.model))  # a name or an index
        value = ActivationMaximization(layer, loss.filter_indices).build_loss()
    else:
        value = loss.build_loss()
    if not is_keras_tensor(value):
        raise ActmaxError(
            f"{loss.name}: build_loss() for a Keras model returns a symbolic tensor built from "
            f"model.input / layer.output with keras.ops, got {type(value).__name__}"
        )
    return value


def _torch_evaluator(bound: Bound, losses: list[Loss], wrt: Any):
    adapter, model = bound.adapter, bound.model
    handles: list[Handle] = [h for loss in losses for h in handles_in(loss)]
    if isinstance(wrt, Handle):
        handles.append(wrt)
    for handle in handles:
        if handle.model is not model:
            raise ActmaxError(f"a loss reads {handle.describe()} of another model")
    refs = {h.ref for h in handles if h.ref is not None}
    layers = {}
    for loss in losses:
        if isinstance(loss, ActivationMaximization) and not _overrides(
            loss, ActivationMaximization
        ):
            layers[id(loss)] = LayerRef(loss.layer_name(model))
    refs |= set(layers.values())

    def evaluate(x: torch.Tensor):
        output, acts = adapter.run(x, refs)
        values_by_key = {(id(model), str(ref)): act for ref, act in acts.items()}
        values_by_key[(id(model), None)] = output
        with live(values_by_key):
            values = []
            for loss in losses:
                if id(loss) in layers:
                    value = loss.value(acts[layers[id(loss)]])
                else:
                    value = loss.build_loss()
                values.append(_one_value(value, loss))
            if wrt is None:
                return values
            return values, wrt.value() if isinstance(wrt, Handle) else x

    return evaluate


def _one_value(value: Any, loss: Loss) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(np.asarray(value, dtype=np.float32))
    if value.numel() != 1:
        raise ActmaxError(
            f"{loss.name}: build_loss() gives {value.numel()} values; a loss is one number "
            "(the loss of the one image keras-vis optimizes)"
        )
    return value.reshape(())
