"""The idx reader on small hand-made files: every header field checked, damage named in one line."""

import gzip
import struct

import numpy as np
import pytest

from actmax.errors import DataError
from actmax.lab.data import IDX_FILES, load_dataset, load_idx_folder
from actmax.lab.idx import parse_idx, read_idx


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An idx file as the format defines it, written independently of the reader."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def test_reads_plain_and_gzipped_files(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    plain, packed = tmp_path / "images-idx3-ubyte", tmp_path / "images-idx3-ubyte.gz"
    plain.write_bytes(idx_bytes(images))
    packed.write_bytes(gzip.compress(idx_bytes(images)))
    for path in (plain, packed):
        read = read_idx(path, ndim=3)
        assert read.dtype == np.uint8 and read.shape == (2, 3, 4)
        np.testing.assert_array_equal(read, images)
        read[0, 0, 0] = 99  # a writable copy, not a view of the file's bytes


@pytest.mark.parametrize(
    ("code", "values"),
    [
        (0x09, np.array([-128, -1, 0, 127])),
        (0x0B, np.array([-300, 2, 40000 - 65536])),
        (0x0C, np.array([-(2**31), 7, 2**31 - 1])),
        (0x0D, np.array([0.5, -1.25, 3e38])),
        (0x0E, np.array([np.pi, -1e-300])),
    ],
)
def test_every_type_code_is_big_endian(code, values):
    read = parse_idx(idx_bytes(values, code))
    np.testing.assert_array_equal(read, values.astype(read.dtype))
    assert read.dtype.isnative


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is not an idx file (it starts with nothing)"),
        (b"PK\x03\x04rest", "is not an idx file (it starts with 504b0304)"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown type code 0x07"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated inside its header"),
        (idx_bytes(np.zeros((2, 3, 4), np.uint8))[:-1], "is truncated: 23 bytes"),
        (idx_bytes(np.zeros((2, 3, 4), np.uint8)) + b"\x00", "longer than its header says"),
        (idx_bytes(np.zeros(5, np.uint8)), "holds 1-dimensional data, expected 3"),
    ],
)
def test_damaged_contents_give_one_clear_line(data, message):
    with pytest.raises(DataError, match="^idx data ") as caught:
        parse_idx(data, ndim=3)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_damaged_or_missing_files(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros((4, 2, 2), np.uint8)))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="cut.gz is not a readable idx file"):
        read_idx(cut)
    with pytest.raises(DataError, match="idx file not found"):
        read_idx(tmp_path / "absent.gz")


def _folder(tmp_path, n_train=20, n_test=10, labels=None):
    """A folder in the idx layout holding a tiny, balanced ten-class data set."""
    rng = np.random.default_rng(0)
    sizes = {"x_train": n_train, "y_train": n_train, "x_test": n_test, "y_test": n_test}
    for key, stem in IDX_FILES.items():
        n = sizes[key]
        if key.startswith("x"):
            array = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        else:
            array = np.arange(n, dtype=np.uint8) % 10 if labels is None else labels(n)
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    return tmp_path


def test_a_folder_of_another_size_is_not_fashion_mnist(tmp_path):
    with pytest.raises(DataError, match=r"x_train has shape \(20, 28, 28\), expected \(60000"):
        load_idx_folder(_folder(tmp_path))


def test_a_folder_missing_files_says_how_to_get_the_data(tmp_path):
    folder = _folder(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte.gz") as caught:
        load_dataset("fashion-mnist", folder)
    assert "apt-get install dataset-fashion-mnist" in str(caught.value)
    with pytest.raises(DataError, match="not found"):
        load_dataset("fashion-mnist", tmp_path / "nowhere")
