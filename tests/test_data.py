import gzip
from pathlib import Path

import numpy as np
import pytest
from fashion_helpers import fashion_mnist

import actmax.lab.data as data_module
from actmax.errors import DataError
from actmax.lab.data import (
    IDX_FILES,
    TEST_CLASS_COUNTS,
    fingerprint,
    load_dataset,
    load_mnist,
    vendored_path,
)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def test_vendored_mnist_loads_as_the_lab_does(mnist):
    assert mnist.x_train.shape == (60000, 1, 28, 28)
    assert mnist.x_test.shape == (10000, 1, 28, 28)
    assert mnist.x_train.dtype == np.float32
    assert mnist.x_train.min() == 0.0 and mnist.x_train.max() == 1.0
    assert list(mnist.y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert tuple(np.bincount(mnist.y_test)) == TEST_CLASS_COUNTS


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_mnist(tmp_path / "nope.npz")


def test_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(vendored_path().read_bytes()[:5000])
    with pytest.raises(DataError, match="not a readable"):
        load_mnist(bad)


def test_wrong_contents_are_rejected(tmp_path):
    bad = tmp_path / "mnist.npz"
    with np.load(vendored_path()) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["y_test"] = np.roll(arrays["y_test"], 1) * 0
    np.savez(bad, **arrays)
    with pytest.raises(DataError, match="class counts"):
        load_mnist(bad)


def test_user_copy_in_keras_layout_is_accepted(tmp_path):
    copy = tmp_path / "mnist.npz"
    copy.write_bytes(vendored_path().read_bytes())
    assert load_mnist(copy).source == str(copy)


def test_fashion_mnist_loads_with_its_shapes_and_classes():
    data = fashion_mnist()
    assert data.name == "fashion-mnist" and data.n_classes == 10
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"


def test_fingerprint_is_of_the_contents_not_the_compression(tmp_path):
    folder = Path(fashion_mnist().source)
    for name in IDX_FILES.values():  # the same data, unpacked
        (tmp_path / name).write_bytes(gzip.decompress((folder / f"{name}.gz").read_bytes()))
    assert fingerprint("fashion-mnist", tmp_path) == fingerprint("fashion-mnist", folder)
    assert fingerprint("fashion-mnist", folder) != fingerprint("mnist")
    assert load_dataset(tmp_path).name == "fashion-mnist"  # a folder is Fashion-MNIST's layout


def test_missing_fashion_mnist_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "FASHION_PLACES", (tmp_path / "a", tmp_path / "b"))
    with pytest.raises(DataError, match="Fashion-MNIST not found") as caught:
        load_dataset("fashion-mnist")
    assert "apt-get install dataset-fashion-mnist" in str(caught.value)


def test_datasets_by_name_and_by_path(tmp_path):
    by_path = load_dataset(vendored_path())  # a file is MNIST's Keras layout
    assert by_path.name == "mnist" and by_path.class_names == tuple("0123456789")
    with pytest.raises(DataError, match="unknown data set 'cifar'"):
        load_dataset("cifar", tmp_path)
    with pytest.raises(DataError, match="no data set 'cifar'"):
        load_dataset("cifar")
