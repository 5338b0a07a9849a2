"""What an atlas covers and how its work is cut into shards.

The units are every channel (of a feature map) or unit (of a dense layer) of the chosen layers,
numbered in one global order. The work is cut into shards that can run anywhere and in any order:

- `optimize`: a block of units of one layer, all seeds, in one batched `visualize` call;
- `scan`: a chunk of the data: each unit's score on every image, reduced to its top and bottom
  images and its range;
- `histogram`: the same chunk again, each unit's scores counted into bins over its range (known
  once every scan shard is merged);
- `maps`: a block of units: the activation maps of their top and bottom images.

A shard's result depends only on the plan and the shard, never on where or when it ran.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..adapters import ModelAdapter
from ..errors import ActmaxError
from ..objectives import Objective, channel, diversity, unit
from ..recipes import get_recipe

OPTIMIZE, SCAN, HISTOGRAM, MAPS = "optimize", "scan", "histogram", "maps"
DATA_KINDS = (SCAN, HISTOGRAM)
UNIT_KINDS = (OPTIMIZE, MAPS)
FIRST_STAGE = (SCAN,)  # what the other kinds need merged first
SECOND_STAGE = (OPTIMIZE, HISTOGRAM, MAPS)


@dataclass(frozen=True)
class AtlasSettings:
    """How every unit is drawn and measured; part of the atlas' identity (see `fingerprint`).

    seeds: feature visualizations per unit (seeds 0 .. seeds-1). diversity: weight of Lucid's
    diversity term that pushes a unit's seeds apart (0: none, each seed on its own).
    iterations: optimization steps (None: the recipe's). top: real inputs shown per unit, for
    the highest and for the lowest scores. bins: histogram bins. block: units per optimize or
    maps shard. chunk: images per data shard, a multiple of `batch`, the images of one forward
    pass (chunks made of whole batches give every image the same scores however the data is
    cut).
    """

    seeds: int = 3
    diversity: float = 0.0
    iterations: int | None = None
    recipe: str = "actmax"
    top: int = 9
    bins: int = 40
    block: int = 32
    chunk: int = 2048
    batch: int = 256
    input_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        for name in ("seeds", "top", "bins", "block", "chunk", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ActmaxError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.iterations is not None and (
            isinstance(self.iterations, bool)
            or not isinstance(self.iterations, int)
            or self.iterations < 1
        ):
            raise ActmaxError(f"iterations must be a whole number >= 1, got {self.iterations!r}")
        if self.chunk % self.batch:
            raise ActmaxError(
                f"images per shard ({self.chunk}) must be a multiple of the forward batch "
                f"({self.batch})"
            )
        if not (isinstance(self.diversity, int | float) and 0 <= self.diversity < math.inf):
            raise ActmaxError(f"diversity must be a number >= 0, got {self.diversity!r}")
        object.__setattr__(self, "diversity", float(self.diversity))
        get_recipe(self.recipe)  # an unknown recipe fails here, before any work
        lo, hi = self.input_range
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ActmaxError(f"input_range must be (lo, hi) with lo < hi, got {self.input_range}")
        object.__setattr__(self, "input_range", (float(lo), float(hi)))

    @property
    def steps(self) -> int:
        return (
            self.iterations if self.iterations is not None else get_recipe(self.recipe).iterations
        )


@dataclass(frozen=True)
class Layer:
    """One layer of the atlas: its units are `first .. first + units - 1` in the global order.

    shape: the activation of one input (channels first); spatial layers have (C, H, W).
    pre_activation: the layer ends in a softmax, so its units are read before it (the logits).
    slug: the layer's name made safe for file names and URLs.
    """

    name: str
    shape: tuple[int, ...]
    pre_activation: bool
    slug: str
    first: int

    @property
    def units(self) -> int:
        return self.shape[0]

    @property
    def spatial(self) -> bool:
        return len(self.shape) > 1

    @property
    def kind(self) -> str:
        if self.pre_activation:
            return "logits"
        return "channels" if self.spatial else "units"


@dataclass(frozen=True)
class Unit:
    """One unit: channel `index` of a feature map (its mean over positions) or a dense unit."""

    layer: Layer
    index: int

    @property
    def number(self) -> int:
        """Position in the atlas' global order."""
        return self.layer.first + self.index

    def objective(self) -> Objective:
        make = channel if self.layer.spatial else unit
        return make(self.layer.name, self.index, pre_activation=self.layer.pre_activation)

    def seeded_objective(self, weight: float) -> Objective:
        """What each seed maximizes: the unit, plus `weight` times the diversity of the unit's
        seeds at its layer (they form one group, so they must be optimized in one call)."""
        if weight == 0:
            return self.objective()
        pre, group = self.layer.pre_activation, f"unit {self.number}"
        return self.objective() + weight * diversity(self.layer.name, group, pre_activation=pre)


@dataclass(frozen=True)
class Shard:
    """One piece of work: units `start .. stop-1` (optimize, maps) or images (scan, histogram)."""

    kind: str
    number: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.number:05d}"


