"""The lab's run folder as a model format, so every path-taking API and command opens it.

Registered through the package entry point group `actmax.formats` (see pyproject.toml): the
core discovers it when a path needs it and never imports the lab itself.
"""

from __future__ import annotations

from pathlib import Path

from ..adapters import ModelFormat, as_adapter
from .checkpoint import SPEC, WEIGHTS, load_model


def is_run_folder(path: Path) -> bool:
    """A folder holding `model.json` or `model.safetensors` (the loader says what is missing),
    or that `model.safetensors` itself."""
    if path.is_file():
        return path.name == WEIGHTS
    return path.is_dir() and ((path / SPEC).exists() or (path / WEIGHTS).exists())


def _load(path: Path, input_shape=None, preprocess=None, **options):
    return as_adapter(load_model(path), input_shape=input_shape, preprocess=preprocess, **options)


RUN_FOLDER = ModelFormat(
    name="run-folder",
    description="a run folder of `actmax train` (model.json + model.safetensors)",
    matches=is_run_folder,
    load=_load,
)
