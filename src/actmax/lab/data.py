"""The lab's data sets, offline and checked before use: MNIST and Fashion-MNIST.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (1998); actmax ships a copy
(Keras' `mnist.npz` layout). Fashion-MNIST is by Han Xiao, Kashif Rasul and Roland Vollgraf
(Zalando Research, 2017, MIT licence); it comes from Debian's `dataset-fashion-mnist` package
or from a user's folder holding its four original idx files (e.g. Keras'
`~/.keras/datasets/fashion-mnist`).
"""

from __future__ import annotations

import gzip
import hashlib
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DataError
from .idx import read_idx

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
MNIST_CLASSES = tuple(str(c) for c in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# The original file names of the idx layout, in the order of `EXPECTED_SHAPES`.
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# Where Fashion-MNIST is looked for when no folder is given: Debian's package, then Keras' copy.
FASHION_PLACES = (
    Path("/usr/share/datasets/fashion-mnist"),
    Path("~/.keras/datasets/fashion-mnist"),
)
FASHION_HOW_TO = (
    "install it with `apt-get install dataset-fashion-mnist` (Debian), or give a folder that "
    "holds its four idx files (train/t10k images and labels, .gz or not)"
)


@dataclass(frozen=True)
class DatasetInfo:
    """What the lab says about a data set: its names, its classes and what one example is."""

    name: str  # as on the command line
    title: str  # as in a sentence
    class_names: tuple[str, ...]
    item: str  # one example, in words: "digit"
    items: str  # several: "digits"
    parts: str  # what examples are made of, in words: "strokes"
    train_counts: tuple[int, ...]
    test_counts: tuple[int, ...]


DATASETS = {
    "mnist": DatasetInfo(
        "mnist",
        "MNIST",
        MNIST_CLASSES,
        "digit",
        "digits",
        "strokes",
        TRAIN_CLASS_COUNTS,
        TEST_CLASS_COUNTS,
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist",
        "Fashion-MNIST",
        FASHION_CLASSES,
        "article",
        "articles",
        "shapes",
        (6000,) * 10,
        (1000,) * 10,
    ),
}


@dataclass(frozen=True)
class Dataset:
    """A data set as the lab uses it: images (N, 1, 28, 28) float32 in [0, 1], labels int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    name: str = "mnist"

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.name]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


Mnist = Dataset  # the name the lab used while MNIST was its only data set


def vendored_path() -> Path:
    """Where the copy of MNIST shipped inside the package lives."""
    return Path(str(resources.files("actmax.lab") / "datasets" / "mnist.npz"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if path.is_dir():
        raise DataError(f"{path} is a folder; MNIST is read from a Keras-layout mnist.npz file")
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


def _verify(arrays: dict[str, np.ndarray], where: Path, info: DatasetInfo) -> None:
    for key, shape in EXPECTED_SHAPES.items():
        arr = arrays[key]
        if arr.shape != shape:
            raise DataError(f"{where}: {key} has shape {arr.shape}, expected {shape}")
        if arr.dtype != np.uint8:
            raise DataError(f"{where}: {key} has dtype {arr.dtype}, expected uint8")
    for key, counts in (("y_train", info.train_counts), ("y_test", info.test_counts)):
        labels = arrays[key]
        if labels.max() >= len(counts):
            raise DataError(f"{where}: {key} holds labels above {len(counts) - 1}")
        found = tuple(int(c) for c in np.bincount(labels, minlength=len(counts)))
        if found != counts:
            raise DataError(
                f"{where}: {key} class counts {found} differ from {info.title}'s {counts}"
            )


def _as_dataset(arrays: dict[str, np.ndarray], source: Path, name: str) -> Dataset:
    def images(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[:, None, :, :]

    return Dataset(
        x_train=images(arrays["x_train"]),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=images(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        source=str(source),
        name=name,
    )


def load_mnist(path: str | Path | None = None) -> Dataset:
    """Load and verify MNIST; `path=None` uses the copy shipped with actmax.

    The vendored file must match its checksum; a user's file is checked for MNIST's shapes,
    dtypes and class counts, so any faithful Keras-layout copy is accepted.
    """
    file = Path(path).expanduser() if path is not None else vendored_path()
    if path is None and file.exists() and sha256(file) != VENDORED_SHA256:
        raise DataError(f"the MNIST copy shipped with actmax is corrupt ({file}); reinstall actmax")
    arrays = _read_npz(file)
    _verify(arrays, file, DATASETS["mnist"])
    return _as_dataset(arrays, file, "mnist")


def idx_files(folder: Path) -> dict[str, Path]:
    """The four idx files of `folder` (each `.gz` or plain); a missing one is a DataError."""
    found, missing = {}, []
    for key, stem in IDX_FILES.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        file = next((f for f in candidates if f.is_file()), None)
        if file is None:
            missing.append(f"{stem}.gz")
        else:
            found[key] = file
    if missing:
        raise DataError(f"{folder} lacks {', '.join(missing)}; {FASHION_HOW_TO}")
    return found


def find_fashion_mnist() -> Path:
    """The first known place that holds Fashion-MNIST's four idx files."""
    for place in FASHION_PLACES:
        folder = place.expanduser()
        try:
            idx_files(folder)
        except DataError:
            continue
        return folder
    looked = ", ".join(str(p) for p in FASHION_PLACES)
    raise DataError(f"Fashion-MNIST not found (looked in {looked}): {FASHION_HOW_TO}")


def load_idx_folder(folder: str | Path, name: str = "fashion-mnist") -> Dataset:
    """Load a folder in the original idx layout and verify it is the data set `name`."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "not found"
        raise DataError(f"{DATASETS[name].title} folder {folder} {what}; {FASHION_HOW_TO}")
    files = idx_files(folder)
    arrays = {key: read_idx(file, ndim=len(EXPECTED_SHAPES[key])) for key, file in files.items()}
    _verify(arrays, folder, DATASETS[name])
    return _as_dataset(arrays, folder, name)


def load_fashion_mnist(folder: str | Path | None = None) -> Dataset:
    """Load and verify Fashion-MNIST from `folder`, or from the first known place that has it."""
    return load_idx_folder(folder if folder is not None else find_fashion_mnist(), "fashion-mnist")


def load_dataset(name_or_path: str | Path = "mnist", path: str | Path | None = None) -> Dataset:
    """A data set by name (`mnist`, `fashion-mnist`; `path` overrides where it is read from),
    or by path: an `.npz` file is MNIST in Keras' layout, a folder holds Fashion-MNIST's idx files.
    """
    if isinstance(name_or_path, str) and name_or_path in DATASETS:
        if name_or_path == "mnist":
            return load_mnist(path)
        return load_fashion_mnist(path)
    if path is not None:
        known = ", ".join(DATASETS)
        raise DataError(f"unknown data set {str(name_or_path)!r}; choose from {known}")
    given = Path(name_or_path).expanduser()
    if given.is_dir():
        return load_fashion_mnist(given)
    if given.suffix == ".npz" or given.is_file():
        return load_mnist(given)
    known = ", ".join(DATASETS)
    raise DataError(f"no data set {str(name_or_path)!r}: give one of {known}, a file or a folder")


@lru_cache(maxsize=8)
def _content_sha256(files: tuple[tuple[str, int, int], ...]) -> str:
    """sha256 of the decompressed contents of `files` ((path, mtime_ns, size) each), in order."""
    digest = hashlib.sha256()
    for name, _, _ in files:
        path = Path(name)
        try:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path} is not a readable idx file ({exc})") from None
    return digest.hexdigest()


def fingerprint(name: str = "mnist", path: str | Path | None = None) -> str:
    """A checksum of the data a run trains on, the same for every faithful copy of a folder.

    MNIST: the sha256 of the npz (the vendored copy's is known in advance). A folder of idx files:
    the sha256 of their decompressed contents, so Debian's recompressed files and the originals
    give the same fingerprint.
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    if name == "mnist" and path is None:
        return VENDORED_SHA256
    if name == "mnist":
        file = Path(path).expanduser()
        if file.is_dir():
            raise DataError(f"{file} is a folder; MNIST is read from a Keras-layout mnist.npz file")
        if not file.is_file():
            raise DataError(f"MNIST file not found: {file}")
        return _file_sha256(str(file.resolve()), *_stat(file))
    folder = Path(path).expanduser() if path is not None else find_fashion_mnist()
    if not folder.is_dir():
        raise DataError(f"Fashion-MNIST folder {folder} not found; {FASHION_HOW_TO}")
    files = [idx_files(folder)[key] for key in IDX_FILES]
    return _content_sha256(tuple((str(f.resolve()), *_stat(f)) for f in files))


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=8)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    return sha256(Path(path))
