"""Every attribution method by name, for the command line, figures and benchmarks."""

from __future__ import annotations

from torch import nn

from ..adapters import ModelAdapter
from ..errors import ActmaxError
from .core import Attribution, Target
from .gradcam import grad_cam
from .saliency import SALIENCY_METHODS, saliency

CAM_METHODS = ("gradcam", "gradcam++")
METHODS = SALIENCY_METHODS + CAM_METHODS


def explain(
    model: nn.Module | ModelAdapter,
    images,
    target: Target = None,
    method: str = "vanilla",
    **options,
) -> Attribution:
    """Run the method called `method` (one of `METHODS`); `options` go to `saliency`/`grad_cam`."""
    if method in CAM_METHODS:
        return grad_cam(model, images, target, plus_plus=method == "gradcam++", **options)
    if method in SALIENCY_METHODS:
        return saliency(model, images, target, method=method, **options)
    raise ActmaxError(f"unknown attribution method {method!r}; choose from {', '.join(METHODS)}")
