"""The one place where the atlas turns what it is given (a model path, a model object, an
adapter) into a model adapter and a name to show."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..adapters import ModelAdapter, as_adapter


def open_model(model, device: str | None = None) -> tuple[ModelAdapter, str]:
    """The adapter for `model` and a name to show for it.

    model: anything `actmax.as_adapter` opens: a run folder from `actmax train` or
        `actmax lab`, a .keras/.h5, .onnx or .pt2 file, a torch module, a Keras 3 model, or an
        adapter (e.g. with a `preprocess` step).
    device: where the model is put (None: where it is; files load on the CPU).
    """
    adapter = as_adapter(model)
    if isinstance(model, str | os.PathLike):
        path = Path(model).expanduser()
        name = path.name if path.is_dir() else path.stem
    else:
        name = type(adapter.model).__name__
    if device is not None and adapter.device != torch.device(device):
        adapter.model.to(device)
    return adapter, name
