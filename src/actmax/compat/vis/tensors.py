"""The model tensors a keras-vis `Loss` reads, for Keras 3 and PyTorch models alike.

keras-vis builds its losses from a model's symbolic tensors (`model.input`, `layer.output`).
actmax keeps that for Keras 3 models: `model.input` and `layer.output` are Keras' own symbolic
tensors, and a loss built from them with `keras.ops` (or `actmax.compat.keras.backend`) is
compiled into a function of the input. A PyTorch module has no symbolic tensors, so
`utils.model_input(model)`, `utils.layer_output(model, i)` and `utils.model_output(model)` give a
`Handle` instead: a reference to one tensor of the model that, while actmax evaluates a loss,
behaves as that step's torch tensor (torch functions, arithmetic, indexing, `.mean()`...).
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from ...adapters import LayerRef, as_adapter
from ...adapters.keras import is_keras_model
from ...errors import ActmaxError

# The values of the handles while a loss is evaluated: Handle.key -> tensor (channels-first).
_LIVE: contextvars.ContextVar[Mapping[tuple, torch.Tensor] | None] = contextvars.ContextVar(
    "actmax_compat_live", default=None
)


def is_keras_tensor(value: Any) -> bool:
    """A Keras 3 symbolic tensor (`model.input`, `layer.output`), without importing Keras."""
    return type(value).__name__ == "KerasTensor" and type(value).__module__.startswith("keras")


class Handle:
    """One tensor of a model by reference: its input, a layer's output, or its output.

    `ref` is the layer (a `LayerRef`, whose name is the model's input name for the input) or
    None for the model's output. Outside a loss evaluation a handle has no value; using it then
    raises an error that says so. Two handles are equal only if they are the same object (as
    keras-vis' graph tensors were), so `!=` never compares values.
    """

    __slots__ = ("model", "ref", "_adapter")

    def __init__(self, model: Any, ref: LayerRef | None):
        self.model = model
        self.ref = ref
        self._adapter = as_adapter(model)

    @property
    def key(self) -> tuple:
        return (id(self.model), None if self.ref is None else str(self.ref))

    @property
    def is_input(self) -> bool:
        return self.ref is not None and self.ref.name == self._adapter.input_name

    def describe(self) -> str:
        if self.ref is None:
            return "the model's output"
        return "the model's input" if self.is_input else f"the output of layer {self.ref}"

    def __repr__(self) -> str:
        return f"Handle({self.describe()})"

    def value(self) -> torch.Tensor:
        """This step's tensor (channels-first, batch first)."""
        live = _LIVE.get()
        if live is None or self.key not in live:
            raise ActmaxError(
                f"{self.describe()} has a value only while actmax evaluates a loss (inside "
                "build_loss, called by the optimizer); keep it as an attribute of the Loss"
            )
        return live[self.key]

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.value(), name)

    def __len__(self) -> int:
        return len(self.value())

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return func(*resolve(args), **resolve(kwargs or {}))


def _forward(name: str):
    op = getattr(operator, name.strip("_").removeprefix("r"), None)
    reflected = name.startswith("__r") and name not in ("__round__",)

    def method(self, *args):
        if reflected:
            return op(resolve(args[0]), self.value())
        return getattr(self.value(), name)(*resolve(args))

    method.__name__ = name
    return method


for _name in [
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__pow__",
    "__rpow__",
    "__matmul__",
    "__rmatmul__",
    "__neg__",
    "__pos__",
    "__abs__",
    "__getitem__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__floordiv__",
    "__mod__",
]:
    setattr(Handle, _name, _forward(_name))


def resolve(value: Any) -> Any:
    """`value` with every handle in it (also inside lists, tuples and dicts) replaced by its
    tensor."""
    if isinstance(value, Handle):
        return value.value()
    if isinstance(value, list | tuple):
        return type(value)(resolve(v) for v in value)
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    return value


@contextmanager
def live(values: Mapping[tuple, torch.Tensor]) -> Iterator[None]:
    """Within the block, handles whose key is in `values` act as those tensors."""
    token = _LIVE.set(values)
    try:
        yield
    finally:
        _LIVE.reset(token)


def handles_in(obj: Any) -> list[Handle]:
    """The handles a loss holds as attributes (also in lists, tuples and dicts among them)."""
    found: list[Handle] = []

    def visit(value: Any, depth: int) -> None:
        if isinstance(value, Handle):
            found.append(value)
        elif depth < 2 and isinstance(value, list | tuple):
            for v in value:
                visit(v, depth + 1)
        elif depth < 2 and isinstance(value, dict):
            for v in value.values():
                visit(v, depth + 1)

    for value in vars(obj).values() if hasattr(obj, "__dict__") else ():
        visit(value, 0)
    return found


def model_input(model: Any) -> Any:
    """The model's input: Keras' `model.inputs[0]` for a Keras model, else a `Handle`."""
    if is_keras_model(model):
        return model.inputs[0]
    adapter = as_adapter(model)
    return Handle(model, LayerRef(adapter.input_name))


def layer_output(model: Any, layer: Any) -> Any:
    """A layer's output: Keras' `layer.output` for a Keras model, else a `Handle`.

    layer: an index as keras-vis counts (`vis.utils.utils.find_layer_idx`), a name, or the
    layer (module) itself."""
    from .utils.utils import layer_name

    if is_keras_model(model):
        return model.get_layer(layer_name(model, layer_index_or_name(model, layer))).output
    return Handle(model, LayerRef(layer_name(model, layer_index_or_name(model, layer))))


def model_output(model: Any) -> Any:
    """The model's output: Keras' `model.outputs[0]` for a Keras model, else a `Handle`."""
    if is_keras_model(model):
        return model.outputs[0]
    return Handle(model, None)


def layer_index_or_name(model: Any, layer: Any) -> int | str:
    """A layer given as an index, a name, or the layer (Keras layer or torch module) itself."""
    if isinstance(layer, int | str):
        return layer
    name = getattr(layer, "name", None)
    if is_keras_model(model) and isinstance(name, str):
        return name
    if isinstance(model, torch.nn.Module) and isinstance(layer, torch.nn.Module):
        for module_name, module in model.named_modules():
            if module is layer and module_name:
                return module_name
    raise ActmaxError(
        f"{type(layer).__name__} is not a layer of this model; give a layer index, a name, or "
        "one of the model's own layers"
    )
