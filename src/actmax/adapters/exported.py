"""Models saved with `torch.export.save` (`.pt2`): a graph and its tensors, no pickled code.

`torch.export.load` can unpickle (tensor subclasses, custom objects, a fallback for sample
inputs) and can load compiled AOTInductor libraries. Before it runs, the archive is checked to
hold only what loads without either: the JSON graph, raw tensor payloads, and sample inputs that
`torch.load(weights_only=True)` accepts. The program is then unflattened into the original module
hierarchy, so layers keep their names (`features.0`, `fc`) and forward hooks fire on them.
"""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from ..errors import ActmaxError

# What an archive written by torch.export.save holds, relative to its root folder.
_PLAIN_FILES = ("archive_format", "archive_version", "byteorder")
_PLAIN_FOLDERS = (".data/", "extra/")
_MODELS, _WEIGHTS, _CONSTANTS, _SAMPLES = (
    "models/",
    "data/weights/",
    "data/constants/",
    "data/sample_inputs/",
)
TENSOR_CONSTANT_PREFIX = "tensor_"
EXPORT_HELP = (
    "export it with a dynamic batch size: torch.export.save(torch.export.export(model, (x,), "
    "dynamic_shapes=({0: torch.export.Dim('batch')},)), 'model.pt2')"
)


def load_exported(path: str | os.PathLike) -> nn.Module:
    """The module of a `.pt2` file, with its original submodule names.

    path: a file written by `torch.export.save`.

    The module gets `input_name` (the exported input's name), `input_shape` (one input's
    shape when it is fixed in the export) and `input_batch` (the batch size when the export
    fixed it, else None). A program exported for a fixed batch size refuses other batch sizes
    with a clear error.
    """
    path = Path(path)
    if not path.is_file():
        raise ActmaxError(f"no model file at {path}")
    check_archive(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.load(path)
            module = torch.export.unflatten(program)
    except ActmaxError:
        raise
    except Exception as error:
        raise ActmaxError(
            f"{path} could not be loaded as a torch.export program: {_first_line(error)}"
        ) from None
    name, dims = _user_input(program, path)
    module.input_name = name
    module.input_shape = tuple(dims[1:]) if None not in dims[1:] else None
    module.input_batch = dims[0] if dims else None
    if module.input_batch is not None:
        module.register_forward_pre_hook(_batch_guard(path, module.input_batch))
    return module


def check_archive(path: Path) -> None:
    """Refuse a `.pt2` whose loading would unpickle data or load compiled code.

    path: the archive. Raises ActmaxError naming what was found.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            roots = {name.split("/", 1)[0] for name in names}
            if len(roots) != 1 or any("/" not in name for name in names):
                raise ActmaxError(f"{path} is not an archive written by torch.export.save")
            root = roots.pop() + "/"
            files = {name[len(root) :]: name for name in names}
            for relative in files:
                _check_entry(path, relative)
            models = [f[len(_MODELS) : -len(".json")] for f in files if f.startswith(_MODELS)]
            if not models:
                raise ActmaxError(f"{path} holds no exported program")
            for model in models:
                for folder, kind in ((_WEIGHTS, "weights"), (_CONSTANTS, "constants")):
                    config = f"{folder}{model}_{kind}_config.json"
                    if config not in files:
                        raise ActmaxError(
                            f"{path} is in torch.export's older pickled format; save it again "
                            "with torch.export.save of this PyTorch version"
                        )
                    _check_payloads(path, json.loads(archive.read(files[config])), kind)
                sample = f"{_SAMPLES}{model}.pt"
                if sample in files:
                    _check_tensors_only(path, archive.read(files[sample]))
    except zipfile.BadZipFile:
        raise ActmaxError(f"{path} is not a .pt2 archive (not a zip file)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError):
        raise ActmaxError(f"{path} has a corrupt configuration") from None


def _check_entry(path: Path, relative: str) -> None:
    if relative in _PLAIN_FILES or relative.startswith(_PLAIN_FOLDERS):
        return
    if relative.startswith(_MODELS) and relative.endswith(".json"):
        return
    if relative.startswith((_WEIGHTS, _CONSTANTS)) and not relative.endswith(".pt"):
        return
    if relative.startswith(_SAMPLES) and relative.endswith(".pt"):
        return
    raise ActmaxError(
        f"{path} holds {relative!r}, which torch.export.load would load as pickled data or "
        "compiled code; actmax opens .pt2 files that hold only a graph and plain tensors"
    )


def _check_payloads(path: Path, config: dict, kind: str) -> None:
    for name, payload in config["config"].items():
        pickled = payload.get("use_pickle", True)
        plain = kind != "constants" or payload["path_name"].startswith(TENSOR_CONSTANT_PREFIX)
        if pickled or not plain:
            raise ActmaxError(
                f"{path} stores {kind[:-1]} {name!r} as a pickled object; actmax opens .pt2 "
                "files that hold only plain tensors"
            )


def _check_tensors_only(path: Path, data: bytes) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on the pickle protocol
            torch.load(io.BytesIO(data), weights_only=True)
    except Exception:
        raise ActmaxError(
            f"{path} holds sample inputs that are not plain tensors (they would be unpickled)"
        ) from None


def _user_input(program, path: Path) -> tuple[str, list[int | None]]:
    """The name and dimensions (None where dynamic) of the program's one user input."""
    names = list(program.graph_signature.user_inputs)
    if len(names) != 1:
        raise ActmaxError(
            f"{path} takes {len(names)} inputs ({', '.join(map(str, names))}); actmax explains "
            "models with one input"
        )
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name == names[0]:
            value = node.meta.get("val")
            shape = getattr(value, "shape", None)
            if shape is None:
                break
            return names[0], [d if isinstance(d, int) else None for d in shape]
    return names[0], []


def _batch_guard(path: Path, batch: int):
    def guard(_module, args):
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.ndim and x.shape[0] != batch:
            raise ActmaxError(
                f"{path.name} was exported for a batch of exactly {batch}, not {x.shape[0]}; "
                + EXPORT_HELP
            )

    return guard


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