@dataclass(frozen=True)
class Plan:
    """Everything that defines an atlas; the same plan gives the same shards and results."""

    layers: tuple[Layer, ...]
    settings: AtlasSettings
    image_shape: tuple[int, ...]
    images: int
    model_hash: str
    data_hash: str
    shards: tuple[Shard, ...] = field(default=(), compare=False)

    @property
    def units(self) -> list[Unit]:
        return [Unit(layer, k) for layer in self.layers for k in range(layer.units)]

    @property
    def unit_count(self) -> int:
        return sum(layer.units for layer in self.layers)

    def layer_of(self, number: int) -> Layer:
        for layer in self.layers:
            if layer.first <= number < layer.first + layer.units:
                return layer
        raise IndexError(number)

    def of_kind(self, *kinds: str) -> list[Shard]:
        return [s for s in self.shards if s.kind in kinds]

    def describe(self) -> dict:
        """The plan as JSON-able data: what `fingerprint` hashes and `atlas.json` records."""
        return {
            "settings": asdict(self.settings),
            "layers": [
                {"name": x.name, "shape": list(x.shape), "pre_activation": x.pre_activation}
                for x in self.layers
            ],
            "image_shape": list(self.image_shape),
            "images": self.images,
            "model": self.model_hash,
            "data": self.data_hash,
        }

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_plan(
    adapter: ModelAdapter,
    images: np.ndarray,
    layers: str | Sequence[str | int] = "all",
    settings: AtlasSettings | None = None,
) -> Plan:
    """The atlas of `layers` ("all": every layer with weights) over `images` (N, C, H, W)."""
    settings = settings or AtlasSettings()
    images = np.asarray(images)
    if images.ndim < 3 or len(images) == 0:
        raise ActmaxError(f"the data must be images (N, C, H, W), got shape {images.shape}")
    expected = adapter.input_shape
    if expected is not None and tuple(expected) != tuple(images.shape[1:]):
        raise ActmaxError(
            f"the data's images are {tuple(images.shape[1:])} but the model takes {tuple(expected)}"
        )
    names = select_layers(adapter, layers)
    shapes = activation_shapes(adapter, names, images[:1])
    slugs = slugify(names)
    built, first = [], 0
    for name, slug in zip(names, slugs, strict=True):
        shape = shapes[name]
        pre = ends_in_softmax(adapter, name)
        if pre:
            shape = activation_shapes(adapter, [name], images[:1], pre_activation=True)[name]
        built.append(Layer(name, shape, pre, slug, first))
        first += shape[0]
    plan = Plan(
        layers=tuple(built),
        settings=settings,
        image_shape=tuple(int(s) for s in images.shape[1:]),
        images=len(images),
        model_hash=model_hash(adapter),
        data_hash=array_hash(images),
    )
    return _with_shards(plan)


def _with_shards(plan: Plan) -> Plan:
    s = plan.settings
    shards: list[Shard] = []
    for kind in (OPTIMIZE, MAPS):  # the longest first, so a cluster starts on them first
        number = 0
        for layer in plan.layers:  # blocks never cross layers: one shape per block
            for start in range(layer.first, layer.first + layer.units, s.block):
                stop = min(start + s.block, layer.first + layer.units)
                shards.append(Shard(kind, number, start, stop))
                number += 1
    for kind in (SCAN, HISTOGRAM):
        for number, start in enumerate(range(0, plan.images, s.chunk)):
            shards.append(Shard(kind, number, start, min(start + s.chunk, plan.images)))
    return Plan(**{**plan.__dict__, "shards": tuple(shards)})


def select_layers(adapter: ModelAdapter, layers: str | Sequence[str | int]) -> list[str]:
    """Layer names in the model's order; "all" means every layer that has weights of its own."""
    if isinstance(layers, str) and layers.strip() == "all":
        names = [name for name in adapter.layer_names()[1:] if _has_weights(adapter, name)]
        if not names:
            raise ActmaxError("the model has no layer with weights; name the layers to show")
        return names
    if isinstance(layers, str):
        layers = [item.strip() for item in layers.split(",") if item.strip()]
    if not layers:
        raise ActmaxError("no layers given: name them (l1,l2) or say all")
    names: list[str] = []
    for layer in layers:
        spec = int(layer) if isinstance(layer, str) and re.fullmatch(r"-?\d+", layer) else layer
        name = adapter.resolve(spec)
        if name == adapter.input_name:
            raise ActmaxError(f"{name!r} is the model's input, not a layer with units")
        if name not in names:
            names.append(name)
    return names


def _has_weights(adapter: ModelAdapter, name: str) -> bool:
    module = adapter.module(name)
    return isinstance(module, nn.Module) and any(True for _ in module.parameters())


def ends_in_softmax(adapter: ModelAdapter, name: str) -> bool:
    """Whether a layer applies a softmax: then its units are read before it, as logits."""
    if not adapter.has_pre_activation(name):
        return False
    module = adapter.module(name)
    activation = getattr(module, "activation", module)
    return isinstance(activation, nn.Softmax | nn.LogSoftmax)


def activation_shapes(
    adapter: ModelAdapter, names: Sequence[str], probe: np.ndarray, pre_activation: bool = False
) -> dict[str, tuple[int, ...]]:
    """Each layer's activation shape for one input (without the batch axis)."""
    refs = {adapter.ref(name, pre_activation): name for name in names}
    x = torch.as_tensor(np.asarray(probe), dtype=adapter.dtype, device=adapter.device)
    with adapter.isolated() as view, torch.no_grad():
        _, acts = view.run(x, list(refs))
    shapes = {}
    for ref, name in refs.items():
        shape = tuple(int(s) for s in acts[ref].shape[1:])
        if not shape:
            raise ActmaxError(f"layer {name!r} gives one number per input; it has no units")
        shapes[name] = shape
    return shapes


def slugify(names: Sequence[str]) -> list[str]:
    """File-safe, distinct names: other characters become `_`, a clash gets a number."""
    out: list[str] = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "layer"
        slug, n = base, 2
        while slug.lower() in {s.lower() for s in out}:
            slug, n = f"{base}-{n}", n + 1
        out.append(slug)
    return out


def model_hash(adapter: ModelAdapter) -> str:
    """A digest of the model's tensors: resuming with other weights is refused."""
    digest = hashlib.sha256()
    for name, tensor in adapter.model.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{data.dtype}:{tuple(data.shape)};".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def array_hash(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype}:{array.shape};".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]
