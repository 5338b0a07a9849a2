"""PyTorch models: layers are the top-level children (any dotted module name works too)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import ActmaxError
from .base import LayerRef, ModelAdapter

ACTIVATION_TYPES = (
    nn.Softmax,
    nn.LogSoftmax,
    nn.ReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.GELU,
    nn.LeakyReLU,
    nn.ELU,
    nn.SiLU,
    nn.Identity,
)


class TorchAdapter(ModelAdapter):
    """Wraps an `nn.Module` taking channels-first input; activations are read with forward hooks."""

    def __init__(self, model: nn.Module, input_shape: tuple[int, ...] | None = None):
        self.model = model
        shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
        self.input_shape = tuple(shape) if shape is not None else None
        self._input_name = getattr(model, "input_name", "input")
        self._modules = dict(model.named_modules())

    def layer_names(self) -> list[str]:
        return [self._input_name] + [name for name, _ in self.model.named_children()]

    def all_names(self) -> list[str]:
        return [self._input_name] + [name for name in self._modules if name]

    def module(self, name: str) -> nn.Module | None:
        if name == self._input_name:
            return None
        return self._modules[name]

    def has_pre_activation(self, layer: str | int) -> bool:
        name = self.resolve(layer)
        if name == self._input_name:
            return False
        module = self.module(name)
        return isinstance(getattr(module, "activation", None), nn.Module) or isinstance(
            module, ACTIVATION_TYPES
        )

    def _activation_module(self, name: str) -> nn.Module:
        """The module whose input is `name`'s pre-activation."""
        module = self.module(name)
        if self.has_pre_activation(name):
            activation = getattr(module, "activation", None)
            return activation if isinstance(activation, nn.Module) else module
        raise ActmaxError(
            f"layer {name!r} has no separate activation to read the input of; target the layer "
            "that computes its input instead (for logits: the last linear layer)"
        )

    concurrent_recorder = True

    def run(
        self, x: torch.Tensor, refs: Iterable[LayerRef]
    ) -> tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]:
        with self.recorder(refs) as forward:
            return forward(x)

    @contextmanager
    def recorder(
        self, refs: Iterable[LayerRef]
    ) -> Iterator[Callable[[torch.Tensor], tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]]]:
        """Hooks registered once for the block; each thread's calls see only their own
        activations, so slices of a batch can run through the model concurrently."""
        local = threading.local()

        def keep_output(ref):
            def hook(_module, _inputs, output):
                acts = getattr(local, "acts", None)
                if acts is not None:
                    acts[ref] = output

            return hook

        def keep_input(ref):
            def hook(module, inputs):
                acts = getattr(local, "acts", None)
                if acts is not None:
                    value = inputs[0]
                    acts[ref] = value.clone() if getattr(module, "inplace", False) else value

            return hook

        refs = set(refs)
        handles = []
        try:
            for ref in refs:
                if ref.name == self._input_name:
                    continue
                if ref.pre_activation:
                    target = self._activation_module(ref.name)
                    handles.append(target.register_forward_pre_hook(keep_input(ref)))
                else:
                    handles.append(self.module(ref.name).register_forward_hook(keep_output(ref)))

            def forward(x: torch.Tensor) -> tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]:
                local.acts = {ref: x for ref in refs if ref.name == self._input_name}
                try:
                    output = self.model(x)
                    return output, local.acts
                finally:
                    local.acts = None

            yield forward
        finally:
            for handle in handles:
                handle.remove()
