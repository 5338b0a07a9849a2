"""The lab's network in Keras 3, as the lab writes it, and its copy into actmax's `LabCNN`.

Needs the `keras` extra and the torch backend. `lab_cnn_from_keras` lets a lab model trained in
Keras be explained by the PyTorch model with the very same weights.
"""

from __future__ import annotations

import torch

from ..adapters.keras import import_keras
from .models import LabCNN, build_model


def keras_lab_cnn(seed: int = 0, n_classes: int = 10, dtype: str = "float32"):
    """The lab's network (functional API, channels-last, Keras' default initialization)."""
    keras = import_keras()
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    floatx = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        l0 = layers.Input(shape=(28, 28, 1), name="l0")
        l1 = layers.Conv2D(9, (5, 5), padding="same", activation="relu", name="l1")(l0)
        l1_mp = layers.MaxPooling2D(pool_size=(2, 2), name="l1_mp")(l1)
        l2 = layers.Conv2D(9, (5, 5), padding="same", activation="relu", name="l2")(l1_mp)
        l2_mp = layers.MaxPooling2D(pool_size=(2, 2), name="l2_mp")(l2)
        l3 = layers.Conv2D(16, (3, 3), padding="same", activation="relu", name="l3")(l2_mp)
        l3_mp = layers.MaxPooling2D(pool_size=(2, 2), name="l3_mp")(l3)
        flat = layers.Flatten(name="flat")(l3_mp)
        l4 = layers.Dense(25, activation="relu", name="l4")(flat)
        l5 = layers.Dense(n_classes, activation="softmax", name="l5")(l4)
        return keras.Model(inputs=l0, outputs=l5)
    finally:
        keras.config.set_floatx(floatx)


def lab_cnn_from_keras(keras_model) -> LabCNN:
    """A LabCNN holding the Keras model's weights (kernels (H,W,in,out) -> (out,in,H,W))."""
    dtype = getattr(torch, keras_model.get_layer("l1").kernel.dtype)
    n_classes = keras_model.get_layer("l5").units
    twin = build_model("lab_cnn", n_classes=n_classes).to(dtype)
    with torch.no_grad():
        for name in ("l1", "l2", "l3"):
            kernel, bias = keras_model.get_layer(name).get_weights()
            getattr(twin, name).conv.weight.copy_(torch.from_numpy(kernel).permute(3, 2, 0, 1))
            getattr(twin, name).conv.bias.copy_(torch.from_numpy(bias))
        for name in ("l4", "l5"):  # LabCNN flattens channels-last, so dense kernels copy 1:1
            kernel, bias = keras_model.get_layer(name).get_weights()
            getattr(twin, name).linear.weight.copy_(torch.from_numpy(kernel).T)
            getattr(twin, name).linear.bias.copy_(torch.from_numpy(bias))
    return twin.eval()
