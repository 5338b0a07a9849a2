"""What every model-taking command shares: the MODEL argument, its input and device flags,
figure paths checked before any work, and images read from files of any size."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import torch

from ..adapters import ModelAdapter, Normalize, as_adapter
from ..devices import resolve_device
from ..errors import ActmaxError
from ..io import check_new_file

MODEL_HELP = (
    "MODEL is a run folder written by `actmax train`, a Keras file (.keras, .h5), an ONNX file "
    "(.onnx) or a torch.export archive (.pt2)."
)
_NUMBER_LIST = re.compile(r"^\s*[^,x]+(\s*[,x]\s*[^,x]+)*\s*$")


def number_list(value: str | None, what: str, cast: Callable = float) -> tuple | None:
    """'0.5,0.5,0.5' (or '3x224x224') as numbers; None stays None. what: the flag, for errors."""
    if value is None:
        return None
    if not _NUMBER_LIST.match(value):
        raise click.BadParameter(f"{value!r} is not a list of numbers", param_hint=what)
    try:
        return tuple(cast(v) for v in re.split(r"\s*[,x]\s*", value.strip()))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of numbers", param_hint=what) from None


def model_options(command):
    """MODEL and the flags that say how to feed it (added bottom-up, so they read in order)."""
    decorators = [
        click.argument("model", type=click.Path(path_type=Path)),
        click.option(
            "--input-shape",
            default=None,
            metavar="C,H,W",
            help="One input's shape, channels first, e.g. 3,224,224 [default: the model's].",
        ),
        click.option(
            "--mean",
            default=None,
            metavar="M[,M,M]",
            help="Per-channel mean the model's inputs were normalized with (pixels in [0, 1]).",
        ),
        click.option(
            "--std",
            default=None,
            metavar="S[,S,S]",
            help="Per-channel standard deviation of that normalization.",
        ),
        click.option(
            "--device",
            default="auto",
            show_default=True,
            help="cpu, cuda, cuda:N; auto is CUDA when there is one, else the CPU.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@dataclass(frozen=True)
class LoadedModel:
    """A model opened by a command, and where it runs."""

    adapter: ModelAdapter
    device: torch.device


def open_model(
    model: Path, input_shape: str | None, mean: str | None, std: str | None, device: str
) -> LoadedModel:
    """Check the device and the flags first, then open the model (so a bad flag never blames
    the model file).

    model: the MODEL argument. input_shape, mean, std, device: the flags as given.
    """
    where = resolve_device(device)
    shape = number_list(input_shape, "--input-shape", int)
    if shape is not None and (len(shape) < 2 or any(s < 1 for s in shape)):
        raise click.BadParameter(
            f"{input_shape!r}: give C,H,W with sizes >= 1", param_hint="--input-shape"
        )
    mean_values, std_values = number_list(mean, "--mean"), number_list(std, "--std")
    preprocess = None
    if mean_values is not None or std_values is not None:
        preprocess = Normalize(mean_values or 0.0, std_values or 1.0)
    adapter = as_adapter(model, input_shape=shape, preprocess=preprocess)
    return LoadedModel(adapter, where)


def check_figure(out: Path, overwrite: bool, what: str = "--out") -> None:
    """Refuse an existing file (unless `overwrite`) or a suffix matplotlib cannot write,
    before any work is done.

    out: the path. overwrite: whether replacing it was asked for. what: the flag, for errors.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    check_new_file(out, overwrite)
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    suffix = out.suffix.lstrip(".").lower()
    if suffix not in formats:
        raise ActmaxError(
            f"{what} {out}: cannot write {out.suffix or 'a file without suffix'}; "
            f"use one of {', '.join('.' + f for f in sorted(formats))}"
        )


def read_image(path: Path, input_shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """A PNG or JPEG (any size, any colour) as the model's input (C, H, W) in [0, 1].

    path: the image file. input_shape: the model's (C, H, W) with 1 or 3 channels.
    Returns the image and a description that says whether and how it was resized.
    """
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ActmaxError(f"--image {path}: no such image file")
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise ActmaxError(
            f"--image {path}: this model takes {tuple(input_shape)}, which is not an image with "
            "1 or 3 channels (give --input-shape C,H,W)"
        )
    channels, height, width = input_shape
    try:
        with Image.open(path) as img:
            size = img.size
            img = img.convert("L" if channels == 1 else "RGB")
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(img, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise ActmaxError(f"--image {path}: not a readable image ({exc})") from None
    description = path.name
    if size != (width, height):
        description += f" (resized from {size[0]}x{size[1]} to {width}x{height})"
    return (array[None] if channels == 1 else np.moveaxis(array, -1, 0)), description


def layer_spec(value: str) -> str | int:
    """A --layer value: an integer index or a name."""
    return int(value) if re.fullmatch(r"[+-]?\d+", value.strip()) else value
