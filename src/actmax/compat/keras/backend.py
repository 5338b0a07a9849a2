"""Keras 2's backend functions (`from keras import backend as K`), as keras-vis code uses them,
on Keras 3 and its torch backend.

Keras 3 moved the tensor functions to `keras.ops` and dropped the graph functions. Here `K.sum`,
`K.mean`, `K.square`... are `keras.ops`' (on symbolic tensors they build a graph, on torch
tensors and on `Handle`s they compute), and the TensorFlow 1 graph API keras-vis' tests use is
rebuilt on Keras 3's functional models and torch's autograd:

    grads = K.gradients(model.output, model.input)[0]
    fn = K.function([model.input, K.learning_phase()], [grads])
    fn([x, 0])[0]        # numpy, as Keras 2 returned it

Any other name falls through to `keras.ops`, then to `keras.backend`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...adapters.keras import import_keras
from ...errors import ActmaxError
from ..vis.tensors import is_keras_tensor, resolve

keras = import_keras()
ops = keras.ops

epsilon = keras.backend.epsilon
floatx = keras.backend.floatx
image_data_format = keras.backend.image_data_format
set_image_data_format = keras.backend.set_image_data_format
backend = keras.backend.backend
clear_session = keras.backend.clear_session


def _on_values(fn):
    """`fn` with every `Handle` argument replaced by its tensor."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        return fn(*resolve(args), **resolve(kwargs))

    return call


def ndim(x: Any) -> int:
    return len(resolve(x).shape)


def int_shape(x: Any) -> tuple:
    shape = resolve(x).shape
    return tuple(None if d is None else int(d) for d in shape)


@_on_values
def ones(shape, dtype=None, name=None):
    return ops.ones(shape, dtype=dtype or floatx())


@_on_values
def zeros(shape, dtype=None, name=None):
    return ops.zeros(shape, dtype=dtype or floatx())


@_on_values
def constant(value, dtype=None, shape=None, name=None):
    value = np.asarray(value, dtype=dtype or floatx())
    return ops.convert_to_tensor(value if shape is None else np.broadcast_to(value, shape))


@_on_values
def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras 2's name
    return ops.sum(x, axis=axis, keepdims=keepdims)


@_on_values
def mean(x, axis=None, keepdims=False):
    return ops.mean(x, axis=axis, keepdims=keepdims)


@_on_values
def max(x, axis=None, keepdims=False):  # noqa: A001 - Keras 2's name
    return ops.max(x, axis=axis, keepdims=keepdims)


@_on_values
def min(x, axis=None, keepdims=False):  # noqa: A001 - Keras 2's name
    return ops.min(x, axis=axis, keepdims=keepdims)


@_on_values
def pow(x, a):  # noqa: A001 - Keras 2's name
    return ops.power(x, a)


@_on_values
def identity(x, name=None):
    """A new tensor with the same value (keras-vis' guard against feeding and fetching one)."""
    return ops.copy(x)


@_on_values
def l2_normalize(x, axis=None):
    """TensorFlow's `x / sqrt(max(sum(x^2), 1e-12))`, over all axes when `axis` is None."""
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))


square = _on_values(ops.square)
sqrt = _on_values(ops.sqrt)
abs = _on_values(ops.abs)  # noqa: A001 - Keras 2's name
exp = _on_values(ops.exp)
log = _on_values(ops.log)
maximum = _on_values(ops.maximum)
minimum = _on_values(ops.minimum)
cast = _on_values(ops.cast)
reshape = _on_values(ops.reshape)
transpose = _on_values(ops.transpose)
dot = _on_values(ops.dot)
relu = _on_values(ops.relu)
softmax = _on_values(ops.softmax)
sigmoid = _on_values(ops.sigmoid)
tanh = _on_values(ops.tanh)
clip = _on_values(ops.clip)


@_on_values
def batch_flatten(x):
    return ops.reshape(x, (-1, int(np.prod(x.shape[1:]))))


@_on_values
def flatten(x):
    return ops.reshape(x, (-1,))


