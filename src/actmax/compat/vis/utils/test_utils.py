"""keras-vis' `vis.utils.test_utils`: decorators for tests across Keras backends and layouts."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from . import utils

__all__ = ["across_data_formats", "skip_backends"]


def across_data_formats(func: Callable) -> Callable:
    """Run the test once channels-first and once channels-last, then restore Keras' format
    (keras-vis also cleared TensorFlow's graph after each run; Keras 3 on torch keeps none)."""
    from ....adapters.keras import import_keras

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        keras = import_keras()
        before = keras.backend.image_data_format()
        try:
            for data_format in ("channels_first", "channels_last"):
                keras.backend.set_image_data_format(data_format)
                func(*args, **kwargs)
        finally:
            keras.backend.set_image_data_format(before)

    return wrapper


def skip_backends(backends: str | Iterable[str]) -> Callable[[Callable], Callable]:
    """Skip the test (return without running it) on the named Keras backends."""
    names = set(utils.listify(backends))

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from ....adapters.keras import import_keras

            if import_keras().backend.backend() in names:
                return None
            return func(*args, **kwargs)

        return wrapper

    return decorator
