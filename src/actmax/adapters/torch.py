"""PyTorch models: layers are the top-level children (any dotted module name works too).

Which layer makes the output (index -1, and where `logit()` reads) is found by running the model
once on a constant input of its input shape, on a frozen copy: the module whose output *is* the
model's output. The last registered child is not it when, say, a dropout is declared after the
classifier, or when `forward` calls its modules in another order.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ActmaxError, LayerNotFoundError
from .base import (
    LayerRef,
    ModelAdapter,
    RepeatedCallError,
    check_logits,
    distribution_kind,
    logits_error,
)
from .isolation import isolated_copy
from .preprocess import Preprocess, as_preprocess

ACTIVATION_TYPES = (
    nn.Softmax,
    nn.LogSoftmax,
    nn.ReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.GELU,
    nn.LeakyReLU,
    nn.ELU,
    nn.SiLU,
    nn.Identity,
)
# Forward traces by model (see `TorchAdapter.trace`), dropped with the model.
_TRACES: weakref.WeakKeyDictionary[nn.Module, dict[tuple, ForwardTrace]] = (
    weakref.WeakKeyDictionary()
)
# Modules that hand their input on unchanged in eval mode: never "the layer that makes" anything.
PASS_THROUGH = (
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


class _Recorded(Exception):
    """Raised by a hook to end a forward pass once every wanted activation is recorded."""


@dataclass(frozen=True)
class ForwardTrace:
    """One forward pass, seen from the modules.

    order: module names in the order their calls returned (a reused module appears again).
    outputs: for each module, which object its first call returned (an identity number that
        means something only within this trace); the model's output is under "".
    output_kind: `distribution_kind` of the model's output (None for logits or anything else).
    """

    order: tuple[str, ...]
    outputs: dict[str, int]
    output_kind: str | None

    def producers_of(self, name: str) -> list[str]:
        """The modules that returned the very object `name` returned (itself included), in the
        order their calls returned: a container after what it contains. "" is the model."""
        made = self.outputs.get(name)
        if made is None:
            return []
        seen = dict.fromkeys(n for n in self.order if self.outputs.get(n) == made)
        return list(seen)

    @property
    def producers(self) -> list[str]:
        """The modules whose output is the model's output."""
        return self.producers_of("")


def trace_forward(model: nn.Module, x: torch.Tensor) -> ForwardTrace:
    """Run `model` once on `x` without gradients and record which module produced what.

    model: a module that may be changed (hooks are added and removed): pass a frozen copy.
    x: an input the model takes.
    """
    names: dict[int, str] = {}
    for name, module in model.named_modules():
        if name:
            names.setdefault(id(module), name)
    calls: list[tuple[str, object]] = []

    def hook(module, _inputs, output):
        calls.append((names[id(module)], output))

    modules = [module for module in _unique(model) if module is not model]
    handles = [module.register_forward_hook(hook) for module in modules]
    try:
        with torch.no_grad():
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    outputs = {"": id(output)}
    for name, value in calls:  # every output is still alive here, so identities are unique
        outputs.setdefault(name, id(value))
    return ForwardTrace(
        order=tuple(name for name, _ in calls),
        outputs=outputs,
        output_kind=distribution_kind(output),
    )


def _unique(model: nn.Module) -> list[nn.Module]:
    seen: dict[int, nn.Module] = {}
    for module in model.modules():
        seen.setdefault(id(module), module)
    return list(seen.values())


