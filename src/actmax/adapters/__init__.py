"""One interface over the models actmax can explain: layer lookup, intermediate outputs, hygiene.

The engine, saliency and Grad-CAM talk only to a `ModelAdapter`, so a new kind of model (Keras,
ONNX) needs only a new adapter. Images and activations are always channels-first inside actmax.
Keras and ONNX support is optional: their modules are imported only for such a model.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from ..errors import ActmaxError
from .base import LayerRef, ModelAdapter
from .torch import TorchAdapter

__all__ = ["LayerRef", "ModelAdapter", "TorchAdapter", "as_adapter", "load"]


def as_adapter(model: Any, input_shape=None, **options) -> ModelAdapter:
    """Wrap `model` in the adapter for its kind (an adapter is returned as it is).

    Accepts a `torch.nn.Module`, a Keras 3 model (torch backend), or a path to a `.keras`,
    `.h5` or `.onnx` file. `options` go to the adapter (for Keras: `input`, `fixed_inputs`).
    """
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, str | os.PathLike):
        return load(model, input_shape=input_shape, **options)
    from .keras import is_keras_model, is_legacy_keras_model

    if is_keras_model(model):
        from .keras import KerasAdapter

        return KerasAdapter(model, input_shape=input_shape, **options)
    if is_legacy_keras_model(model):
        raise ActmaxError(
            "this is a tf.keras (Keras 2) model, which runs on TensorFlow; actmax needs Keras 3 "
            "on its torch backend: save the model (model.save('model.h5')) and load it with "
            "actmax.adapters.load('model.h5')"
        )
    if not isinstance(model, nn.Module):
        raise ActmaxError(
            f"expected a torch.nn.Module, a Keras 3 model or a model file, got "
            f"{type(model).__name__}"
        )
    if options:
        raise ActmaxError(f"options {sorted(options)} apply to Keras models only")
    return TorchAdapter(model, input_shape=input_shape)


def load(path: str | os.PathLike, input_shape=None, **options) -> ModelAdapter:
    """An adapter for a model file: `.keras`/`.h5` (Keras, safe mode) or `.onnx`."""
    suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
    if suffix == "onnx":
        from .onnx import OnnxAdapter, load_onnx

        return OnnxAdapter(load_onnx(path), input_shape=input_shape, **options)
    if suffix in ("keras", "h5", "hdf5"):
        from .keras import KerasAdapter, load_model

        return KerasAdapter(load_model(path), input_shape=input_shape, **options)
    raise ActmaxError(
        f"{os.fspath(path)} is not a model file actmax reads: expected .keras, .h5 or .onnx "
        "(PyTorch checkpoints load with actmax.lab.checkpoint.load_model)"
    )
