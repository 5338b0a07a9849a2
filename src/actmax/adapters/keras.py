"""Keras 3 models on Keras' torch backend, where a Keras model is a `torch.nn.Module`.

Layers are addressed by their Keras name or Keras layer index. For a functional model the index
is the position in `model.layers`, which starts with the `InputLayer` (the lab's `l5` is layer 9);
a `Sequential` model's `model.layers` omits its input, so here the input is prepended and every
index is one more than in `model.layers`. actmax speaks channels-first: `run()` takes NCHW,
feeds NHWC to a channels-last model and returns activations moved back to channels-first.

Intermediate outputs are recorded during the model's own forward pass, as PyTorch hooks would
(Keras layers do not fire them): for one call, the requested layers' `call` is wrapped by a
recorder that hands the rest of the model the recorded (channels-first) tensor, so gradients with
respect to a recorded activation reach the target, as Grad-CAM needs. The pre-activation of a
layer with an `activation` (the logits of a softmax layer) is read by setting `layer.activation`
to a recorder that passes through to the original activation; the model's output never changes.
Layers inside nested models are reachable by name. Everything is restored after each call.
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ActmaxError, LayerNotFoundError
from .base import LayerRef, ModelAdapter, RepeatedCallError, check_logits, logits_error
from .isolation import place
from .preprocess import Preprocess, as_preprocess

BACKEND_HELP = (
    "set the environment variable KERAS_BACKEND=torch before Python imports keras (in a "
    "notebook: `import os; os.environ['KERAS_BACKEND'] = 'torch'` in the first cell, then "
    "restart the kernel)"
)
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
# Layers that are nothing but an activation: their pre-activation is their input.
ACTIVATION_LAYERS = ("Softmax", "ReLU", "LeakyReLU", "PReLU", "ELU")
# Layers that hand their input on unchanged at inference: never "the layer that makes" anything.
PASS_THROUGH_LAYERS = (
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
)
DISTRIBUTION_OPS = ("Softmax", "LogSoftmax", "log_softmax", "softmax")


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

    model: a Keras 3 model built on the torch backend, with an input graph.
    input, fixed_inputs: a model with several inputs visualizes one of them: name it with
        `input` and give every other input a fixed value (one sample, channels-last as Keras
        takes it) in `fixed_inputs`.
    input_shape: one input's shape, channels first (default: the model's).
    preprocess: a differentiable step in front of the model, on channels-first pixels.
    """

    def __init__(
        self,
        model: Any,
        input: str | int | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        input_shape: Sequence[int] | None = None,
        preprocess: Preprocess | None = None,
    ):
        keras = import_keras()
        if not isinstance(model, keras.Model):
            raise ActmaxError(f"expected a Keras model, got {type(model).__name__}")
        self.model = model
        inputs = _graph_inputs(model)
        self._input_index = _choose_input(inputs, input)
        self._input_name = inputs[self._input_index].name
        self._fixed = _fixed_inputs(inputs, self._input_index, fixed_inputs or {})
        self.channels_last = _channels_last(model, keras)
        self.input_shape = (
            tuple(input_shape)
            if input_shape is not None
            else self._channels_first_shape(inputs[self._input_index].shape[1:])
        )
        self._layers = _all_layers(model)
        self.preprocess = as_preprocess(preprocess)
        self._logits_checked: set[LayerRef] = set()  # shared with views: the same layers

    def over(self, model: Any) -> KerasAdapter:
        clone = super().over(model)
        clone._layers = _all_layers(model)
        return clone

    @contextmanager
    def isolated(
        self,
        device: str | torch.device | None = None,
        memory_format: torch.memory_format | None = None,
    ) -> Iterator[KerasAdapter]:
        """An adapter over a clone of the Keras model that shares its weights; the caller's
        model is never touched (see `ModelAdapter.isolated`).

        device: where the clone's weights live for the block (None: where they are).
        memory_format: a layout for 4-D weights (None: as they are).

        The clone is rebuilt from the model's config (`keras.models.clone_model`); its
        variables hold the original tensors (moved copies only where asked) as parameters
        without gradients.
        """
        yield self.over(frozen_clone(self.model, device, memory_format))

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

    # -- names ---------------------------------------------------------------------------------
    @property
    def input_name(self) -> str:
        return self._input_name

    def layer_names(self) -> list[str]:
        names = [layer.name for layer in self.model.layers]
        return names if self._input_name in names else [self._input_name, *names]

    def all_names(self) -> list[str]:
        """The layer names, then those of layers inside nested models."""
        names = self.layer_names()
        return names + [name for name in self._layers if name not in names]

    def module(self, name: str) -> torch.nn.Module | None:
        if name == self._input_name:
            return None
        return self._layers[name]

    def layer(self, name: str | int) -> Any:
        """The Keras layer behind a name or index (None for the input)."""
        return self.module(self.resolve(name))

    def has_pre_activation(self, name: str | int) -> bool:
        """Whether `ref(name, pre_activation=True)` can be read (the layer has an activation).

        name: a layer name or Keras-style index.
        """
        name = self.resolve(name)
        return name != self._input_name and _pre_activation_kind(self.module(name)) is not None

    def output_layer(self) -> str:
        """The layer that makes the model's (first) output, from the Keras graph; layers that
        pass their input on at inference (dropout) are looked through."""
        return self._producer(self.model.outputs[0], within=self.model).name

    def _producer(self, tensor: Any, within: Any) -> Any:
        """The layer that makes a symbolic tensor, looking through pass-through layers."""
        operation = tensor._keras_history.operation
        while type(operation).__name__ in PASS_THROUGH_LAYERS:
            tensor = operation._inbound_nodes[0].input_tensors[0]
            operation = tensor._keras_history.operation
        if operation.name not in self._layers or self._layers[operation.name] is not operation:
            before = _input_layer_name(operation)
            if type(operation).__name__ in DISTRIBUTION_OPS:
                raise logits_error(
                    f"the output of {within.name!r} (operation {operation.name!r})",
                    "probabilities (a softmax)",
                    before,
                )
            raise LayerNotFoundError(
                f"the output of {within.name!r} is made by the operation {operation.name!r}, "
                "which is not a layer; name the layer to read"
                + (f", e.g. unit({before!r}, c)" if before else "")
            )
        return operation

    def logit_ref(self, layer: str | int = -1) -> LayerRef:
        """The pre-softmax output of `layer` (default: the layer that makes the output).

        layer: a layer name or Keras-style index. A layer with an activation (a Dense with
        softmax, a Softmax layer) is read before it; a nested model at the output is looked
        into; any other layer is read at its output (refused at run time if that output is a
        probability distribution).
        """
        name = self.resolve(layer)
        if name == self._input_name:
            raise ActmaxError("the input has no logits; target a layer of the model")
        found = self._layers[name]
        while getattr(found, "outputs", None) and hasattr(found, "layers"):  # a nested model
            found = self._producer(found.outputs[0], within=found)
        if _pre_activation_kind(found) is not None:
            return LayerRef(found.name, True, logits=True)
        return LayerRef(found.name, False, logits=True)

    # -- forward --------------------------------------------------------------------------------
    def run(
        self, x: torch.Tensor, refs: Iterable[LayerRef]
    ) -> tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]:
        repeats: dict[LayerRef, int] = {}
        acts = _CountingDict(repeats)
        with _Patches() as patches:
            for ref in set(refs):
                if ref.name == self._input_name:
                    acts[ref] = x
                elif not ref.pre_activation:
                    self._record_call(patches, ref, acts, output=True)
                elif (kind := _pre_activation_kind(self._layers[ref.name])) == "activation":
                    self._record_activation(patches, ref, acts)
                elif kind == "input":
                    self._record_call(patches, ref, acts, output=False)
                else:
                    layer = self._layers[ref.name]
                    raise ActmaxError(
                        f"layer {ref.name!r} ({type(layer).__name__}) has no activation to read "
                        "the input of; target the layer that computes its input instead"
                    )
            inputs = [
                self.to_keras(self.model_input(x))
                if i == self._input_index
                else value.to(x.device, x.dtype).expand(len(x), *value.shape[1:])
                for i, value in enumerate(self._fixed)
            ]
            output = self.model(inputs if len(inputs) > 1 else inputs[0], training=False)
        missing = [str(ref) for ref in set(refs) if ref not in acts]
        if missing:
            raise ActmaxError(f"layers {missing} did not run in the model's forward pass")
        if repeats:
            raise RepeatedCallError(repeats)
        acts = dict(acts)
        for ref in acts.keys() - self._logits_checked:  # once: a softmax is in the model or not
            check_logits(ref, acts[ref], _input_layer_name(self._layers.get(ref.name)))
            self._logits_checked.add(ref)
        if isinstance(output, list | tuple):
            return [self.from_keras(out) for out in output], acts
        return self.from_keras(output), acts

    def _expose(self, value: Any, ref: LayerRef) -> tuple[torch.Tensor, torch.Tensor]:
        """(channels-first view to record, tensor to pass on): the model computes on from the
        recorded view, so gradients with respect to an activation reach the target."""
        if not isinstance(value, torch.Tensor):
            raise ActmaxError(f"layer {ref.name!r} gives {type(value).__name__}, not one tensor")
        if self.channels_last and value.ndim >= 3:
            seen = value.movedim(-1, 1)
            return seen, seen.movedim(1, -1)
        return value, value

    def _record_call(self, patches: _Patches, ref: LayerRef, acts: dict, output: bool) -> None:
        layer = self._layers[ref.name]
        call = layer.call

        def recording_call(inputs, *args, **kwargs):
            if output:
                acts[ref], out = self._expose(call(inputs, *args, **kwargs), ref)
                return out
            acts[ref], inputs = self._expose(inputs, ref)
            return call(inputs, *args, **kwargs)

        patches.set(layer, "call", recording_call)

    def _record_activation(self, patches: _Patches, ref: LayerRef, acts: dict) -> None:
        layer = self._layers[ref.name]
        activation = layer.activation

        def recording_activation(value):
            acts[ref], value = self._expose(value, ref)
            return activation(value)

        patches.set(layer, "activation", recording_activation)


