"""Keras 2's `keras.layers` names keras-vis code uses, on Keras 3.

Keras 2 kept `LeakyReLU`, `PReLU`, `ELU`... in `keras.layers.advanced_activations`; Keras 3 has
them in `keras.layers` itself, which `advanced_activations` names here. Every other name is
Keras 3's own.
"""

from __future__ import annotations

from typing import Any

from ...adapters.keras import import_keras

keras = import_keras()

advanced_activations = keras.layers


def __getattr__(name: str) -> Any:
    return getattr(keras.layers, name)
