"""Keras 2's `keras.initializers` names keras-vis code uses, on Keras 3.

Keras 2's `Constant(value)` filled a weight like TensorFlow's `constant(value, shape)`: a value
with as many elements as the weight is laid out in the weight's shape (`Constant([-1., 1.])`
for a (2, 1) kernel is [[-1], [1]]). Keras 3 broadcasts it instead, which gives a (2, 2) kernel
there. Everything else is Keras 3's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...adapters.keras import import_keras
from ...errors import ActmaxError

keras = import_keras()


@keras.saving.register_keras_serializable(package="actmax.compat")
class Constant(keras.initializers.Constant):
    """A constant weight, with Keras 2's reshaping of a value of the weight's size."""

    def __call__(self, shape, dtype=None):
        value = np.asarray(self.value)
        size = int(np.prod(shape))
        if value.size not in (1, size):
            raise ActmaxError(
                f"Constant holds {value.size} values but the weight has shape {tuple(shape)}"
            )
        filled = np.full(shape, value.item()) if value.size == 1 else value.reshape(shape)
        return keras.ops.convert_to_tensor(filled, dtype=dtype or keras.backend.floatx())


constant = Constant


def __getattr__(name: str) -> Any:
    return getattr(keras.initializers, name)