class _CountingDict(dict):
    """Activations by reference; a reference recorded twice (a shared layer) is counted."""

    def __init__(self, repeats: dict[LayerRef, int]):
        super().__init__()
        self.repeats = repeats

    def __setitem__(self, ref: LayerRef, value: Any) -> None:
        if ref in self:
            self.repeats[ref] = self.repeats.get(ref, 1) + 1
        super().__setitem__(ref, value)


def frozen_clone(
    model: Any,
    device: str | torch.device | None = None,
    memory_format: torch.memory_format | None = None,
) -> Any:
    """A clone of a Keras model over the same weights, without gradients; `model` is untouched.

    model: a Keras functional or Sequential model (torch backend).
    device, memory_format: where and in which layout the clone's weights live (None: as they
        are); weights already there are shared, not copied.
    """
    keras = import_keras()
    target = torch.device(device) if device is not None else None
    try:
        clone = keras.models.clone_model(model, recursive=True)
    except Exception as error:
        raise ActmaxError(
            f"the Keras model {model.name!r} cannot be rebuilt from its config ({error}); "
            "actmax runs a clone so as not to change the model"
        ) from None
    originals, copies = _variables(model), _variables(clone)
    if [v.shape for v in originals] != [v.shape for v in copies]:
        raise ActmaxError(f"the clone of the Keras model {model.name!r} has other weights")
    for original, copied in zip(originals, copies, strict=True):
        data = place(original.value.detach(), target, memory_format)
        copied._value = torch.nn.Parameter(data, requires_grad=False)
    for layer in [clone, *_all_layers(clone).values()]:
        if hasattr(layer, "_track_variables"):
            layer._track_variables()  # the torch module's parameter table follows the variables
    return clone


