"""A Keras 3 model, saved as .keras and opened by its path: Keras runs on PyTorch."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported

import keras

import actmax
from actmax import logit

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1), name="pixels"),  # Keras' channels-last input
        keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(name="pool"),
        keras.layers.Dense(10, activation="softmax", name="classes"),
    ]
)
model.save("model.keras")

# The file is loaded in Keras' safe mode; images are channels-first inside actmax.
result = actmax.visualize("model.keras", [logit(c) for c in range(3)], iterations=30, seed=0)
print(result.titles)  # ['classes:pre[0]', ...]: logit(c) reads before the softmax
print(tuple(result.inputs.shape))  # (3, 1, 28, 28)