class _LearningPhase:
    """Keras 2's learning-phase placeholder: 0 (test) or 1 (training) fed to `K.function`."""

    def __repr__(self) -> str:
        return "learning_phase"


_LEARNING_PHASE = _LearningPhase()


def learning_phase() -> _LearningPhase:
    return _LEARNING_PHASE


class Gradient:
    """`K.gradients`' symbolic result: the gradient of `loss` (summed) with respect to `wrt`."""

    def __init__(self, loss: Any, wrt: Any):
        self.loss, self.wrt = loss, wrt
        self.shape = wrt.shape

    def __repr__(self) -> str:
        return f"Gradient(d {self.loss.name} / d {self.wrt.name})"


def gradients(loss: Any, variables: Any) -> list[Gradient]:
    """Keras 2's `K.gradients`: one symbolic gradient per tensor in `variables`."""
    variables = variables if isinstance(variables, list | tuple) else [variables]
    for tensor in [loss, *variables]:
        if not is_keras_tensor(tensor):
            raise ActmaxError(
                f"K.gradients takes Keras symbolic tensors (model.input, layer.output), "
                f"got {type(tensor).__name__}"
            )
    return [Gradient(loss, v) for v in variables]


class Function:
    """Keras 2's `K.function`: a callable from input values to output values (numpy).

    It runs a Keras 3 functional model from `inputs` to the tensors `outputs` need, eagerly on
    torch, and takes gradients with torch's autograd.
    """

    def __init__(self, inputs: Sequence[Any], outputs: Sequence[Any]):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self._tensors = [t for t in self.inputs if t is not _LEARNING_PHASE]
        needed: list[Any] = []
        for out in self.outputs:
            for tensor in (out.loss, out.wrt) if isinstance(out, Gradient) else (out,):
                if not is_keras_tensor(tensor):
                    raise ActmaxError(f"K.function outputs are Keras tensors, got {tensor!r}")
                if not any(tensor is t for t in self._tensors + needed):
                    needed.append(tensor)
        self._needed = needed
        self._model = keras.Model(self._tensors, needed) if needed else None

    def __call__(self, values: Sequence[Any]) -> list[np.ndarray]:
        if len(values) != len(self.inputs):
            raise ActmaxError(f"this function takes {len(self.inputs)} values, got {len(values)}")
        training = False
        feed = []
        for tensor, value in zip(self.inputs, values, strict=True):
            if tensor is _LEARNING_PHASE:
                training = bool(value)
            else:
                array = np.asarray(value, dtype=floatx())
                feed.append(torch.from_numpy(array).requires_grad_(True))
        with torch.enable_grad():
            computed = []
            if self._model is not None:
                computed = self._model(feed if len(feed) > 1 else feed[0], training=training)
                computed = list(computed) if isinstance(computed, list | tuple) else [computed]
            table = list(zip(self._tensors, feed, strict=True))
            table += list(zip(self._needed, computed, strict=True))
            return [_numpy(self._value(out, table)) for out in self.outputs]

    @staticmethod
    def _value(out: Any, table: list) -> torch.Tensor:
        def lookup(tensor):
            return next(value for t, value in table if t is tensor)

        if not isinstance(out, Gradient):
            return lookup(out)
        loss, wrt = lookup(out.loss), lookup(out.wrt)
        (grad,) = torch.autograd.grad(loss.sum(), wrt, retain_graph=True, allow_unused=True)
        return torch.zeros_like(wrt) if grad is None else grad


def function(inputs: Sequence[Any], outputs: Sequence[Any], updates=None, **kwargs) -> Function:
    """Keras 2's `K.function(inputs, outputs)`."""
    if updates:
        raise ActmaxError("K.function updates (training ops) are not supported")
    return Function(inputs, outputs if isinstance(outputs, list | tuple) else [outputs])


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def __getattr__(name: str) -> Any:
    for namespace in (ops, keras.backend):
        if hasattr(namespace, name):
            return getattr(namespace, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
