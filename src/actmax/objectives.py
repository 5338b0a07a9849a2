"""What to maximize: targets at any layer, combined with `+`, `-` and scalar `*` (Lucid-style).

An objective is a weighted sum of terms; each term reads one layer and gives one number per
image. Objectives are built before a model is known (`channel("l3", 4)`) and are resolved against
a model when they are evaluated, so the same objective works on a PyTorch or a Keras model.

    unit("l5", 1, pre_activation=True) - unit("l5", 7, pre_activation=True)

raises the logit of 1 while pushing the logit of 7 down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from numbers import Real

import torch

from .adapters.base import LayerRef, ModelAdapter
from .errors import ActmaxError

LayerSpec = str | int
KINDS = ("unit", "channel", "neuron", "direction", "mean", "custom", "diversity")


@dataclass(frozen=True)
class Term:
    """One weighted reading of one layer.

    kind: `unit` (a dense unit, or for spatial layers the channel mean, as keras-vis does),
    `channel` (a channel's mean over all positions), `neuron` (a channel at one position,
    the centre by default), `direction` (the activation's dot product with `vector` in channel
    space, averaged over positions or at one), `mean` (the mean of the whole layer), `custom`
    (`fn(activation)`), `diversity` (how unlike each other the rows of `group` are).
    pre_activation: read the layer's output (False), its activation's input (True), or its
    pre-softmax output, wherever the model has it (None: `logit()`).
    """

    layer: LayerSpec
    kind: str
    index: int | None = None
    position: tuple[int, int] | None = None
    weight: float = 1.0
    pre_activation: bool | None = False
    fn: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, compare=False)
    label: str | None = None
    vector: tuple[float, ...] | None = None
    group: str | None = None

    def describe(self, layer_name: str | None = None) -> str:
        """Short text for titles; `layer_name` replaces an index by the layer's real name."""
        name = self.layer if layer_name is None else layer_name
        if self.pre_activation is None and layer_name is None:
            name = "logits" if self.layer == -1 else f"{self.layer}:logits"
        layer = f"{name}:pre" if self.pre_activation else f"{name}"
        if self.kind == "custom":
            return self.label or f"{layer}:custom"
        if self.kind == "mean":
            return f"mean({layer})"
        if self.kind == "diversity":
            return (
                f"diversity({layer})" if self.group is None else f"diversity({layer}, {self.group})"
            )
        if self.kind == "direction":
            where = "" if self.position is None else f"@{self.position[0]},{self.position[1]}"
            return f"{layer}·v{where}"
        if self.kind == "neuron":
            where = "centre" if self.position is None else f"{self.position[0]},{self.position[1]}"
            return f"{layer}[{self.index}@{where}]"
        return f"{layer}[{self.index}]"


