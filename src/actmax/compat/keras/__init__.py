"""The Keras names keras-vis code uses, for PyTorch models (`from keras import activations`)."""

from . import activations

__all__ = ["activations"]
