"""One interface over the models actmax can explain: layer lookup, intermediate outputs, hygiene.

The engine, saliency and Grad-CAM talk only to a `ModelAdapter`, so a new kind of model (Keras,
ONNX) needs only a new adapter, and a new kind of file only a `ModelFormat` (`formats.py`).
Images and activations are always channels-first inside actmax. Keras and ONNX support is
optional: their modules are imported only for such a model.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from torch import nn

from ..errors import ActmaxError
from .base import LayerRef, ModelAdapter, RepeatedCallError
from .formats import ModelFormat, known_formats, load, register_format
from .preprocess import Normalize, Preprocess, as_preprocess
from .torch import TorchAdapter

__all__ = [
    "LayerRef",
    "ModelAdapter",
    "ModelFormat",
    "Normalize",
    "RepeatedCallError",
    "TorchAdapter",
    "as_adapter",
    "known_formats",
    "load",
    "register_format",
]


def as_adapter(
    model: Any,
    input_shape: tuple[int, ...] | None = None,
    *,
    preprocess: Preprocess | None = None,
    **options: Any,
) -> ModelAdapter:
    """Wrap `model` in the adapter for its kind.

    model: a `torch.nn.Module` (channels-first input), a Keras 3 model (torch backend), a path
        to a model (see `load`: a run folder, `.keras`/`.h5`, `.onnx`, `.pt2`), or an adapter.
    input_shape: one input's shape (C, H, W), any number of channels and any size; default:
        what the model says (its `input_shape` attribute, its Keras or ONNX input).
    preprocess: a differentiable step applied in front of the model, e.g.
        `Normalize(mean, std)` for a model trained on normalized images: the model gets its
        normalized input while images are optimized, explained and shown in pixel space.
    options: for Keras models `input` and `fixed_inputs`, for ONNX files `channels_last`.

    An adapter given with `input_shape` or `preprocess` comes back as a copy with them set;
    without, as it is.
    """
    preprocess = as_preprocess(preprocess)
    if isinstance(model, ModelAdapter):
        if options:
            raise ActmaxError(f"options {sorted(options)} cannot be applied to an adapter")
        if input_shape is None and preprocess is None:
            return model
        adapter = copy.copy(model)
        if input_shape is not None:
            adapter.input_shape = tuple(int(s) for s in input_shape)
        if preprocess is not None:
            adapter.preprocess = preprocess
        return adapter
    if isinstance(model, str | os.PathLike):
        return load(model, input_shape=input_shape, preprocess=preprocess, **options)
    from .keras import is_keras_model, is_legacy_keras_model

    if is_keras_model(model):
        from .keras import KerasAdapter

        return KerasAdapter(model, input_shape=input_shape, preprocess=preprocess, **options)
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
    if getattr(model, "onnx_nodes", None) is not None:
        from .onnx import OnnxAdapter

        return OnnxAdapter(model, input_shape=input_shape, preprocess=preprocess, **options)
    if options:
        raise ActmaxError(f"options {sorted(options)} apply to Keras and ONNX models only")
    return TorchAdapter(model, input_shape=input_shape, preprocess=preprocess)
