"""Keras 3 models on Keras' torch backend, where a Keras model is a `torch.nn.Module`.

Layers are addressed by their Keras name or Keras layer index. For a functional model the index
is the position in `model.layers`, which starts with the `InputLayer` (the lab's `l5` is layer 9);
a `Sequential` model's `model.layers` omits its input, so here the input is prepended and every
index is one more than in `model.layers`. actmax speaks channels-first: `run()` takes NCHW,
feeds NHWC to a channels-last model and returns activations moved back to channels-first.

Intermediate outputs come from one `keras.Model(inputs, [outputs...])` that shares the model's
layers, built once per set of requested layers and cached. The pre-activation of a layer with an
`activation` (the logits of a softmax layer) is read by setting `layer.activation` to a recorder
that passes through to the original activation, restored after every call, so the model's own
output never changes.
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ActmaxError
from .base import LayerRef, ModelAdapter

BACKEND_HELP = (
    "set the environment variable KERAS_BACKEND=torch before Python imports keras (in a "
    "notebook: `import os; os.environ['KERAS_BACKEND'] = 'torch'` in the first cell, then "
    "restart the kernel)"
)
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
# Layers that are nothing but an activation: their pre-activation is their input.
ACTIVATION_LAYERS = ("Softmax", "ReLU", "LeakyReLU", "PReLU", "ELU")


def is_keras_model(obj: object) -> bool:
    """True for a Keras 3 layer or model, without importing Keras."""
    return any(_from_package(cls, "keras") for cls in type(obj).__mro__)


def is_legacy_keras_model(obj: object) -> bool:
    """True for a tf.keras / Keras 2 model, which runs on TensorFlow only."""
    return any(
        _from_package(cls, "tf_keras") or _from_package(cls, "tensorflow")
        for cls in type(obj).__mro__
    )


def _from_package(cls: type, package: str) -> bool:
    module = cls.__module__ or ""
    return module == package or module.startswith(package + ".")


def import_keras():
    """Import Keras on its torch backend, or explain what to change.

    When Keras is not imported yet and no backend is chosen, the torch backend is chosen here.
    """
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as error:
        if "keras" in str(error.name or ""):
            raise ActmaxError("Keras models need Keras 3: pip install 'actmax[keras]'") from error
        backend = os.environ.get("KERAS_BACKEND", "?")
        raise ActmaxError(
            f"Keras could not start its {backend!r} backend ({error}); actmax runs Keras on "
            f"PyTorch: {BACKEND_HELP}"
        ) from error
    backend = keras.backend.backend()
    if backend != "torch":
        raise ActmaxError(
            f"Keras is running on its {backend!r} backend, but actmax needs Keras' torch "
            f"backend: {BACKEND_HELP}"
        )
    return keras


def load_model(path: str | os.PathLike, *, compile: bool = False) -> Any:
    """Load a `.keras` or legacy `.h5` model with Keras' safe mode (no code from the file runs)."""
    keras = import_keras()
    path = Path(path)
    if not path.is_file():
        raise ActmaxError(f"no model file at {path}")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ActmaxError(
            f"{path} is not a Keras model file: expected {', '.join(MODEL_SUFFIXES)} "
            "(a Keras model saved with model.save)"
        )
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ActmaxError(f"{path} could not be loaded as a Keras model: {reason}") from error
    if not isinstance(model, keras.Model):
        raise ActmaxError(f"{path} holds a {type(model).__name__}, not a Keras model")
    return model


