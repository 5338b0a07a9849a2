"""Explaining single predictions: saliency, Grad-CAM and heat-map overlays, batched.

    from actmax.attribution import saliency, grad_cam, overlay_heatmap
    sal = saliency(model, x, target=7, method="guided")    # sal.maps: (N, 28, 28) in [0, 1]
    cam = grad_cam(model, x)                                # predicted class; cam.layer == "l3_mp"
    rgb = overlay_heatmap(x[0], cam.maps[0], alpha=0.4)

Targets are the objectives of activation maximization (`actmax.objectives`), an int class index
(that class's logit), one per image, or None (the predicted class). Every method runs one
batched forward and backward pass with the model frozen, and leaves the model as it was.
"""

from .backprop import relu_backprop
from .compare import rank_correlation
from .core import Attribution, class_objective
from .gradcam import grad_cam, grad_cam_plus_plus
from .methods import CAM_METHODS, METHODS, explain
from .overlay import colorize, overlay, overlay_heatmap
from .saliency import SALIENCY_METHODS, saliency

__all__ = [
    "CAM_METHODS",
    "METHODS",
    "SALIENCY_METHODS",
    "Attribution",
    "class_objective",
    "colorize",
    "explain",
    "grad_cam",
    "grad_cam_plus_plus",
    "overlay",
    "overlay_heatmap",
    "rank_correlation",
    "relu_backprop",
    "saliency",
]
