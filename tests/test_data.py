import numpy as np
import pytest

from actmax.errors import DataError
from actmax.lab.data import TEST_CLASS_COUNTS, load_mnist, vendored_path


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
