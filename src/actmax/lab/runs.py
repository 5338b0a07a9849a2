"""Run folders: where one training run keeps its settings, checkpoint, model, metrics and figures.

A run folder is created empty (an existing non-empty folder is never reused silently) and holds
`config.json` from the start, so an interrupted run can always be resumed with the same settings.
The checkpoint is one safetensors file (tensors) with a JSON header (epoch, history, optimizer
hyper-parameters): nothing in it is unpickled, and it is replaced atomically after every epoch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..errors import ActmaxError
from ..io import ensure_writable_dir, write_atomic, write_json

CONFIG = "config.json"
CHECKPOINT = "checkpoint.safetensors"
METRICS = "metrics.json"
CHECKPOINT_FORMAT = "actmax-training-state/1"


@dataclass
class TrainingState:
    """Everything needed to continue training exactly where it stopped, after `epoch` epochs."""

    epoch: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    history: dict[str, list[float]]
    rng: dict[str, torch.Tensor] = field(default_factory=dict)


def _flatten_optimizer(state_dict: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """Split a torch optimizer state dict into tensors and a JSON-able remainder."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, entry in meta["scalars"].items():
        state.setdefault(int(index), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_state(path: str | Path, state: TrainingState, **extra: Any) -> Path:
    """Write a training state atomically (tensors in safetensors, the rest in its JSON header)."""
    opt_tensors, opt_meta = _flatten_optimizer(state.optimizer)
    tensors = {f"model.{k}": v for k, v in state.model.items()}
    tensors.update(opt_tensors)
    tensors.update({f"rng.{k}": v for k, v in state.rng.items()})
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    header = {
        "format": CHECKPOINT_FORMAT,
        "epoch": state.epoch,
        "history": state.history,
        "optimizer": opt_meta,
        **extra,
    }
    metadata = {"actmax": json.dumps(header)}
    return write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_state(path: str | Path) -> tuple[TrainingState, dict[str, Any]]:
    """Read a checkpoint written by `save_state`: the state and its extra header fields."""
    path = Path(path)
    if not path.exists():
        raise ActmaxError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = json.loads((fh.metadata() or {})["actmax"])
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
        if header.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"unknown format {header.get('format')!r}")
        groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "optimizer": {}, "rng": {}}
        for key, value in tensors.items():
            group, name = key.split(".", 1)
            groups[group][name if group != "optimizer" else key] = value
        state = TrainingState(
            epoch=int(header.pop("epoch")),
            model=groups["model"],
            optimizer=_unflatten_optimizer(groups["optimizer"], header.pop("optimizer")),
            history={k: [float(v) for v in vs] for k, vs in header.pop("history").items()},
            rng=groups["rng"],
        )
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ActmaxError(f"{path} is not a readable actmax checkpoint ({exc})") from None
    header.pop("format")
    return state, header


class RunFolder:
    """One training run's folder. Use `create` for a new run and `open` to resume one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoint_file(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    def file(self, name: str) -> Path:
        return self.path / name

    def dataset(self) -> str:
        """The data set the run's model was trained on: from `actmax train`'s config or
        `actmax lab`'s metrics; "mnist" for runs that predate the choice."""
        for path, key in ((self.config_file, "dataset"), (self.metrics_file, "dataset")):
            try:
                value = json.loads(path.read_text(encoding="utf-8")).get(key)
            except (OSError, ValueError, AttributeError):
                continue
            name = value.get("name") if isinstance(value, dict) else value
            if isinstance(name, str):
                return name
        return "mnist"

    @classmethod
    def create(cls, path: str | Path, config: Mapping[str, Any]) -> RunFolder:
        """Start a new run in `path`, which must not exist yet or be empty."""
        path = Path(path).expanduser()
        if path.exists() and not path.is_dir():
            raise ActmaxError(f"cannot use {path} as a run folder: it is a file")
        if path.is_dir() and any(path.iterdir()):
            raise ActmaxError(
                f"{path} already exists and is not empty; pass --resume to continue the run "
                "in it, or choose another output folder"
            )
        ensure_writable_dir(path)
        run = cls(path)
        write_json(run.config_file, dict(config))
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """An existing run folder (made by `create`), to resume or to read."""
        path = Path(path).expanduser()
        run = cls(path)
        if not path.is_dir():
            raise ActmaxError(f"nothing to resume: {path} does not exist")
        if not run.config_file.exists():
            raise ActmaxError(f"nothing to resume: {path} holds no {CONFIG} of an actmax run")
        ensure_writable_dir(path)
        run.read_config()  # fail early on a damaged file
        return run

    def read_config(self) -> dict[str, Any]:
        try:
            config = json.loads(self.config_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ActmaxError(f"{self.config_file} is corrupt ({exc})") from None
        if not isinstance(config, dict):
            raise ActmaxError(f"{self.config_file} is corrupt (not a JSON object)")
        return config

    def write_config(self, config: Mapping[str, Any]) -> None:
        write_json(self.config_file, dict(config))

    def has_checkpoint(self) -> bool:
        return self.checkpoint_file.exists()

    def save_state(self, state: TrainingState, **extra: Any) -> Path:
        return save_state(self.checkpoint_file, state, **extra)

    def load_state(self) -> tuple[TrainingState, dict[str, Any]]:
        return load_state(self.checkpoint_file)

    def is_complete(self) -> bool:
        """True once the run wrote its final metrics (the model and figures come before)."""
        return self.metrics_file.exists()


def find_run(root: str | Path, key: str) -> RunFolder | None:
    """A completed run under `root` whose settings have this `TrainConfig.key()`, if any."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return None
    for config_file in sorted(root.glob(f"*/{CONFIG}")):
        run = RunFolder(config_file.parent)
        try:
            stored = run.read_config()
        except ActmaxError:
            continue
        if stored.get("key") == key and run.is_complete():
            return run
    return None
