"""Every attribution method by name, for the command line, figures and benchmarks."""

from __future__ import annotations

import os

from torch import nn

from ..adapters import ModelAdapter
from ..errors import ActmaxError
from .core import Attribution, Target
from .gradcam import grad_cam
from .saliency import SALIENCY_METHODS, saliency

CAM_METHODS = ("gradcam", "gradcam++")
METHODS = SALIENCY_METHODS + CAM_METHODS


def explain(
    model: nn.Module | ModelAdapter | str | os.PathLike,
    images,
    target: Target = None,
    method: str = "vanilla",
    **options,
) -> Attribution:
    """Run the method called `method` on a batch of images (or one image).

    model: a torch module, a Keras model, a path to a model or an adapter; left untouched.
    images: (N, C, H, W) or one (C, H, W), in pixel space.
    target: a class index, an `Objective`, one per image, or None for the predicted class.
    method: one of `METHODS` (saliency methods, then "gradcam" and "gradcam++").
    options: the method's own keywords (`saliency`'s or `grad_cam`'s), e.g. `preprocess`,
        `device`, `layer`, `noise`.
    """
    if method in CAM_METHODS:
        return grad_cam(model, images, target, plus_plus=method == "gradcam++", **options)
    if method in SALIENCY_METHODS:
        return saliency(model, images, target, method=method, **options)
    raise ActmaxError(f"unknown attribution method {method!r}; choose from {', '.join(METHODS)}")
