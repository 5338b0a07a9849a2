"""One interface over the models actmax can explain: layer lookup, intermediate outputs, hygiene.

The engine, saliency and Grad-CAM talk only to a `ModelAdapter`, so a new kind of model (Keras,
ONNX) needs only a new adapter. Images and activations are always channels-first inside actmax.
"""

from __future__ import annotations

from torch import nn

from .base import LayerRef, ModelAdapter
from .torch import TorchAdapter

__all__ = ["LayerRef", "ModelAdapter", "TorchAdapter", "as_adapter"]


def as_adapter(model: nn.Module | ModelAdapter, input_shape=None) -> ModelAdapter:
    """Wrap `model` in the adapter for its kind (an adapter is returned as it is)."""
    if isinstance(model, ModelAdapter):
        return model
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module or a Keras model, got {type(model).__name__}")
    return TorchAdapter(model, input_shape=input_shape)
