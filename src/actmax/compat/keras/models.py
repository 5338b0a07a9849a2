"""Keras 2's `keras.models` names keras-vis code uses, on Keras 3.

Keras 2's `Sequential` had `model.input` and `model.output`, which keras-vis' losses read; Keras
3's has only `inputs` and `outputs`, so this `Sequential` adds them back. `Input` lived in
`keras.models` too. Everything else is Keras 3's own.
"""

from __future__ import annotations

from typing import Any

from ...adapters.keras import import_keras

keras = import_keras()

Model = keras.Model
Input = keras.Input


class Sequential(keras.Sequential):
    """Keras' `Sequential` with Keras 2's `input` and `output`."""

    @property
    def input(self) -> Any:
        inputs = self.inputs
        return inputs[0] if len(inputs) == 1 else inputs

    @property
    def output(self) -> Any:
        outputs = self.outputs
        return outputs[0] if len(outputs) == 1 else outputs


def __getattr__(name: str) -> Any:
    return getattr(keras.models, name)
