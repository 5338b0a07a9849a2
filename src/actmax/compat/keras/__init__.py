"""The Keras names keras-vis code uses.

- `activations`: Keras' activation names as PyTorch modules, for the lab's softmax swap on a
  PyTorch model (`from keras import activations` stays for a Keras model).
- `backend`, `models`, `initializers`, `layers` (they need Keras 3): Keras 2's names that Keras 3
  renamed or dropped, on Keras 3 and its torch backend: `K.gradients` and `K.function`,
  `Sequential.input`, `Constant`'s reshaping, `layers.advanced_activations`. keras-vis-era code
  runs with `from keras import backend as K` changed to `from actmax.compat.keras import
  backend as K`, and so on.
"""

from . import activations

__all__ = ["activations"]
