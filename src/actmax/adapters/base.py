"""The adapter contract and the parts every adapter shares (name/index lookup, model hygiene)."""

from __future__ import annotations

import copy
import difflib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ActmaxError, LayerNotFoundError
from .isolation import isolated_copy
from .preprocess import Preprocess

#: tolerance of the test "these rows are a probability distribution"
SIMPLEX_TOLERANCE = 1e-3


@dataclass(frozen=True)
class LayerRef:
    """A layer's output, or with `pre_activation=True` the input of its activation (the logits).

    Attributes:
        name: the layer's canonical name.
        pre_activation: read the input of the layer's activation instead of its output.
        logits: a reference made for `logit()`: when it reads a layer's output, the adapter
            refuses an output that is a probability distribution (a softmax computed inside
            `forward`), which has no logits to read.
    """

    name: str
    pre_activation: bool = False
    logits: bool = False

    def __str__(self) -> str:
        return f"{self.name}:pre" if self.pre_activation else self.name


class RepeatedCallError(ActmaxError):
    """A recorded module ran more than once in one forward pass, so it has no single activation.

    Args:
        calls: each such reference, with the number of times it ran (kept as `calls`).
    """

    def __init__(self, calls: dict[LayerRef, int]):
        self.calls = dict(calls)
        parts = []
        for ref, count in sorted(calls.items(), key=lambda item: str(item[0])):
            around = ref.name.rsplit(".", 1)[0] if "." in ref.name else None
            hint = f"the block around it ({around!r}) or " if around else ""
            parts.append(
                f"module {ref.name!r} runs {count} times in one forward pass (the model reuses "
                f"it), so it has no single activation to read: target {hint}a module that runs once"
            )
        super().__init__("; ".join(parts))


