"""Small slices of MNIST, so training tests run real data in seconds (loaded once per session)."""

from __future__ import annotations

from functools import lru_cache

from actmax.lab.data import Mnist, load_mnist


@lru_cache(maxsize=1)
def mnist() -> Mnist:
    return load_mnist()


def small_mnist(n_train: int = 1024, n_test: int = 512) -> Mnist:
    """The first `n_train` training and `n_test` test images of MNIST."""
    full = mnist()
    return Mnist(
        x_train=full.x_train[:n_train],
        y_train=full.y_train[:n_train],
        x_test=full.x_test[:n_test],
        y_test=full.y_test[:n_test],
        source=f"{full.source} (first {n_train} + {n_test})",
    )