class KerasAdapter(ModelAdapter):
    """Wraps a Keras 3 functional or Sequential model (torch backend).

    A model with several inputs visualizes one of them: name it with `input` and give every
    other input a fixed value (one sample, channels-last as Keras takes it) in `fixed_inputs`.
    """

    def __init__(
        self,
        model: Any,
        input: str | int | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        input_shape: Sequence[int] | None = None,
    ):
        keras = import_keras()
        if not isinstance(model, keras.Model):
            raise ActmaxError(f"expected a Keras model, got {type(model).__name__}")
        self.model = model
        self._keras = keras
        inputs = _graph_inputs(model)
        self._inputs = inputs
        self._input_index = _choose_input(inputs, input)
        self._input_name = inputs[self._input_index].name
        self._fixed = _fixed_inputs(inputs, self._input_index, fixed_inputs or {})
        self.channels_last = _channels_last(model, keras)
        self.input_shape = (
            tuple(input_shape)
            if input_shape is not None
            else self._channels_first_shape(inputs[self._input_index].shape[1:])
        )
        self._taps: dict[tuple[tuple[str, str], ...], Any] = {}

    # -- layout ---------------------------------------------------------------------------------
    def _channels_first_shape(self, shape: Sequence[int | None]) -> tuple[int, ...] | None:
        if any(dim is None for dim in shape):
            return None
        shape = tuple(int(dim) for dim in shape)
        if self.channels_last and len(shape) >= 2:
            return (shape[-1], *shape[:-1])
        return shape

    def to_keras(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-first (actmax) to the model's layout."""
        return x.movedim(1, -1) if self.channels_last and x.ndim >= 3 else x

    def from_keras(self, x: torch.Tensor) -> torch.Tensor:
        """The model's layout to channels-first (actmax)."""
        return x.movedim(-1, 1) if self.channels_last and x.ndim >= 3 else x

    # -- names ----------------------------------------------------------------------------------
    @property
    def input_name(self) -> str:
        return self._input_name

    def layer_names(self) -> list[str]:
        names = [layer.name for layer in self.model.layers]
        return names if self._input_name in names else [self._input_name, *names]

    def all_names(self) -> list[str]:
        return self.layer_names()

    def module(self, name: str) -> torch.nn.Module | None:
        if name == self._input_name:
            return None
        return self.model.get_layer(name)

    def layer(self, name: str | int) -> Any:
        """The Keras layer behind a name or index (None for the input)."""
        return self.module(self.resolve(name))

    def has_pre_activation(self, name: str) -> bool:
        """Whether `ref(name, pre_activation=True)` can be read (the layer has an activation)."""
        name = self.resolve(name)
        return name != self._input_name and _pre_activation_kind(self.module(name)) is not None

    # -- forward --------------------------------------------------------------------------------
    def run(
        self, x: torch.Tensor, refs: Iterable[LayerRef]
    ) -> tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]:
        refs = set(refs)
        taps: dict[tuple[str, str], list[LayerRef]] = {}
        recorders: dict[str, list[LayerRef]] = {}
        for ref in refs:
            if ref.name == self._input_name:
                continue
            if not ref.pre_activation:
                taps.setdefault(("output", ref.name), []).append(ref)
                continue
            kind = _pre_activation_kind(self.model.get_layer(ref.name))
            if kind == "activation":
                recorders.setdefault(ref.name, []).append(ref)
            elif kind == "input":
                taps.setdefault(("input", ref.name), []).append(ref)
            else:
                raise ActmaxError(
                    f"layer {ref.name!r} ({type(self.model.get_layer(ref.name)).__name__}) has no "
                    "activation to read the input of; target the layer that computes its input "
                    "instead"
                )
        keys = tuple(sorted(taps))
        inputs = [
            self.to_keras(x)
            if i == self._input_index
            else value.to(x.device, x.dtype).expand(len(x), *value.shape[1:])
            for i, value in enumerate(self._fixed)
        ]
        recorded: dict[str, torch.Tensor] = {}
        originals = {name: self.model.get_layer(name).activation for name in recorders}
        try:
            for name, activation in originals.items():
                self.model.get_layer(name).activation = _recorder(name, activation, recorded)
            outputs = self._tap_model(keys)(
                inputs if len(inputs) > 1 else inputs[0], training=False
            )
        finally:
            for name, activation in originals.items():
                self.model.get_layer(name).activation = activation
        outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
        n_out = len(self.model.outputs)
        acts: dict[LayerRef, torch.Tensor] = {}
        for ref in refs:
            if ref.name == self._input_name:
                acts[ref] = x
        for key, value in zip(keys, outputs[n_out:], strict=True):
            for ref in taps[key]:
                acts[ref] = self.from_keras(value)
        for name, value in recorded.items():
            for ref in recorders[name]:
                acts[ref] = self.from_keras(value)
        model_out = [self.from_keras(out) for out in outputs[:n_out]]
        return (model_out[0] if n_out == 1 else model_out), acts

    def _tap_model(self, keys: tuple[tuple[str, str], ...]) -> Any:
        """One Keras model giving the model's outputs, then each tapped tensor (cached)."""
        if not keys:
            return self.model
        if keys not in self._taps:
            tensors = []
            for kind, name in keys:
                layer = self.model.get_layer(name)
                try:
                    tensors.append(layer.output if kind == "output" else layer.input)
                except (AttributeError, ValueError) as error:
                    raise ActmaxError(
                        f"layer {name!r} has no single {kind} in this model's graph "
                        f"(is it shared, or inside a nested model?): {error}"
                    ) from error
            self._taps[keys] = self._keras.Model(
                self.model.inputs, [*self.model.outputs, *tensors], name=f"{self.model.name}_taps"
            )
        return self._taps[keys]