class TorchAdapter(ModelAdapter):
    """Wraps an `nn.Module` taking channels-first input; activations are read with forward hooks.

    Args:
        model: the module (left untouched by `isolated()` views).
        input_shape: one input's shape (C, H, W); default: the model's `input_shape` attribute.
        preprocess: a differentiable step in front of the model (e.g. `Normalize(mean, std)`).
    """

    concurrent_recorder = True

    def __init__(
        self,
        model: nn.Module,
        input_shape: tuple[int, ...] | None = None,
        preprocess: Preprocess | None = None,
    ):
        self.model = model
        shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
        self.input_shape = tuple(int(s) for s in shape) if shape is not None else None
        self.preprocess = as_preprocess(preprocess)
        self._input_name = getattr(model, "input_name", "input")
        self._modules = dict(model.named_modules())
        self._traces: dict[tuple, ForwardTrace] = {}  # for models without weak references
        self._source = model  # the caller's model, which views keep tracing (never hooked)

    def over(self, model: nn.Module) -> TorchAdapter:
        clone = super().over(model)
        clone._modules = dict(model.named_modules())
        return clone

    def layer_names(self) -> list[str]:
        return [self._input_name] + [name for name, _ in self.model.named_children()]

    def all_names(self) -> list[str]:
        return [self._input_name] + [name for name in self._modules if name]

    def module(self, name: str) -> nn.Module | None:
        if name == self._input_name:
            return None
        return self._modules[self._module_name(name)]

    def _module_name(self, layer: str) -> str:
        """The dotted module name behind a layer name."""
        return layer

    def has_pre_activation(self, layer: str | int) -> bool:
        name = self.resolve(layer)
        if name == self._input_name:
            return False
        module = self.module(name)
        return isinstance(getattr(module, "activation", None), nn.Module) or self._is_activation(
            self._module_name(name)
        )

    def _is_activation(self, module_name: str) -> bool:
        """Whether a module is nothing but an activation (its input is its pre-activation)."""
        return isinstance(self._modules.get(module_name), ACTIVATION_TYPES)

    def _activation_module(self, name: str) -> nn.Module:
        """The module whose input is `name`'s pre-activation."""
        module = self.module(name)
        if self.has_pre_activation(name):
            activation = getattr(module, "activation", None)
            return activation if isinstance(activation, nn.Module) else module
        raise ActmaxError(
            f"layer {name!r} has no separate activation to read the input of; target the layer "
            "that computes its input instead (for logits: logit(c), or the last linear layer)"
        )

    # -- the layer that makes the output --------------------------------------------------------
    def trace(self) -> ForwardTrace | None:
        """The model's forward pass seen from its modules (None when the input shape is unknown).

        Run once per model, input shape and preprocessing (and again if submodules are
        replaced) on a constant input, on a frozen copy of the caller's model, with one row (or
        the batch size the model says it needs in `input_batch`).
        """
        if self.input_shape is None:
            return None
        structure = tuple((name, id(m), type(m)) for name, m in self._source.named_modules())
        key = (self.input_shape, id(self.preprocess), structure)
        try:  # kept with the model, so that every call on the same model runs it once
            traces = _TRACES.setdefault(self._source, {})
        except TypeError:  # a module that cannot be weakly referenced
            traces = self._traces
        found = traces.get(key)
        if found is None:
            source = TorchAdapter(self._source)  # a view's model may carry actmax's hooks
            batch = getattr(self._source, "input_batch", None) or 1  # a fixed batch (.pt2)
            shape = (batch, *self.input_shape)
            x = torch.full(shape, 0.5, dtype=source.dtype, device=source.device)
            try:
                found = trace_forward(isolated_copy(self._source), self.model_input(x))
            except ActmaxError:
                raise
            except Exception as error:
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise ActmaxError(
                    f"the model does not run on one input of shape {self.input_shape} "
                    f"({type(error).__name__}: {first}); give its input_shape=(C, H, W)"
                ) from None
            traces[key] = found
        return found

    def output_layer(self) -> str:
        """The top-level layer whose output is the model's output, from one forward pass.

        Without an input shape, a `nn.Sequential`'s last child that is not a pass-through
        (dropout, identity) is taken; any other model needs its input shape.
        """
        trace = self.trace()
        layers = self.layer_names()[1:]
        if trace is None:
            return self._static_output_layer(layers)
        first: dict[str, int] = {}
        for i, name in enumerate(trace.producers):
            first.setdefault(name, i)
        made = [layer for layer in layers if self._module_name(layer) in first]
        if made:
            return min(made, key=lambda layer: first[self._module_name(layer)])
        last = self._last_called(trace)
        if trace.output_kind is not None:
            raise logits_error("the model's output", trace.output_kind, last)
        raise LayerNotFoundError(
            "no layer makes this model's output: forward() computes it after its last module"
            + (f" ({last!r})" if last else "")
            + "; name the layer to read instead of index -1"
            + (f", e.g. unit({last!r}, c)" if last else "")
        )

    def _static_output_layer(self, layers: list[str]) -> str:
        if isinstance(self.model, nn.Sequential) or len(layers) == 1:
            for layer in reversed(layers):
                if not isinstance(self.module(layer), PASS_THROUGH):
                    return layer
            return layers[-1]
        raise LayerNotFoundError(
            "layer -1 is the layer that makes the model's output, which actmax finds by running "
            "the model once: give the model's input_shape=(C, H, W), or name the layer"
        )

    def _last_called(self, trace: ForwardTrace, within: str | None = None) -> str | None:
        """The last module to return in the trace (inside `within`), pass-throughs skipped."""
        for name in reversed(trace.order):
            if within is not None and not name.startswith(within + "."):
                continue
            if not isinstance(self._modules.get(name), PASS_THROUGH):
                return name
        return None

    def logit_ref(self, layer: str | int = -1) -> LayerRef:
        """The pre-softmax output of `layer` (default: the layer that makes the output).

        Args:
            layer: a layer name or Keras-style index.

        A final activation module (an `nn.Softmax`, a layer's `activation` submodule, or the
        last module a container such as `nn.Sequential(..., nn.Softmax())` runs) is read at
        its input; a layer without one (an `nn.Linear`) at its output.
        """
        name = self.resolve(layer)
        if name == self._input_name:
            raise ActmaxError("the input has no logits; target a layer of the model")
        trace = self.trace()
        module_name = self._module_name(name)
        made_by = trace.producers_of(module_name) if trace is not None else None
        activation = getattr(self.module(name), "activation", None)
        if self._is_activation(module_name) or (
            isinstance(activation, nn.Module)
            and (made_by is None or self._name_of(activation) in made_by)
        ):
            return LayerRef(name, True, logits=True)
        inner = self._inner_activation(module_name, made_by)
        if inner is not None:
            return LayerRef(inner, True, logits=True)
        return LayerRef(name, False, logits=True)

    def _inner_activation(self, module_name: str, made_by: list[str] | None) -> str | None:
        """The activation module nested in `module_name` that makes its output, if any."""
        if made_by is not None:
            for name in made_by:  # innermost first: calls return inside out
                if name.startswith(module_name + ".") and self._is_activation(name):
                    return name
            return None
        module = self._modules[module_name]
        while isinstance(module, nn.Sequential) and len(module):
            children = list(module.named_children())
            kept = [(n, m) for n, m in children if not isinstance(m, PASS_THROUGH)]
            child_name, module = (kept or children)[-1]
            module_name = f"{module_name}.{child_name}"
            if self._is_activation(module_name):
                return module_name
        return None

    def _name_of(self, module: nn.Module) -> str | None:
        for name, candidate in self._modules.items():
            if candidate is module:
                return name
        return None

    def _logit_suggestion(self, ref: LayerRef) -> str | None:
        trace = self.trace()
        if trace is None:
            return None
        return self._last_called(trace, within=self._module_name(ref.name))

    def _stops_cleanly(self, refs: set[LayerRef]) -> bool:
        """Whether a forward pass may end once `refs` are recorded: every hooked module runs
        exactly once (from a traced pass), so nothing recorded would be overwritten later."""
        trace = self.trace()
        if trace is None:
            return False
        hooked = []
        for ref in refs:
            if ref.name == self._input_name:
                continue
            if ref.pre_activation:
                hooked.append(self._name_of(self._activation_module(ref.name)))
            else:
                hooked.append(self._module_name(ref.name))
        return all(name is not None and trace.order.count(name) == 1 for name in hooked)

    # -- forward --------------------------------------------------------------------------------
    def run(
        self, x: torch.Tensor, refs: Iterable[LayerRef]
    ) -> tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]:
        """Forward `x` and return the output and the requested activations.

        Args:
            x: a channels-first batch, in pixel space (before `preprocess`).
            refs: the activations to return, by reference.
        """
        with self.recorder(refs) as forward:
            return forward(x)

    @contextmanager
    def recorder(
        self, refs: Iterable[LayerRef], *, stop_early: bool = False
    ) -> Iterator[Callable[[torch.Tensor], tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]]]:
        """Hooks registered once for the block; each thread's calls see only their own
        activations, so slices of a batch can run through the model concurrently.

        A module that runs more than once in one forward pass raises `RepeatedCallError`;
        logits that are a probability distribution raise the error of `check_logits` (checked
        on the first call).

        Args:
            refs: the activations every call returns.
            stop_early: end each forward pass as soon as every ref is recorded (the output is
                then None): the layers after them would be computed for nothing. Done only when
                one traced forward pass shows that each recorded module runs once.
        """
        local = threading.local()
        refs = set(refs)
        stop = stop_early and self._stops_cleanly(refs)

        def keep(ref: LayerRef, value: torch.Tensor) -> None:
            acts = getattr(local, "acts", None)
            if acts is None:
                return
            if ref in acts:
                local.repeats[ref] = local.repeats.get(ref, 1) + 1
            acts[ref] = value
            if stop and len(acts) == len(refs):
                raise _Recorded

        def keep_output(ref):
            def hook(_module, _inputs, output):
                keep(ref, output)

            return hook

        def keep_input(ref):
            def hook(module, inputs):
                value = inputs[0]
                keep(ref, value.clone() if getattr(module, "inplace", False) else value)

            return hook

        unchecked = [ref for ref in refs if ref.logits and not ref.pre_activation]
        # before any hook exists: the trace behind a suggestion runs the model (on a copy)
        suggestions = {ref: self._logit_suggestion(ref) for ref in unchecked}
        handles = []
        try:
            for ref in refs:
                if ref.name == self._input_name:
                    continue
                if ref.pre_activation:
                    target = self._activation_module(ref.name)
                    handles.append(target.register_forward_pre_hook(keep_input(ref)))
                else:
                    handles.append(self.module(ref.name).register_forward_hook(keep_output(ref)))

            def forward(x: torch.Tensor) -> tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]:
                local.acts = {ref: x for ref in refs if ref.name == self._input_name}
                local.repeats = {}
                try:
                    try:
                        output = self.model(self.model_input(x))
                    except _Recorded:
                        output = None
                    acts = local.acts
                    if local.repeats:
                        raise RepeatedCallError(local.repeats)
                    while unchecked:
                        ref = unchecked.pop()
                        check_logits(ref, acts.get(ref), suggestions[ref])
                    return output, acts
                finally:
                    local.acts = None

            yield forward
        finally:
            for handle in handles:
                handle.remove()
