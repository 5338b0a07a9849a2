"""Models from files: one loader for every kind of path, one small object per format.

A `ModelFormat` says which paths it opens and how it turns one into an adapter. The built-in
formats open Keras files (safe mode), ONNX files and torch.export archives. Applications add
formats through the package entry point group `actmax.formats` (each entry point names a
`ModelFormat` object), discovered the first time a path needs them, so the core never imports
an application; `register_format` adds one at run time.

    actmax.adapters.load("runs/lab")          # a run folder, through the lab's entry point
    actmax.adapters.load("model.pt2", preprocess=Normalize(mean, std))
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..errors import ActmaxError
from .base import ModelAdapter

ENTRY_POINT_GROUP = "actmax.formats"
PICKLES = (".pt", ".pth", ".pkl", ".ckpt", ".bin")


@dataclass(frozen=True)
class ModelFormat:
    """One kind of model file or folder.

    name: a short name ("onnx").
    description: what the path looks like, for error messages ("an ONNX file (.onnx)").
    matches: whether this format opens a path (that exists).
    load: `load(path, input_shape=None, preprocess=None, **options) -> ModelAdapter`;
        `options` are the adapter's own (e.g. `channels_last` for ONNX).
    """

    name: str
    description: str
    matches: Callable[[Path], bool]
    load: Callable[..., ModelAdapter]


def _suffix(*suffixes: str) -> Callable[[Path], bool]:
    def matches(path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in suffixes

    return matches


def _load_keras(path: Path, input_shape=None, preprocess=None, **options) -> ModelAdapter:
    from .keras import KerasAdapter, load_model

    return KerasAdapter(load_model(path), input_shape=input_shape, preprocess=preprocess, **options)


def _load_onnx(path: Path, input_shape=None, preprocess=None, **options) -> ModelAdapter:
    from .onnx import OnnxAdapter, load_onnx

    return OnnxAdapter(load_onnx(path), input_shape=input_shape, preprocess=preprocess, **options)


def _load_exported(path: Path, input_shape=None, preprocess=None, **options) -> ModelAdapter:
    from .exported import load_exported
    from .torch import TorchAdapter

    if options:
        raise ActmaxError(f"options {sorted(options)} do not apply to .pt2 models")
    return TorchAdapter(load_exported(path), input_shape=input_shape, preprocess=preprocess)


BUILT_IN = (
    ModelFormat(
        "keras", "a Keras file (.keras, .h5)", _suffix(".keras", ".h5", ".hdf5"), _load_keras
    ),
    ModelFormat("onnx", "an ONNX file (.onnx)", _suffix(".onnx"), _load_onnx),
    ModelFormat("torch.export", "a torch.export archive (.pt2)", _suffix(".pt2"), _load_exported),
)
_registered: list[ModelFormat] = []
_discovered: list[ModelFormat] | None = None
_lock = threading.Lock()


def register_format(model_format: ModelFormat) -> None:
    """Add a format for this process (checked before the installed ones).

    model_format: the format; one with the same name replaces it.
    """
    if not isinstance(model_format, ModelFormat):
        raise ActmaxError(f"expected a ModelFormat, got {type(model_format).__name__}")
    with _lock:
        _registered[:] = [f for f in _registered if f.name != model_format.name]
        _registered.insert(0, model_format)


def known_formats() -> list[ModelFormat]:
    """Every format: registered at run time, built in, then installed through entry points."""
    return [*_registered, *BUILT_IN, *_installed()]


def _installed() -> list[ModelFormat]:
    global _discovered
    if _discovered is None:
        found = []
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                model_format = entry.load()
            except Exception as error:  # a broken plug-in must not hide the others
                raise ActmaxError(
                    f"the model format {entry.name!r} ({entry.value}) cannot be loaded: {error}"
                ) from None
            if not isinstance(model_format, ModelFormat):
                raise ActmaxError(f"the entry point {entry.value} is not a ModelFormat")
            found.append(model_format)
        _discovered = found
    return _discovered


def load(
    path: str | os.PathLike,
    input_shape: tuple[int, ...] | None = None,
    preprocess: Callable | None = None,
    **options: Any,
) -> ModelAdapter:
    """An adapter for the model at `path`, by the first format that opens it.

    path: a model file or folder (a run folder written by `actmax train`, `.keras`/`.h5`,
        `.onnx`, `.pt2`, or any installed format).
    input_shape: one input's shape (C, H, W) when the file does not say it.
    preprocess: a differentiable step in front of the model (e.g. `Normalize(mean, std)`).
    options: passed to the format's adapter (e.g. `channels_last=True` for ONNX).
    """
    p = Path(path)
    every = known_formats()
    if p.exists():
        for model_format in every:
            if model_format.matches(p):
                return model_format.load(
                    p, input_shape=input_shape, preprocess=preprocess, **options
                )
    known = "; ".join(f.description for f in every)
    what = (
        f"{p} is not a model actmax can open" if p.exists() else f"no model file or folder at {p}"
    )
    if p.suffix.lower() in PICKLES:
        what += (
            " (a pickled PyTorch checkpoint, which would run code when loaded: save the model "
            "with torch.export.save as .pt2 instead)"
        )
    raise ActmaxError(f"{what}; actmax opens {known}")
