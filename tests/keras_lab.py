"""The lab's Keras model (with non-zero biases) and its PyTorch twin, for the Keras/ONNX tests."""

from __future__ import annotations

import numpy as np

from actmax.adapters.keras import import_keras
from actmax.lab.keras_lab import keras_lab_cnn as _plain_keras_lab_cnn
from actmax.lab.keras_lab import lab_cnn_from_keras as torch_twin

keras = import_keras()
layers = keras.layers

__all__ = ["keras", "keras_lab_cnn", "layers", "torch_twin"]


def keras_lab_cnn(seed: int = 0, n_classes: int = 10, dtype: str = "float32"):
    """The lab's network with random non-zero biases, so copying them is tested too."""
    model = _plain_keras_lab_cnn(seed, n_classes, dtype)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape).astype(bias.dtype)])
    return model
