"""The adapter contract and the parts every adapter shares (name/index lookup, model hygiene)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import LayerNotFoundError


@dataclass(frozen=True)
class LayerRef:
    """A layer's output, or with `pre_activation=True` the input of its activation (the logits)."""

    name: str
    pre_activation: bool = False

    def __str__(self) -> str:
        return f"{self.name}:pre" if self.pre_activation else self.name


class ModelAdapter(ABC):
    """Uniform access to one model. Index 0 of `layer_names()` is the input, as in Keras."""

    model: nn.Module
    input_shape: tuple[int, ...] | None
    #: whether `recorder()`'s forward function may be called from several threads at once
    concurrent_recorder: bool = False

    @abstractmethod
    def layer_names(self) -> list[str]:
        """The addressable layers in Keras' order; position = the Keras-style layer index."""

    @abstractmethod
    def all_names(self) -> list[str]:
        """Every name `resolve` accepts (may include nested modules)."""

    @abstractmethod
    def run(
        self, x: torch.Tensor, refs: Iterable[LayerRef]
    ) -> tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]:
        """Forward `x` (channels-first) and return the output and the requested activations."""

    @abstractmethod
    def module(self, name: str) -> nn.Module | None:
        """The module behind a layer name (None for the input)."""

    @contextmanager
    def recorder(
        self, refs: Iterable[LayerRef]
    ) -> Iterator[Callable[[torch.Tensor], tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]]]:
        """A `run`-like forward function for many calls in a row (an optimization loop).

        This default calls `run` every time. An adapter may instead set itself up once for the
        whole block (e.g. register hooks once) and, with `concurrent_recorder = True`, allow
        calls from several threads at once.
        """
        refs = list(refs)
        yield lambda x: self.run(x, refs)

    def has_pre_activation(self, layer: str | int) -> bool:
        """Whether `ref(layer, pre_activation=True)` can be read (the layer has an activation)."""
        return False

    @property
    def input_name(self) -> str:
        return self.layer_names()[0]

    @property
    def device(self) -> torch.device:
        for tensor in self.model.parameters():
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        for tensor in self.model.parameters():
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.float32

    def resolve(self, layer: str | int) -> str:
        """Canonical layer name for a name or a Keras-style index, with an error that helps."""
        names = self.layer_names()
        if isinstance(layer, bool) or not isinstance(layer, int | str):
            raise LayerNotFoundError(f"a layer is given by name or index, not {layer!r}")
        if isinstance(layer, int):
            n = len(names)
            if not -n <= layer < n:
                raise LayerNotFoundError(
                    f"layer index {layer} is out of range: this model has layers 0..{n - 1} "
                    f"({', '.join(f'{i}={name}' for i, name in enumerate(names))})"
                )
            return names[layer]
        if layer in self.all_names() or layer in names:
            return layer
        raise LayerNotFoundError(f"no layer named {layer!r}; the layers are: {', '.join(names)}")

    def index(self, name: str) -> int:
        """Keras-style index of a layer name (keras-vis' `find_layer_idx`)."""
        names = self.layer_names()
        if name not in names:
            raise LayerNotFoundError(f"no layer named {name!r}; the layers are: {', '.join(names)}")
        return names.index(name)

    def ref(self, layer: str | int, pre_activation: bool = False) -> LayerRef:
        return LayerRef(self.resolve(layer), pre_activation)

    @contextmanager
    def frozen(self) -> Iterator[ModelAdapter]:
        """Eval mode, no parameter gradients for the block; the model comes back as it was."""
        with preserved_state(self.model):
            self.model.eval()
            for param in self.model.parameters():
                param.requires_grad_(False)
            yield self


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[nn.Module]:
    """Restore every module's training flag and every parameter's requires_grad on exit."""
    training = [(module, module.training) for module in model.modules()]
    grads = [(param, param.requires_grad) for param in model.parameters()]
    try:
        yield model
    finally:
        for module, flag in training:
            module.training = flag
        for param, flag in grads:
            param.requires_grad_(flag)
