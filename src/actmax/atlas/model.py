"""The one place where the atlas turns what it is given (a run folder, a model file, a model
object) into a model adapter."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..adapters import ModelAdapter, as_adapter
from ..adapters import load as load_model_file
from ..errors import ActmaxError
from ..lab.checkpoint import WEIGHTS
from ..lab.checkpoint import load_model as load_run

RUN_FILES = (WEIGHTS,)


def open_model(model, device: str | None = None) -> tuple[ModelAdapter, str]:
    """The adapter for `model` and a name to show for it.

    model: a run folder from `actmax train` or `actmax lab` (or its model.safetensors), a
    .keras, .h5 or .onnx file, a torch module, a Keras 3 model or an adapter. device: where
    the model is put (None: where it is; files load on the CPU).
    """
    if isinstance(model, str | os.PathLike):
        path = Path(model).expanduser()
        if not path.exists():
            raise ActmaxError(f"no such model: {path} (give a run folder or a model file)")
        if path.is_dir() or path.name in RUN_FILES:
            adapter = as_adapter(load_run(path, device=device or "cpu"))
        else:
            adapter = load_model_file(path)
        name = path.name if path.is_dir() else path.stem
    elif isinstance(model, ModelAdapter | nn.Module):
        adapter, name = as_adapter(model), type(getattr(model, "model", model)).__name__
    else:
        adapter, name = as_adapter(model), type(model).__name__
    if device is not None and adapter.device != torch.device(device):
        adapter.model.to(device)
    return adapter, name