class Objective:
    """A scalar per image to maximize. Build with the helpers below; combine with + - * /."""

    def __init__(self, terms: Iterable[Term], name: str | None = None):
        self.terms = tuple(terms)
        if not self.terms:
            raise ActmaxError("an objective needs at least one term")
        self._name = name

    @property
    def name(self) -> str:
        return self.describe()

    def describe(self, adapter: ModelAdapter | None = None) -> str:
        """The objective as text; with an adapter, layer indices become the model's layer names
        (`logit(3)` on the lab CNN reads `l5:pre[3]`)."""
        if self._name:
            return self._name
        parts = []
        for i, term in enumerate(self.terms):
            w = term.weight
            sign = "-" if w < 0 else ("+" if i else "")
            scale = "" if abs(w) == 1 else f"{abs(w):g}·"
            layer_name = None
            if adapter is not None:  # the layer actually read, e.g. `l5:pre` for logit()
                layer_name = str(adapter.ref(term.layer, term.pre_activation))
                term = replace(term, pre_activation=False)
            text = f"{scale}{term.describe(layer_name)}"
            parts.append(f"{sign} {text}" if i else f"{sign}{text}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def named(self, name: str) -> Objective:
        return Objective(self.terms, name)

    def __add__(self, other: Objective | Real) -> Objective:
        if isinstance(other, Real) and other == 0:  # lets sum() start from 0
            return self
        if not isinstance(other, Objective):
            return NotImplemented
        return Objective(self.terms + other.terms)

    __radd__ = __add__

    def __mul__(self, factor: Real) -> Objective:
        if not isinstance(factor, Real):
            return NotImplemented
        return Objective(replace(t, weight=t.weight * float(factor)) for t in self.terms)

    __rmul__ = __mul__

    def __truediv__(self, factor: Real) -> Objective:
        if not isinstance(factor, Real):
            return NotImplemented
        return self * (1.0 / float(factor))

    def __neg__(self) -> Objective:
        return self * -1.0

    def __sub__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return self + (-other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Objective) and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(self.terms)


def unit(layer: LayerSpec, index: int, *, pre_activation: bool = False) -> Objective:
    """Unit `index` of a dense layer; of a spatial layer, the mean of channel `index`."""
    return Objective([Term(layer, "unit", int(index), pre_activation=pre_activation)])


def units(
    layer: LayerSpec,
    indices: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    pre_activation: bool = False,
) -> Objective:
    """A weighted sum of units (keras-vis' `filter_indices=[1, 7]` is the unweighted sum)."""
    indices = list(indices)
    weights = [1.0] * len(indices) if weights is None else [float(w) for w in weights]
    if len(weights) != len(indices):
        raise ActmaxError(f"{len(indices)} indices but {len(weights)} weights")
    pairs = zip(indices, weights, strict=True)
    return sum((w * unit(layer, i, pre_activation=pre_activation) for i, w in pairs), start=0)


def logit(index: int, layer: LayerSpec = -1) -> Objective:
    """The `index`-th pre-softmax output (a class's logit) of `layer`, the model untouched.

    index: the class (output unit).
    layer: a layer name or index; default -1, the layer that makes the model's output (found
        from the forward pass, not the last one registered).

    On every kind of model: a layer that returns logits (a `nn.Linear`, a Keras Dense with a
    linear activation, an ONNX Gemm) is read at its output; a final softmax (an `nn.Softmax`
    module, a Keras softmax activation or layer, an ONNX Softmax) is read at its input, as
    keras-vis' "swap softmax for linear" did. A softmax computed inside `forward` cannot be
    read around: an output whose rows are a probability distribution is refused with an error
    that says how to fix the model, never silently optimized.
    """
    return Objective([Term(layer, "unit", int(index), pre_activation=None)])


def channel(
    layer: LayerSpec,
    index: int,
    *,
    at: tuple[int, int] | None = None,
    pre_activation: bool = False,
) -> Objective:
    """The mean of one channel of a convolutional layer over all positions, or its value at
    one spatial position `at` (y, x) (the same as `neuron(layer, index, y, x)`)."""
    if at is not None:
        return neuron(layer, index, at[0], at[1], pre_activation=pre_activation)
    return Objective([Term(layer, "channel", int(index), pre_activation=pre_activation)])


def neuron(
    layer: LayerSpec,
    index: int,
    y: int | None = None,
    x: int | None = None,
    *,
    pre_activation: bool = False,
) -> Objective:
    """One channel at a chosen spatial position (y, x); the centre of the map when `y` and
    `x` are not given."""
    position = None if y is None and x is None else (int(y or 0), int(x or 0))
    return Objective(
        [Term(layer, "neuron", int(index), position=position, pre_activation=pre_activation)]
    )


def layer_mean(layer: LayerSpec, *, pre_activation: bool = False) -> Objective:
    """The mean of every unit of a layer (keras-vis' `filter_indices=None`)."""
    return Objective([Term(layer, "mean", pre_activation=pre_activation)])


def custom(
    layer: LayerSpec,
    fn: Callable[[torch.Tensor], torch.Tensor],
    name: str | None = None,
    *,
    pre_activation: bool = False,
) -> Objective:
    """Any differentiable `fn(activation) -> (N,)` of a layer's (channels-first) activation."""
    return Objective([Term(layer, "custom", pre_activation=pre_activation, fn=fn, label=name)])


def direction(
    layer: LayerSpec,
    vector: Sequence[float] | torch.Tensor,
    *,
    at: tuple[int, int] | None = None,
    pre_activation: bool = False,
) -> Objective:
    """A direction in channel space: the dot product of the layer's activation (one vector of
    channels per position) with `vector`, averaged over positions, or at position `at` (y, x).
    `direction(layer, e_k)` with a one-hot `e_k` is `channel(layer, k)`."""
    values = torch.as_tensor(vector, dtype=torch.float64).flatten()
    if values.numel() == 0 or not torch.isfinite(values).all():
        raise ActmaxError("direction() needs a non-empty vector of finite numbers")
    position = None if at is None else (int(at[0]), int(at[1]))
    return Objective(
        [
            Term(
                layer,
                "direction",
                position=position,
                pre_activation=pre_activation,
                vector=tuple(float(v) for v in values),
            )
        ]
    )


def diversity(
    layer: LayerSpec, group: str | None = None, *, pre_activation: bool = False
) -> Objective:
    """Lucid's diversity: how unlike each other the rows of a group are at `layer`, as minus
    the mean cosine similarity of each row's Gram matrix (channel x channel) with the others'.

    Add it to the objectives of several rows, e.g.
    `[channel("l3", 4) + 0.5 * diversity("l3") for _ in range(4)]`: the rows whose objectives
    hold the same diversity term (same layer and `group`) form one group, and each is pushed away
    from the others. This couples the rows of a group (each row's result depends on the others,
    so a group must be optimized in one call); rows outside the group stay independent.
    """
    return Objective([Term(layer, "diversity", pre_activation=pre_activation, group=group)])


class BatchObjective:
    """Evaluates a different objective on every row of a batch in a few tensor operations.

    Linear terms are compiled, per layer, into one weight mask with a row per image, so the value
    of row i is `sum(mask[i] * activation[i])` whatever mix of targets the batch holds.
    """

    def __init__(self, objectives: Sequence[Objective], adapter: ModelAdapter):
        if not objectives:
            raise ActmaxError("no objectives given")
        self.objectives = list(objectives)
        self.adapter = adapter
        self._rows: list[list[tuple[LayerRef, Term]]] = [
            [(adapter.ref(t.layer, t.pre_activation), t) for t in obj.terms] for obj in objectives
        ]
        self.refs = sorted({ref for row in self._rows for ref, _ in row}, key=str)
        # rows coupled by a diversity term: (layer, group) -> [(row, weight)]
        self._groups: dict[tuple[LayerRef, str | None], list[tuple[int, float]]] = {}
        for row, terms in enumerate(self._rows):
            for ref, term in terms:
                if term.kind == "diversity":
                    self._groups.setdefault((ref, term.group), []).append((row, term.weight))
        self._masks: dict[tuple, torch.Tensor] | None = None
        self._signature: tuple | None = None

    def __len__(self) -> int:
        return len(self.objectives)

    def coupled(self) -> list[list[int]]:
        """The groups of rows that a diversity term couples (each sorted); other rows are
        independent of every other row."""
        return [sorted({row for row, _ in members}) for members in self._groups.values()]

    def _build_masks(self, acts: dict[LayerRef, torch.Tensor]) -> dict[tuple, torch.Tensor]:
        """Masks keyed by (ref, 'reduced' | 'full'); reduced masks act on channel means."""
        masks: dict[tuple, torch.Tensor] = {}
        n = len(self.objectives)
        for row, terms in enumerate(self._rows):
            for ref, term in terms:
                if term.kind in ("custom", "diversity"):
                    continue
                act = acts[ref]
                shape = tuple(act.shape[1:])
                spatial = len(shape) > 1
                validate_term(term, ref, shape)
                if term.kind == "mean":
                    key = (ref, "full")
                    masks.setdefault(key, act.new_zeros((n, *shape)))
                    masks[key][row] += term.weight / max(1, act[0].numel())
                elif term.kind == "direction" and term.position is not None:
                    key = (ref, "full")
                    masks.setdefault(key, act.new_zeros((n, *shape)))
                    vector = torch.tensor(term.vector, dtype=act.dtype, device=act.device)
                    at = (slice(None), *term.position)[: len(shape)]
                    masks[key][(row, *at)] += term.weight * vector
                elif term.kind == "direction":
                    key = (ref, "reduced" if spatial else "full")
                    masks.setdefault(key, act.new_zeros((n, shape[0])))
                    vector = torch.tensor(term.vector, dtype=act.dtype, device=act.device)
                    masks[key][row] += term.weight * vector
                elif term.kind == "neuron":
                    key = (ref, "full")
                    masks.setdefault(key, act.new_zeros((n, *shape)))
                    y, x = term.position or (shape[1] // 2, shape[2] // 2 if len(shape) > 2 else 0)
                    masks[key][(row, term.index, y, x)[: 1 + len(shape)]] += term.weight
                else:  # unit, or channel mean of a spatial layer
                    key = (ref, "reduced" if spatial else "full")
                    masks.setdefault(key, act.new_zeros((n, shape[0])))
                    masks[key][row, term.index] += term.weight
        return masks

    def __call__(self, acts: dict[LayerRef, torch.Tensor]) -> torch.Tensor:
        """Per-row objective values, shape (N,)."""
        n = len(self.objectives)
        any_act = next(iter(acts.values()))
        if any_act.shape[0] != n:
            raise ActmaxError(f"batch has {any_act.shape[0]} rows but {n} objectives")
        signature = tuple((str(r), tuple(a.shape), a.dtype, a.device) for r, a in acts.items())
        if self._masks is None or signature != self._signature:
            self._masks, self._signature = self._build_masks(acts), signature
        total = any_act.new_zeros(n)
        for (ref, form), mask in self._masks.items():
            act = acts[ref]
            if form == "reduced":
                act = act.flatten(2).mean(2)
            total = total + (mask * act).flatten(1).sum(1)
        for row, terms in enumerate(self._rows):
            for ref, term in terms:
                if term.kind == "custom":
                    value = term.fn(acts[ref][row : row + 1]).reshape(-1)
                    total = total + term.weight * torch.nn.functional.pad(value, (row, n - row - 1))
        for (ref, _), members in self._groups.items():
            rows = torch.tensor([row for row, _ in members], device=any_act.device)
            weights = any_act.new_tensor([weight for _, weight in members])
            total = total.index_add(0, rows, weights * gram_diversity(acts[ref][rows]))
        return total


def gram_diversity(act: torch.Tensor) -> torch.Tensor:
    """Per row of `act` (G, C, ...): minus the summed cosine similarity of its channel Gram
    matrix with every other row's, divided by G (Lucid's diversity, split over the rows)."""
    g = act.shape[0]
    features = act.reshape(g, act.shape[1], -1)
    grams = torch.nn.functional.normalize((features @ features.transpose(1, 2)).flatten(1), dim=1)
    similarity = grams @ grams.T
    return -(similarity.sum(1) - similarity.diagonal()) / g


def validate_term(term: Term, ref: LayerRef, shape: tuple[int, ...]) -> None:
    """Check a term against the activation shape it will read, with an error that says why."""
    if term.kind in ("channel", "neuron") and len(shape) < 2:
        raise ActmaxError(
            f"{term.kind}() needs a layer with spatial positions; {ref} has shape {shape} "
            "(use unit() for dense layers)"
        )
    if term.kind in ("unit", "channel", "neuron"):
        count = shape[0]
        if not 0 <= term.index < count:
            what = "units" if len(shape) == 1 else "channels"
            raise ActmaxError(
                f"index {term.index} is out of range for {ref}: it has {count} {what} "
                f"(0..{count - 1})"
            )
    if term.kind == "direction" and len(term.vector) != shape[0]:
        raise ActmaxError(
            f"the direction has {len(term.vector)} values but {ref} has {shape[0]} channels"
        )
    if term.kind == "direction" and term.position is not None and len(shape) < 2:
        raise ActmaxError(f"direction(at=...) needs a layer with spatial positions; {ref} has none")
    if term.kind in ("neuron", "direction") and term.position is not None:
        for axis, (pos, size) in enumerate(zip(term.position, shape[1:], strict=False)):
            if not 0 <= pos < size:
                raise ActmaxError(
                    f"position {term.position} is outside {ref}'s {shape[1:]} map "
                    f"(axis {axis} has 0..{size - 1})"
                )