def _pre_activation_kind(layer: Any) -> str | None:
    """How a layer's pre-activation is read: its `activation`, its input, or not at all."""
    if getattr(layer, "activation", None) is not None:
        return "activation"
    if type(layer).__name__ in ACTIVATION_LAYERS:
        return "input"
    return None


def _recorder(
    name: str, activation: Callable, recorded: dict[str, torch.Tensor]
) -> Callable[[torch.Tensor], torch.Tensor]:
    def record(value: torch.Tensor) -> torch.Tensor:
        recorded[name] = value
        return activation(value)

    return record


def _graph_inputs(model: Any) -> list[Any]:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ActmaxError(
            f"the Keras model {model.name!r} has no input graph: build it with keras.Input "
            "(functional API or keras.Sequential([keras.Input(shape), ...])); subclassed models "
            "without a graph cannot give intermediate outputs"
        )
    return list(inputs)


def _choose_input(inputs: list[Any], choice: str | int | None) -> int:
    names = [tensor.name for tensor in inputs]
    if choice is None:
        if len(inputs) == 1:
            return 0
        raise ActmaxError(
            f"this Keras model has {len(inputs)} inputs ({', '.join(names)}): choose the one to "
            "visualize with input=NAME and give the others values with fixed_inputs={NAME: array}"
        )
    if isinstance(choice, int) and not isinstance(choice, bool):
        if not 0 <= choice < len(inputs):
            raise ActmaxError(f"input {choice} is out of range: the inputs are {names}")
        return choice
    if choice not in names:
        raise ActmaxError(f"no input named {choice!r}; the inputs are: {', '.join(names)}")
    return names.index(choice)


def _fixed_inputs(inputs: list[Any], chosen: int, given: Mapping[str, Any]) -> list[Any]:
    names = [tensor.name for tensor in inputs]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ActmaxError(f"fixed_inputs names {unknown} are not inputs; the inputs are {names}")
    missing = [name for i, name in enumerate(names) if i != chosen and name not in given]
    if missing:
        raise ActmaxError(
            f"the model's other inputs need fixed values: fixed_inputs={{...}} lacks {missing}"
        )
    values: list[Any] = []
    for i, tensor in enumerate(inputs):
        if i == chosen:
            values.append(None)
            continue
        value = np.asarray(given[tensor.name], dtype=np.float32)
        expected = tuple(tensor.shape[1:])
        if value.shape == expected:
            value = value[None]
        if value.shape[0] != 1 or not _shape_fits(value.shape[1:], expected):
            raise ActmaxError(
                f"fixed input {tensor.name!r} has shape {value.shape}; expected one sample of "
                f"shape {expected} (channels-last, as Keras takes it)"
            )
        values.append(torch.from_numpy(value))
    return values


def _shape_fits(shape: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )


def _channels_last(model: Any, keras: Any) -> bool:
    """The model's image layout: its first layer that states one, else Keras' global setting."""
    stack = list(model.layers)
    while stack:
        layer = stack.pop(0)
        data_format = getattr(layer, "data_format", None)
        if data_format in ("channels_last", "channels_first"):
            return data_format == "channels_last"
        stack.extend(getattr(layer, "layers", []))
    return keras.config.image_data_format() == "channels_last"