def _variables(model: Any) -> list[Any]:
    """The model's weights layer by layer, in an order its clone repeats."""
    found: list[Any] = []
    for layer in _all_layers(model).values():
        if not getattr(layer, "layers", None):
            found.extend(layer.weights)
    return found


def _input_layer_name(layer: Any) -> str | None:
    """The name of the layer that feeds `layer`'s first input (None when unknown)."""
    try:
        return layer._inbound_nodes[0].input_tensors[0]._keras_history.operation.name
    except (AttributeError, IndexError, TypeError):
        return None


class _Patches:
    """Instance attributes set for one forward pass and put back afterwards, also on error.

    Set with `object.__setattr__`, past Keras' and PyTorch's attribute tracking."""

    _absent = object()

    def __init__(self):
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, obj: Any, name: str, value: Any) -> None:
        self._saved.append((obj, name, obj.__dict__.get(name, self._absent)))
        object.__setattr__(obj, name, value)

    def __enter__(self) -> _Patches:
        return self

    def __exit__(self, *exc) -> None:
        for obj, name, old in reversed(self._saved):
            if old is self._absent:
                object.__delattr__(obj, name)
            else:
                object.__setattr__(obj, name, old)
        self._saved.clear()


def _pre_activation_kind(layer: Any) -> str | None:
    """How a layer's pre-activation is read: its `activation`, its input, or not at all."""
    if getattr(layer, "activation", None) is not None:
        return "activation"
    if type(layer).__name__ in ACTIVATION_LAYERS:
        return "input"
    return None


def _all_layers(model: Any) -> dict[str, Any]:
    """Every layer by name: the model's own first, then those inside nested models."""
    layers: dict[str, Any] = {}
    queue = list(model.layers)
    while queue:
        layer = queue.pop(0)
        layers.setdefault(layer.name, layer)
        queue.extend(getattr(layer, "layers", []))
    return layers


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
