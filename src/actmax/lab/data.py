"""MNIST, offline: the vendored copy (or a user's Keras-layout `mnist.npz`), checked before use.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (1998).
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DataError

VENDORED_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
EXPECTED_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
TRAIN_CLASS_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
N_CLASSES = 10


@dataclass(frozen=True)
class Mnist:
    """MNIST as the lab uses it: images (N, 1, 28, 28) float32 in [0, 1], labels int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def n_classes(self) -> int:
        return N_CLASSES


def vendored_path() -> Path:
    """Where the copy of MNIST shipped inside the package lives."""
    return Path(str(resources.files("actmax.lab") / "datasets" / "mnist.npz"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise DataError(f"MNIST file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in EXPECTED_SHAPES if key not in npz.files]
            if missing:
                raise DataError(
                    f"{path} is not a Keras-layout mnist.npz: missing {', '.join(missing)}"
                )
            return {key: npz[key] for key in EXPECTED_SHAPES}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npz file ({exc})") from None


def _verify(arrays: dict[str, np.ndarray], path: Path) -> None:
    for key, shape in EXPECTED_SHAPES.items():
        arr = arrays[key]
        if arr.shape != shape:
            raise DataError(f"{path}: {key} has shape {arr.shape}, expected {shape}")
        if arr.dtype != np.uint8:
            raise DataError(f"{path}: {key} has dtype {arr.dtype}, expected uint8")
    for key, counts in (("y_train", TRAIN_CLASS_COUNTS), ("y_test", TEST_CLASS_COUNTS)):
        found = tuple(int(c) for c in np.bincount(arrays[key], minlength=N_CLASSES))
        if found != counts:
            raise DataError(f"{path}: {key} class counts {found} differ from MNIST's {counts}")


def load_mnist(path: str | Path | None = None) -> Mnist:
    """Load and verify MNIST; `path=None` uses the copy shipped with actmax.

    The vendored file must match its checksum; a user's file is checked for MNIST's shapes,
    dtypes and class counts, so any faithful Keras-layout copy is accepted.
    """
    file = Path(path).expanduser() if path is not None else vendored_path()
    if path is None and file.exists() and sha256(file) != VENDORED_SHA256:
        raise DataError(f"the MNIST copy shipped with actmax is corrupt ({file}); reinstall actmax")
    arrays = _read_arrays(file)
    _verify(arrays, file)

    def images(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[:, None, :, :]

    return Mnist(
        x_train=images(arrays["x_train"]),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=images(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        source=str(file),
    )
