"""keras-vis' `vis.regularizers`: total variation and the Lp norm of the image, as losses.

In a loss list they run as actmax's regularizers (`actmax.regularizers.TotalVariation` with
keras-vis' grid, `actmax.regularizers.LpNorm`), with keras-vis' normalization by C x H x W, so a
weight means what it meant in keras-vis. `build_loss()` gives the same value as a keras-vis loss
(symbolic for a Keras model's `model.input`, a torch scalar for a `Handle`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ... import regularizers as core
from ...errors import ActmaxError
from .losses import Loss
from .tensors import Handle, is_keras_tensor
from .utils import utils

__all__ = ["LPNorm", "TotalVariation", "normalize"]


def normalize(input_tensor: Any, output_tensor: Any) -> Any:
    """`output_tensor` divided by the size of one image of `input_tensor` (C x H x W).

    Args:
        input_tensor: the model's input.
        output_tensor: the value to normalize.
    """
    return output_tensor / np.prod(utils.get_img_shape(input_tensor)[1:])


class TotalVariation(Loss):
    """Total variation: blobby, coherent images (Mahendran & Vedaldi, section 3.2.2).

    Args:
        img_input: the model's input (`model.input`, or `utils.model_input(model)`).
        beta: smaller values give sharper, spikier images; 1.5 to 3 is a reasonable range.
    """

    def __init__(self, img_input: Any, beta: float = 2.0):
        super().__init__()
        self.name = f"TV({beta}) Loss"
        self.img = img_input
        self.beta = beta

    def regularizer(self, weight: float, name: str) -> core.Regularizer:
        """actmax's regularizer with keras-vis' (H-1) x (W-1) grid.

        Args:
            weight: the loss's weight.
            name: its name in the history.
        """
        return core.TotalVariation(weight=float(weight), beta=float(self.beta), name=name)

    def build_loss(self) -> Any:
        if is_keras_tensor(self.img):
            return _keras_total_variation(self.img, self.beta)
        return core.total_variation(_live(self.img), float(self.beta)).sum()


class LPNorm(Loss):
    """The Lp norm of the image, which keeps pixel values from growing without bound.

    Args:
        img_input: the model's input.
        p: the order, >= 1; `float('inf')` is keras-vis' `max(x)`.
    """

    def __init__(self, img_input: Any, p: float = 6.0):
        super().__init__()
        if p < 1:
            raise ValueError("p value should range between [1, inf)")
        self.name = f"L-{p} Norm Loss"
        self.p = p
        self.img = img_input

    def regularizer(self, weight: float, name: str) -> core.Regularizer:
        """actmax's Lp-norm regularizer.

        Args:
            weight: the loss's weight.
            name: its name in the history.
        """
        return core.LpNorm(weight=float(weight), p=float(self.p), name=name)

    def build_loss(self) -> Any:
        if is_keras_tensor(self.img):
            from ..keras import backend as K

            if math.isinf(self.p):
                value = K.max(self.img)
            else:
                value = K.pow(K.sum(K.pow(K.abs(self.img), self.p)), 1.0 / self.p)
            return normalize(self.img, value)
        x = _live(self.img)  # keras-vis' norm runs over the whole batch
        size = math.prod(x.shape[1:])
        if math.isinf(self.p):
            return x.max() / size
        return torch.linalg.vector_norm(x.flatten(), ord=float(self.p)) / size


def _live(img: Any):
    if isinstance(img, Handle):
        return img.value()
    if hasattr(img, "dim"):
        return img
    raise ActmaxError(
        f"a regularizer reads the model's input: give model.input (Keras) or "
        f"utils.model_input(model), not {type(img).__name__}"
    )


def _keras_total_variation(img: Any, beta: float) -> Any:
    """keras-vis' N-dimensional TV on a symbolic channels-last or channels-first tensor."""
    from ..keras import backend as K

    image_dims = len(img.shape) - 2
    start = [slice(1, None)] + [slice(None, -1)] * (image_dims - 1)
    end = [slice(None, -1)] * image_dims
    head = [slice(None), slice(None)]
    tv = None
    for _ in range(image_dims):
        diff = K.square(
            img[utils.slicer[tuple(head + start)]] - img[utils.slicer[tuple(head + end)]]
        )
        tv = diff if tv is None else tv + diff
        start = start[-1:] + start[:-1]
        end = end[-1:] + end[:-1]
    return normalize(img, K.sum(K.pow(tv, beta / 2.0)))
