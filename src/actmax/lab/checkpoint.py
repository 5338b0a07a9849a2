"""Saving and loading models without pickle: weights in safetensors, architecture in JSON.

A run folder holds `model.safetensors` and `model.json` (`{"architecture": ..., "config": ...}`);
loading rebuilds the registered architecture and loads the tensors, so no code is unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import ActmaxError
from ..io import write_atomic, write_json
from .models import ARCHITECTURES, build_model

WEIGHTS = "model.safetensors"
SPEC = "model.json"


def save_model(model: nn.Module, folder: str | Path, architecture: str, **config) -> Path:
    """Write the model's weights and the architecture needed to rebuild it into `folder`."""
    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_atomic(folder / WEIGHTS, lambda tmp: save_file(state, str(tmp)))
    write_json(folder / SPEC, {"architecture": architecture, "config": config})
    return folder


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by actmax from its run folder (or its `model.safetensors`)."""
    path = Path(path)
    folder = path.parent if path.suffix == ".safetensors" else path
    spec_file, weights_file = folder / SPEC, folder / WEIGHTS
    if not folder.exists():
        raise ActmaxError(f"no such run folder: {folder}")
    if not spec_file.exists() or not weights_file.exists():
        raise ActmaxError(
            f"{folder} holds no model saved by actmax (expected {SPEC} and {WEIGHTS}); "
            "train one with `actmax train`"
        )
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        architecture, config = spec["architecture"], spec.get("config", {})
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ActmaxError(f"{spec_file} is corrupt ({exc})") from None
    if architecture not in ARCHITECTURES:
        raise ActmaxError(f"{spec_file} names an unknown architecture {architecture!r}")
    model = build_model(architecture, **config)
    try:
        state = load_file(str(weights_file), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ActmaxError(f"{weights_file} is corrupt ({exc})") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ActmaxError(f"{weights_file} does not fit {architecture}: {first}") from None
    return model.to(device).eval()
