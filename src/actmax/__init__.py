"""actmax: what a neural network has learned, by activation maximization, saliency, Grad-CAM."""

from importlib.metadata import PackageNotFoundError, version

from . import attribution, objectives, optimizers, param, regularizers, transforms
from .adapters import LayerRef, ModelAdapter, Normalize, as_adapter
from .attribution import (
    Attribution,
    explain,
    grad_cam,
    grad_cam_plus_plus,
    overlay,
    overlay_heatmap,
    saliency,
)
from .engine import visualize
from .errors import ActmaxError, LayerNotFoundError
from .generator_prior import GeneratorPrior, visualize_with_prior
from .objectives import (
    Objective,
    channel,
    custom,
    direction,
    diversity,
    layer_mean,
    logit,
    neuron,
    unit,
    units,
)
from .recipes import Recipe, get_recipe
from .result import VisualizationResult

try:
    __version__ = version("actmax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ActmaxError",
    "Attribution",
    "GeneratorPrior",
    "LayerNotFoundError",
    "LayerRef",
    "ModelAdapter",
    "Normalize",
    "Objective",
    "Recipe",
    "VisualizationResult",
    "as_adapter",
    "attribution",
    "channel",
    "custom",
    "direction",
    "diversity",
    "explain",
    "grad_cam",
    "get_recipe",
    "grad_cam_plus_plus",
    "layer_mean",
    "logit",
    "neuron",
    "objectives",
    "optimizers",
    "overlay",
    "overlay_heatmap",
    "param",
    "regularizers",
    "saliency",
    "transforms",
    "unit",
    "units",
    "visualize",
    "visualize_with_prior",
]
