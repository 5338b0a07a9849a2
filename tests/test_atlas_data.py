"""What an atlas ranks its units on: named data sets, files, arrays; one readable error each."""

import numpy as np
import pytest
from fashion_helpers import fashion_mnist

from actmax.atlas import open_data
from actmax.errors import DataError


def test_named_sets_give_their_test_images_with_canonical_strides():
    mnist = open_data("mnist", limit=300)
    assert mnist.images.shape == (300, 1, 28, 28) and mnist.images.dtype == np.float32
    assert mnist.name == "the first 300 images of the MNIST test set"
    assert mnist.images.strides == (3136, 3136, 112, 4)  # no stride-0 channel axis
    fashion_mnist()  # skips (fails under CI) when Fashion-MNIST is not installed
    fashion = open_data("fashion-mnist")
    assert fashion.images.shape == (10000, 1, 28, 28)
    assert fashion.name == "the Fashion-MNIST test set"
    assert not np.array_equal(fashion.images[:300], mnist.images)


def test_npy_files_and_arrays(tmp_path):
    digits = (np.arange(2 * 5 * 5) % 256).astype(np.uint8).reshape(2, 5, 5)
    np.save(tmp_path / "x.npy", digits)
    found = open_data(tmp_path / "x.npy")
    assert found.images.shape == (2, 1, 5, 5)
    np.testing.assert_array_equal(found.images[:, 0], digits / np.float32(255))
    colour = np.random.default_rng(0).random((3, 3, 8, 8))
    assert open_data(colour).images.shape == (3, 3, 8, 8)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("nowhere.npy", "no such data set or file"),
        (np.zeros((4, 2), np.float32), "expected (N, H, W) or (N, C, H, W)"),
        (np.full((1, 4, 4), np.nan, np.float32), "NaN or infinite"),
        (np.zeros((1, 4, 4), np.int32), "expected images (float or uint8)"),
    ],
)
def test_bad_data_is_one_clear_error(data, message):
    with pytest.raises(DataError, match=None) as error:
        open_data(data)
    assert message in str(error.value)
