"""Fashion-MNIST for the tests: loaded once per session; missing, its tests are skipped (and fail
under CI, where `make test` installs it)."""

from __future__ import annotations

import os
from functools import lru_cache

import pytest

from actmax.errors import DataError
from actmax.lab.data import Dataset, load_fashion_mnist


@lru_cache(maxsize=1)
def _fashion() -> Dataset | str:
    try:
        return load_fashion_mnist()
    except DataError as exc:
        return str(exc)


def fashion_mnist() -> Dataset:
    """The installed Fashion-MNIST, or a skip that says how to install it."""
    data = _fashion()
    if isinstance(data, str):
        if os.environ.get("CI"):
            pytest.fail(f"Fashion-MNIST is missing (`make fashion-mnist` installs it): {data}")
        pytest.skip(f"Fashion-MNIST is not installed (`make fashion-mnist` installs it): {data}")
    return data


def small_fashion(n_train: int = 1024, n_test: int = 512) -> Dataset:
    """The first `n_train` training and `n_test` test images of Fashion-MNIST."""
    from dataclasses import replace

    full = fashion_mnist()
    return replace(
        full,
        x_train=full.x_train[:n_train],
        y_train=full.y_train[:n_train],
        x_test=full.x_test[:n_test],
        y_test=full.y_test[:n_test],
        source=f"{full.source} (first {n_train} + {n_test})",
    )
