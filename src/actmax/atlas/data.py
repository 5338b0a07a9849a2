"""The images an atlas ranks units on: a named data set or a file, as (N, C, H, W) float32."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..lab.data import DATASETS, load_dataset


@dataclass(frozen=True)
class Dataset:
    images: np.ndarray  # (N, C, H, W) float32
    name: str


def open_data(data, limit: int | None = None) -> Dataset:
    """`data`: a data set's name (`mnist`, `fashion-mnist`: its 10,000 test images), a
    Keras-layout mnist.npz or a folder of Fashion-MNIST's idx files (their test split), a .npy
    file of images ((N, H, W) or (N, C, H, W); uint8 is divided by 255), or an array.
    limit: keep the first `limit` images."""
    if isinstance(data, np.ndarray):
        found = Dataset(_as_images(data, "the data"), f"{len(data)} images")
    elif isinstance(data, str) and data.lower() in DATASETS:
        found = _named(data.lower())
    elif isinstance(data, str | os.PathLike):
        found = _from_file(Path(data).expanduser())
    else:
        raise DataError(f"data is a data set's name, a file or an array of images, not {data!r}")
    if limit is not None:
        if limit < 1:
            raise DataError(f"the image limit must be >= 1, got {limit}")
        if limit < len(found.images):
            found = Dataset(
                _canonical(found.images[:limit]), f"the first {limit} images of {found.name}"
            )
    return found


def _named(name: str) -> Dataset:
    loaded = load_dataset(name)
    return Dataset(_canonical(loaded.x_test), f"the {DATASETS[name].title} test set")


def _from_file(path: Path) -> Dataset:
    if not path.exists():
        known = ", ".join(DATASETS)
        raise DataError(f"no such data set or file: {path} (data sets by name: {known})")
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DataError(f"{path} is not a readable .npy file ({exc})") from None
        return Dataset(_as_images(array, str(path)), path.name)
    loaded = load_dataset(path)  # a Keras-layout .npz, or a folder of idx files
    return Dataset(_canonical(loaded.x_test), f"the test split of {path.name}")


def _as_images(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{what} holds {array.dtype} values; expected images (float or uint8)")
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or len(array) == 0:
        raise DataError(f"{what} has shape {array.shape}; expected (N, H, W) or (N, C, H, W)")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{what} holds NaN or infinite values")
    return _canonical(array)


def _canonical(array: np.ndarray) -> np.ndarray:
    """A C-ordered float32 copy with its own strides (a size-1 axis made by [:, None] has
    stride 0, which sends oneDNN down another path with other rounding)."""
    return np.array(array, dtype=np.float32, order="C", copy=True)
