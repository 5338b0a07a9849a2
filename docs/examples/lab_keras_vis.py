"""The lab's keras-vis code on a PyTorch model: only the imports change."""

import numpy as np

from actmax.compat.keras import activations  # Keras' names for a PyTorch model
from actmax.compat.vis.utils import utils
from actmax.compat.vis.visualization import (
    overlay,
    visualize_activation,
    visualize_cam,
    visualize_saliency,
)
from actmax.lab.data import load_mnist
from actmax.lab.models import build_model

model = build_model("lab_cnn", seed=0)  # or the model of a run folder (lab_python.py)
digit = load_mnist().x_test[0]  # (1, 28, 28), a 7

layer_idx = utils.find_layer_idx(model, "l5")  # 9: Keras counts the input as layer 0
model.l5.activation = activations.linear  # the lab's swap: softmax -> linear
model = utils.apply_modifications(model)  # nothing to rebuild: returns the model

img = visualize_activation(model, layer_idx, filter_indices=3, input_range=(0.0, 1.0), max_iter=40)
print(img.shape, img.dtype)  # (28, 28, 1) float32: keras-vis' contrast-stretched image

grads = visualize_saliency(model, layer_idx, filter_indices=7, seed_input=digit)
heat = visualize_cam(model, layer_idx, filter_indices=7, seed_input=digit)
gray = np.uint8(np.repeat(np.moveaxis(digit, 0, -1), 3, axis=-1) * 255)
blend = overlay(heat, gray)  # keras-vis' blend of two uint8 RGB images
print(grads.shape, heat.shape, blend.shape)  # (28, 28, 3) uint8 each, jet-coloured