class ModelAdapter(ABC):
    """Uniform access to one model. Index 0 of `layer_names()` is the input, as in Keras.

    Make one with `as_adapter` (or `load` for a path). Layers are addressed by name or by
    Keras-style index; activations are always channels-first.

    Attributes:
        model: the wrapped model (a torch module; for Keras, the Keras model).
        input_shape: one input's shape (C, H, W), or None when the model does not say it.
        preprocess: a differentiable function applied to every input in front of the model:
            images are optimized, explained and shown in pixel space while the model gets what
            it was trained on (e.g. `Normalize(mean, std)`).
        concurrent_recorder: whether `recorder()`'s forward function may be called from
            several threads at once.
    """

    model: nn.Module
    input_shape: tuple[int, ...] | None
    preprocess: Preprocess | None = None
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
        """Forward `x` and return the output and the requested activations.

        Args:
            x: a channels-first batch, in pixel space (before `preprocess`).
            refs: the activations to return, by reference.
        """

    @abstractmethod
    def module(self, name: str) -> nn.Module | None:
        """The module behind a layer name (None for the input).

        Args:
            name: a name from `all_names()`.
        """

    @contextmanager
    def recorder(
        self, refs: Iterable[LayerRef], *, stop_early: bool = False
    ) -> Iterator[Callable[[torch.Tensor], tuple[torch.Tensor, dict[LayerRef, torch.Tensor]]]]:
        """A `run`-like forward function for many calls in a row (an optimization loop).

        Args:
            refs: the activations every call returns.
            stop_early: allow a call to end the forward pass once `refs` are recorded (its
                output is then None); an adapter that cannot ignores it.

        This default calls `run` every time. An adapter may instead set itself up once for the
        whole block (e.g. register hooks once) and, with `concurrent_recorder = True`, allow
        calls from several threads at once.
        """
        refs = list(refs)
        yield lambda x: self.run(x, refs)

    def model_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the model is given for some pixels: `preprocess(x)`, if any.

        Args:
            x: a channels-first batch in pixel space.
        """
        return x if self.preprocess is None else self.preprocess(x)

    def has_pre_activation(self, layer: str | int) -> bool:
        """Whether `ref(layer, pre_activation=True)` can be read (the layer has an activation).

        Args:
            layer: a layer name or Keras-style index.
        """
        return False

    def output_layer(self) -> str:
        """The layer that makes the model's output, which index -1 names.

        This default is the last layer; adapters that can follow the forward pass say which
        layer really produces the output.
        """
        return self.layer_names()[-1]

    def logit_ref(self, layer: str | int = -1) -> LayerRef:
        """Where `logit()` reads a layer's pre-softmax output.

        Args:
            layer: a layer name or Keras-style index (default: the layer that makes the
                output).

        A layer with a separate activation (a softmax) is read before it; any other layer is
        read at its output, and that output is refused at run time if it is a probability
        distribution (see `check_logits`).
        """
        name = self.resolve(layer)
        if name == self.input_name:
            raise ActmaxError("the input has no logits; target a layer of the model")
        if self.has_pre_activation(name):
            return LayerRef(name, True, logits=True)
        return LayerRef(name, False, logits=True)

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
        """Canonical layer name for a name or a Keras-style index, with an error that helps.

        Args:
            layer: a name from `all_names()`, or an index into `layer_names()` (0 is the
                input); -1 is the layer that makes the model's output (`output_layer()`), which
                need not be the last one registered.

        Raises:
            LayerNotFoundError: no such layer; the message lists close matches and the
                layers there are.
        """
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
            return self.output_layer() if layer == -1 else names[layer]
        if layer in names or layer in self.all_names():
            return layer
        raise LayerNotFoundError(self._unknown_name(layer))

    def _unknown_name(self, layer: str) -> str:
        names = self.layer_names()
        every = list(dict.fromkeys([*names, *self.all_names()]))
        close = difflib.get_close_matches(layer, every, n=5, cutoff=0.6)
        message = f"no layer named {layer!r}"
        if close:
            message += f"; close matches: {', '.join(close)}"
        message += f"; the layers are: {', '.join(names)}"
        nested = [name for name in every if name not in names]
        if nested:
            more = f" ... ({len(nested)} in all)" if len(nested) > 12 else ""
            shown = ", ".join(nested[:12]) + more
            message += f"; nested modules: {shown}"
        return message

    def index(self, name: str) -> int:
        """Keras-style index of a layer name (keras-vis' `find_layer_idx`).

        Args:
            name: one of `layer_names()`.
        """
        names = self.layer_names()
        if name not in names:
            raise LayerNotFoundError(self._unknown_name(name))
        return names.index(name)

    def ref(self, layer: str | int, pre_activation: bool | None = False) -> LayerRef:
        """The reference to one activation of the model.

        Args:
            layer: a layer name or Keras-style index.
            pre_activation: False reads the layer's output, True the input of its activation;
                None reads its pre-softmax output (`logit_ref`).
        """
        if pre_activation is None:
            return self.logit_ref(layer)
        return LayerRef(self.resolve(layer), bool(pre_activation))

    def over(self, model: nn.Module) -> ModelAdapter:
        """The same adapter (names, input, preprocessing) over another copy of its model.

        Args:
            model: the copy (e.g. from `isolated_copy`).
        """
        clone = copy.copy(self)
        clone.model = model
        return clone

    @contextmanager
    def isolated(
        self,
        device: str | torch.device | None = None,
        memory_format: torch.memory_format | None = None,
    ) -> Iterator[ModelAdapter]:
        """An adapter over a frozen copy of the model; the caller's model is never touched.

        Args:
            device: where the copy's tensors live for the block (None: where they are).
            memory_format: a layout for the copy's 4-D tensors, e.g. `torch.channels_last` on
                the CPU (None: as they are).

        The yielded adapter runs a structural copy of the module tree (`isolated_copy`): new
        module objects in eval mode, parameters without gradients over the same storage (moved
        copies only where `device` or `memory_format` asks), its own hook tables. Hooks,
        eval mode and moved weights live on the copy, so another thread that uses or reads the
        caller's model at the same time sees it exactly as it was. Use it for every call:

            with adapter.isolated(device, torch.channels_last) as view:
                with view.recorder(refs) as forward: ...
        """
        yield self.over(isolated_copy(self.model, device, memory_format))

    @contextmanager
    def frozen(self) -> Iterator[ModelAdapter]:
        """Eval mode, no parameter gradients for the block; the model comes back as it was.

        This changes the caller's model for the length of the block (another thread sees the
        change); `isolated()` gives the same without touching it.
        """
        with preserved_state(self.model):
            self.model.eval()
            for param in self.model.parameters():
                param.requires_grad_(False)
            yield self


def distribution_kind(value: object) -> str | None:
    """What kind of probability distribution the rows of `value` are, if they are one.

    value: an activation, (N, classes). Returns "probabilities (a softmax)" when every entry is
    non-negative and each row sums to 1, "log-probabilities (a log_softmax)" when every entry is
    non-positive and each row's exponentials sum to 1, else None (also for other shapes).
    """
    if not isinstance(value, torch.Tensor) or value.ndim != 2 or value.shape[1] < 2:
        return None
    if not value.is_floating_point():
        return None
    with torch.no_grad():
        v = value.detach().double()
        ones = torch.ones(len(v), dtype=v.dtype, device=v.device)
        if bool((v >= 0).all()) and torch.allclose(v.sum(1), ones, atol=SIMPLEX_TOLERANCE):
            return "probabilities (a softmax)"
        if bool((v <= 0).all()) and torch.allclose(v.exp().sum(1), ones, atol=SIMPLEX_TOLERANCE):
            return "log-probabilities (a log_softmax)"
    return None


def logits_error(where: str, kind: str, suggestion: str | None = None) -> ActmaxError:
    """The one error for logits asked of a probability distribution, with the fix.

    where: what was read (e.g. "the output of 'fc2'"). kind: `distribution_kind`'s answer.
    suggestion: the layer that most likely computes the logits, named in the fix.
    """
    layer = suggestion or "<the layer that computes the logits>"
    return ActmaxError(
        f"{where} is {kind}, computed inside the model, so its logits cannot be read: end the "
        "model with an nn.Softmax module instead of calling softmax in forward() (or return the "
        "logits and apply softmax outside the model), or name the layer that computes the "
        f"logits, e.g. logit(c, layer={layer!r})"
    )


def check_logits(ref: LayerRef, value: object, suggestion: str | None = None) -> None:
    """Refuse to read a probability distribution as logits (see `distribution_kind`).

    ref: the reference `value` was recorded for; only `logits=True` references that read a
        layer's output are checked. value: the recorded activation, (N, classes).
    suggestion: the layer that most likely computes the logits, named in the error.
    """
    if not ref.logits or ref.pre_activation:
        return
    kind = distribution_kind(value)
    if kind is not None:
        raise logits_error(f"the output of {ref.name!r}", kind, suggestion)


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
