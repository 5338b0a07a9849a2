"""Every activation-maximization experiment of the lab, batched into three engine calls.

1, 2. Each recipe: every class at every tv_weight of its sweep (which also gives output 0's row,
   the class images at the chosen tv_weight and, in keras-vis' sweep, the lab's own images at its
   eyeballed 0.5), every class through the softmax, and every class's logit at the same settings
   as the softmax rows (the evidence for its failure).
3. The main recipe at its measured tv_weight: pairs (a+b), contrasts (a-b, b-a) and the units of
   l1..l4 (they need the chosen tv_weight, so they wait for the sweep's measures).

Each recipe sweeps tv_weight on its own scale. keras-vis optimizes an unbounded input with
steps of 1 (on a [0, 1] image), so its pixels grow large and total variation with them; actmax
keeps the input in [0, 1], where total variation is about a hundred times smaller. actmax's sweep
is therefore the lab's values times 100.

Every image is measured as it is displayed (`VisualizationResult.images`), by `RealismMeter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..adapters import as_adapter
from ..engine import VisualizationResult, visualize
from ..errors import ActmaxError
from ..objectives import Objective, logit, unit
from ..parallel import cpu_threads
from ..recipes import get_recipe
from .data import DATASETS
from .realism import Measures, RealismMeter

LAB_TV_WEIGHTS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
LAB_TV_CHOICE = 0.5  # the lab's "seems to be the best tv_weight", in keras-vis' units
LAB_RECIPE = "keras-vis"
TV_WEIGHTS = {"keras-vis": LAB_TV_WEIGHTS, "actmax": tuple(100 * t for t in LAB_TV_WEIGHTS)}
QUICK_SWEEP = (2, 5, 7)  # --quick sweeps these entries of each recipe's default list
# Per data set, two pairs of classes that look alike and two that do not.
PAIR_KINDS = {
    "mnist": {(1, 7): "similar", (4, 9): "similar", (0, 1): "different", (7, 8): "different"},
    # T-shirt/top + Shirt, Pullover + Coat; Trouser + Bag, Dress + Sneaker
    "fashion-mnist": {
        (0, 6): "similar",
        (2, 4): "similar",
        (1, 8): "different",
        (3, 7): "different",
    },
}
LAB_PAIRS = tuple(PAIR_KINDS["mnist"])
LAB_LAYERS = ("l1", "l2", "l3", "l4")
RECIPES = ("actmax", "keras-vis")
DEAD = 1e-6  # a unit whose maximized value stays at or below this never fired
# The engine's many small convolutions on a 28x28 batch run faster on one CPU thread than on
# two: on the 2-core machine 100 images x 100 steps took 1.8 s on one thread against 5-17 s on
# two, and 3.6 s against 52-66 s with another process busy. One thread also makes the images the
# same whatever the machine's thread count.
VISUALIZE_THREADS = 1

RULE = (
    "among the tv_weights at which every class image still drives its logit at least as high as "
    "the best real test {item} of its class (activation >= 1), take the one whose images the "
    "independent classifier recognizes most often, then with the highest mean realism, then the "
    "highest mean confidence; if no tv_weight keeps every class at 1 or more, take the one with "
    "the strongest weakest class."
)


@dataclass(frozen=True)
class LabSettings:
    """What a lab run does; the defaults are the lab's settings."""

    epochs: int = 10
    seed: int = 0
    tv_weights: tuple[float, ...] | None = None  # the main recipe's sweep; None: its default
    classes: tuple[int, ...] = tuple(range(10))
    pairs: tuple[tuple[int, int], ...] | None = None  # None: the data set's (`PAIR_KINDS`)
    iterations: int | None = None
    recipe: str = "actmax"
    lab_tv_weight: float = LAB_TV_CHOICE
    sweep_class: int = 0
    layers: tuple[str, ...] = LAB_LAYERS
    quick: bool = False
    train_subset: int | None = None
    device: str | None = None
    dataset: str = "mnist"

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            known = ", ".join(DATASETS)
            raise ActmaxError(f"unknown data set {self.dataset!r}; choose from {known}")
        if self.pairs is None:
            object.__setattr__(self, "pairs", tuple(PAIR_KINDS[self.dataset]))
        k = len(DATASETS[self.dataset].class_names)
        problems = []
        if self.recipe not in RECIPES:
            problems.append(f"unknown recipe {self.recipe!r}; choose from {', '.join(RECIPES)}")
        if self.tv_weights is not None and (
            not self.tv_weights or any(not (t >= 0) for t in self.tv_weights)
        ):
            problems.append(f"tv weights must be one or more numbers >= 0, got {self.tv_weights}")
        if not self.classes or any(not 0 <= c < k for c in self.classes):
            problems.append(f"classes must be numbers 0..{k - 1}, got {self.classes}")
        if len(set(self.classes)) != len(self.classes):
            problems.append(f"classes repeat: {self.classes}")
        for pair in self.pairs:
            if len(pair) != 2 or pair[0] == pair[1] or any(not 0 <= c < k for c in pair):
                problems.append(f"a pair is two different classes 0..{k - 1}, got {pair}")
        if self.iterations is not None and self.iterations < 1:
            problems.append(f"iterations must be >= 1, got {self.iterations}")
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.seed < 0:
            problems.append(f"seed must be >= 0, got {self.seed}")
        if problems:
            raise ActmaxError("; ".join(problems))

    @property
    def other_recipe(self) -> str:
        return next(r for r in RECIPES if r != self.recipe)

    def sweep(self, recipe: str) -> tuple[float, ...]:
        """The tv_weights swept for `recipe`: the user's for the main recipe, else the default."""
        if recipe == self.recipe and self.tv_weights is not None:
            return tuple(float(t) for t in self.tv_weights)
        default = TV_WEIGHTS[recipe]
        return tuple(default[i] for i in QUICK_SWEEP) if self.quick else default

    def pair_kind(self, a: int, b: int) -> str:
        """ "similar" or "different" for the data set's own pairs, else "chosen"."""
        kinds = PAIR_KINDS[self.dataset]
        return kinds.get((a, b), kinds.get((b, a), "chosen"))

    @property
    def rule(self) -> str:
        """The tv_weight rule (`RULE`) as a sentence about this data set."""
        text = RULE.format(item=DATASETS[self.dataset].item)
        return text[0].upper() + text[1:]

    @property
    def sweep_target(self) -> int:
        """Output shown across the tv sweep: the lab's 0, or the first class when 0 is left out."""
        return self.sweep_class if self.sweep_class in self.classes else self.classes[0]


@dataclass
class Images:
    """A block of images with what they were asked to maximize and their measures."""

    images: np.ndarray  # (N, H, W, C) display images in [0, 1]
    titles: list[str]
    objective: np.ndarray  # (N,) the objective's value on the optimized input
    measures: Measures | None = None
    logits: np.ndarray | None = None  # (N, classes) every logit of the displayed image
    span: np.ndarray | None = None  # (N, 2) min and max of each optimized (raw) input

    def batch(self) -> torch.Tensor:
        """The display images as a (N, C, H, W) float batch in [0, 1]."""
        return torch.from_numpy(np.ascontiguousarray(self.images)).permute(0, 3, 1, 2).float()

    def select(self, index: Sequence[int]) -> Images:
        index = list(index)
        return Images(
            images=self.images[index],
            titles=[self.titles[i] for i in index],
            objective=self.objective[index],
            measures=self.measures.select(index) if self.measures is not None else None,
            logits=self.logits[index] if self.logits is not None else None,
            span=self.span[index] if self.span is not None else None,
        )


@dataclass
class LabResults:
    """Everything the report shows: images per section and the numbers for `metrics.json`."""

    metrics: dict = field(default_factory=dict)
    images: dict[str, Images] = field(default_factory=dict)


def displayed(result: VisualizationResult) -> torch.Tensor:
    """The display images as a (N, C, H, W) batch in the model's input range (here [0, 1])."""
    lo, hi = result.input_range
    x = torch.from_numpy(np.ascontiguousarray(result.images)).permute(0, 3, 1, 2)
    return lo + (hi - lo) * x.float()


def _logits(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.logits(x.to(device)).cpu().numpy().astype(np.float64)


def _block(
    result: VisualizationResult,
    rows: Sequence[int],
    model: nn.Module,
    meter: RealismMeter | None,
    targets: Sequence[int] | None,
) -> Images:
    part = result[slice(rows[0], rows[-1] + 1)] if _contiguous(rows) else None
    if part is None:
        raise ActmaxError("internal: rows of a block must be contiguous")
    x = displayed(part)
    raw = part.inputs.flatten(1)
    return Images(
        images=part.images,
        titles=list(part.titles),
        objective=np.asarray(part.activations, dtype=np.float64),
        measures=meter.measure(x, targets) if meter is not None and targets is not None else None,
        logits=_logits(model, x),
        span=torch.stack([raw.min(1).values, raw.max(1).values], 1).double().numpy(),
    )


def _contiguous(rows: Sequence[int]) -> bool:
    return list(rows) == list(range(rows[0], rows[0] + len(rows)))


class Batch:
    """Objectives and per-row loss weights gathered into one engine call, by named blocks."""

    def __init__(self) -> None:
        self.objectives: list[Objective] = []
        self.tv: list[float] = []
        self.lp: list[float | None] = []
        self.blocks: dict[str, tuple[list[int], list[int] | None]] = {}

    def add(
        self,
        name: str,
        objectives: Sequence[Objective],
        tv: float,
        targets: Sequence[int] | None = None,
        lp: float | None = None,
    ) -> None:
        """A block of rows with one tv_weight (and lp_weight; None: the recipe's)."""
        start = len(self.objectives)
        self.objectives.extend(objectives)
        self.tv.extend([float(tv)] * len(objectives))
        self.lp.extend([lp] * len(objectives))
        rows = list(range(start, len(self.objectives)))
        self.blocks[name] = (rows, list(targets) if targets is not None else None)

    def run(
        self,
        model: nn.Module,
        meter: RealismMeter | None,
        recipe: str,
        settings: LabSettings,
        progress: bool,
    ) -> dict[str, Images]:
        default_lp = get_recipe(recipe).lp_weight
        with cpu_threads(VISUALIZE_THREADS):
            result = visualize(
                model,
                self.objectives,
                recipe=recipe,
                iterations=settings.iterations,
                tv_weight=self.tv,
                lp_weight=[default_lp if lp is None else lp for lp in self.lp],
                seed=settings.seed,
                device=settings.device,
                progress=progress,
            )
        return {
            name: _block(result, rows, model, meter, targets)
            for name, (rows, targets) in self.blocks.items()
        }


def choose_tv_weight(
    tv_weights: Sequence[float], summaries: Sequence[dict]
) -> tuple[float, list[float]]:
    """Apply `RULE` to per-tv_weight summaries; returns the choice and the eligible tv_weights."""
    eligible = [
        (tv, s) for tv, s in zip(tv_weights, summaries, strict=True) if s["min_activation"] >= 1
    ]
    if eligible:
        tv, _ = max(
            eligible, key=lambda e: (e[1]["recognized"], e[1]["realism"], e[1]["confidence"])
        )
    else:
        tv, _ = max(zip(tv_weights, summaries, strict=True), key=lambda e: e[1]["min_activation"])
    return float(tv), [float(t) for t, _ in eligible]


def receptive_field(model: nn.Module, layer: str) -> int:
    """Side of the input square one unit of `layer` sees (conv and pool layers in order).

    A dense layer sees the whole input.
    """
    size, jump = 1, 1
    for name, module in model.named_children():
        conv = getattr(module, "conv", module)
        if isinstance(conv, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
            k = conv.kernel_size if isinstance(conv.kernel_size, int) else conv.kernel_size[0]
            s = conv.stride if isinstance(conv.stride, int) else conv.stride[0]
            size += (k - 1) * jump
            jump *= s
        elif hasattr(module, "linear") or isinstance(module, nn.Linear):
            shape = getattr(model, "input_shape", None)
            size = int(max(shape[1:])) if shape else size
        if name == layer:
            return size
    raise ActmaxError(f"no layer named {layer!r}")


def _unit_counts(model: nn.Module, layers: Sequence[str]) -> dict[str, tuple[int, bool]]:
    """Units (channels for conv layers) per layer, and whether the layer is spatial."""
    adapter = as_adapter(model)
    refs = [adapter.ref(name) for name in layers]
    device = next(model.parameters()).device
    with torch.no_grad(), adapter.isolated() as view:
        _, acts = view.run(torch.zeros(1, *model.input_shape, device=device), refs)
    return {ref.name: (int(acts[ref].shape[1]), acts[ref].ndim > 2) for ref in refs}


@torch.no_grad()
def unit_responses(model: nn.Module, x: torch.Tensor, layer: str) -> np.ndarray:
    """(N, units): every unit's response to each image (a channel's mean, or a dense unit)."""
    adapter = as_adapter(model)
    ref = adapter.ref(layer)
    with adapter.isolated() as view:
        _, acts = view.run(x.to(adapter.device, torch.float32), [ref])
    a = acts[ref]
    return (a.flatten(2).mean(2) if a.ndim > 2 else a).cpu().double().numpy()


@torch.no_grad()
def real_unit_maxima(
    model: nn.Module, x: np.ndarray, layers: Sequence[str], batch: int = 1000
) -> dict[str, np.ndarray]:
    """Per unit, the highest value its objective (a channel's mean, or a dense unit) reaches on
    real images `x`: the yardstick for what maximizing it achieves."""
    adapter = as_adapter(model)
    refs = [adapter.ref(name) for name in layers]
    best: dict[str, torch.Tensor] = {}
    with adapter.isolated() as view:
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(np.asarray(x[i : i + batch], dtype=np.float32))
            _, acts = view.run(xb.to(adapter.device), refs)
            for ref in refs:
                a = acts[ref].flatten(2).mean(2) if acts[ref].ndim > 2 else acts[ref]
                top = a.max(0).values.cpu()
                best[ref.name] = torch.maximum(best[ref.name], top) if ref.name in best else top
    return {name: value.double().numpy() for name, value in best.items()}


def _rows_with_tv(measures: Measures, tv: Sequence[float]) -> list[dict]:
    return [dict(row, tv_weight=float(t)) for row, t in zip(measures.rows(), tv, strict=True)]


def _logsumexp(z: np.ndarray) -> np.ndarray:
    top = z.max(-1, keepdims=True)
    return (top + np.log(np.exp(z - top).sum(-1, keepdims=True)))[..., 0]


def _softmax_rows(
    classes: Sequence[int], soft: Images, linear: Images, start: np.ndarray
) -> tuple[list[dict], dict]:
    """Where each softmax image's probability came from, against the logit image.

    A class's probability depends only on its margin `z_c - logsumexp(z_others)`. From the
    mid-grey `start` image (logits `start`), the margin grows by the target's gain minus the
    change of the others' log-sum-exp: the share of the growth that came from lowering the others
    is the evidence that a softmax output rises by pushing the other outputs down.
    """

    def probs(logits: np.ndarray) -> np.ndarray:
        z = np.exp(logits - logits.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)

    p_soft, p_lin = probs(soft.logits), probs(linear.logits)
    rows = []
    for i, c in enumerate(classes):
        others = np.delete(np.arange(soft.logits.shape[1]), c)
        row = {"class": int(c)}
        for prefix, block, p in (("", soft, p_soft), ("linear_", linear, p_lin)):
            z = block.logits[i]
            gain = float(z[c] - start[c])
            others_change = float(_logsumexp(z[others]) - _logsumexp(start[others]))
            margin = gain - others_change
            row.update(
                {
                    f"{prefix}probability": float(p[i, c]),
                    f"{prefix}target_logit": float(z[c]),
                    f"{prefix}mean_other_logit": float(z[others].mean()),
                    f"{prefix}max_other_logit": float(z[others].max()),
                    f"{prefix}target_gain": gain,
                    f"{prefix}others_change": others_change,
                    f"{prefix}margin_gain": margin,
                    f"{prefix}share_from_others": -others_change / margin if margin > 0 else None,
                }
            )
        row["agreement"] = bool(soft.measures.agreement[i])
        row["confidence"] = float(soft.measures.confidence[i])
        rows.append(row)
    keys = [k for k in rows[0] if k not in ("class", "agreement")]
    summary = {}
    for k in keys:
        values = [r[k] for r in rows if r[k] is not None]
        summary[k] = float(np.mean(values)) if values else None
    summary["recognized"] = int(sum(r["agreement"] for r in rows))
    summary["start_target_logit"] = float(np.mean([start[c] for c in classes]))
    return rows, summary


def _sweep_measures(blocks: dict[str, Images], tvs: Sequence[float], column: int) -> dict:
    """A recipe's sweep: the rule's choice, the per-tv_weight summaries, output 0's row."""
    sweep = [blocks[f"sweep:{tv}"] for tv in tvs]
    summaries = [b.measures.summary() for b in sweep]
    chosen, eligible = choose_tv_weight(tvs, summaries)
    realism = [s["realism"] for s in summaries]
    return {
        "tv_weights": list(tvs),
        "per_tv": [dict(tv_weight=tv, **s) for tv, s in zip(tvs, summaries, strict=True)],
        "chosen": chosen,
        "eligible": eligible,
        "chosen_summary": dict(tv_weight=chosen, **summaries[tvs.index(chosen)]),
        "realism_span": [min(realism), max(realism)],
        "target_rows": [
            dict(b.measures.select([column]).rows()[0], tv_weight=tv)
            for b, tv in zip(sweep, tvs, strict=True)
        ],
    }


@dataclass(frozen=True)
class _Lab:
    """What every experiment needs: the model, its yardsticks and the run's settings."""

    model: nn.Module
    meter: RealismMeter
    settings: LabSettings
    progress: bool

    @property
    def classes(self) -> list[int]:
        return list(self.settings.classes)

    @property
    def order(self) -> list[str]:
        """The main recipe first, then the other."""
        return [self.settings.recipe, self.settings.other_recipe]

    def sweep(self, recipe: str) -> list[float]:
        return [float(t) for t in self.settings.sweep(recipe)]

    @property
    def column(self) -> int:
        """The column of the class shown across the tv sweep."""
        return self.classes.index(self.settings.sweep_target)

    def run(self, batch: Batch, recipe: str) -> dict[str, Images]:
        return batch.run(self.model, self.meter, recipe, self.settings, self.progress)


@dataclass
class _Inside:
    """Call 3's images, and how each layer's units were weighed against the regularizers."""

    blocks: dict[str, Images]
    missing: list[int]  # classes of a pair that the sweep did not maximize on their own
    counts: dict[str, tuple[int, bool]]
    real_max: dict[str, np.ndarray]
    scale: dict[str, float]
    tv: dict[str, float]
    lp: dict[str, float]


def run_experiments(
    model: nn.Module,
    meter: RealismMeter,
    settings: LabSettings,
    x_real: np.ndarray,
    progress: bool = False,
) -> LabResults:
    """Run every activation-maximization experiment of the lab and measure the images.

    `x_real`: real test images (a part of the test set), the yardstick of the units inside.
    """
    lab = _Lab(model, meter, settings, progress)
    blocks = {name: _recipe_call(lab, name) for name in lab.order}  # calls 1 and 2
    choice = {name: _sweep_measures(blocks[name], lab.sweep(name), lab.column) for name in RECIPES}
    chosen = choice[settings.recipe]["chosen"]
    chosen_block = blocks[settings.recipe][f"sweep:{chosen}"]
    inside = _inside_call(lab, chosen, x_real)  # call 3

    out = LabResults()
    m = out.metrics
    m["softmax"] = softmax_kept(lab, blocks)  # 1
    m["tv_sweep"] = tv_sweep(lab, choice)  # 2
    m["tv_choice"] = tv_choice(lab, choice)  # 3
    m["classes"] = all_classes(lab, chosen, chosen_block)  # 4
    m["pairs"] = two_outputs(lab, chosen, chosen_block, inside, out.images)  # 5
    m["layers"] = inside_the_network(lab, chosen, inside, len(x_real))  # 6
    m["recipes"], m["acceptance"] = recipes_side_by_side(lab, blocks, choice, out.images)  # 7
    out.images.update(_figure_images(lab, blocks, chosen_block, inside))
    return out


def _recipe_call(lab: _Lab, name: str) -> dict[str, Images]:
    """Calls 1 and 2: a recipe's sweep, and every class through the softmax and its logit."""
    classes = lab.classes
    batch = Batch()
    for tv in lab.sweep(name):
        batch.add(f"sweep:{tv}", [logit(c).named(f"{c}") for c in classes], tv, classes)
    default_tv = get_recipe(name).tv_weight
    batch.add("softmax", [unit(-1, c).named(f"p({c})") for c in classes], default_tv, classes)
    batch.add("linear", [logit(c).named(f"{c}") for c in classes], default_tv, classes)
    return lab.run(batch, name)


def _inside_call(lab: _Lab, chosen: float, x_real: np.ndarray) -> _Inside:
    """Call 3: pairs, contrasts and the units inside, at the chosen tv_weight.

    A unit inside is weighed against the regularizers on its own scale: both weights are
    multiplied by the ratio of the layer's typical best response to real images to the logits'
    (else a layer whose values are 30 times smaller than the logits would just be flattened by
    the regularizers).
    """
    settings, main = lab.settings, lab.settings.recipe
    counts = _unit_counts(lab.model, settings.layers)
    real_max = real_unit_maxima(lab.model, x_real, settings.layers)
    logit_scale = float(np.mean(lab.meter.best_logit))
    scale, tv, lp = {}, {}, {}
    for layer in settings.layers:
        alive = real_max[layer][real_max[layer] > DEAD]
        scale[layer] = float(alive.mean()) / logit_scale if len(alive) and logit_scale > 0 else 1.0
        tv[layer] = chosen * scale[layer]
        lp[layer] = get_recipe(main).lp_weight * scale[layer]
    batch = Batch()
    missing = sorted({c for pair in settings.pairs for c in pair} - set(settings.classes))
    if missing:
        batch.add("singles", [logit(c).named(f"{c}") for c in missing], chosen, missing)
    for a, b in settings.pairs:
        contrasts = [
            (logit(a) + logit(b)).named(f"{a}+{b}"),
            (logit(a) - logit(b)).named(f"{a}-{b}"),
            (logit(b) - logit(a)).named(f"{b}-{a}"),
        ]
        batch.add(f"pair:{a}:{b}", contrasts, chosen)
    for layer in settings.layers:
        n, _ = counts[layer]
        objectives = [unit(layer, i).named(f"{layer}[{i}]") for i in range(n)]
        batch.add(f"layer:{layer}", objectives, tv[layer], lp=lp[layer])
    blocks = lab.run(batch, main)
    return _Inside(blocks, missing, counts, real_max, scale, tv, lp)


def softmax_kept(lab: _Lab, blocks: dict[str, dict[str, Images]]) -> dict:
    """1. Every class maximized through the softmax, against its logit, from a mid-grey start."""
    grey = torch.full((1, *lab.model.input_shape), 0.5)
    start = _logits(lab.model, grey)[0]
    out = {"order": lab.order, "count": len(lab.classes), "start_logits": start.tolist()}
    for name in lab.order:
        rows, summary = _softmax_rows(
            lab.classes, blocks[name]["softmax"], blocks[name]["linear"], start
        )
        out[name] = {
            "tv_weight": float(get_recipe(name).tv_weight),
            "rows": rows,
            "summary": summary,
        }
    return out


def tv_sweep(lab: _Lab, choice: dict[str, dict]) -> dict:
    """2. The sweep's class at every tv_weight, for each recipe."""
    return {
        "class": int(lab.settings.sweep_target),
        "order": lab.order,
        "recipes": {
            name: {"tv_weights": lab.sweep(name), "rows": choice[name]["target_rows"]}
            for name in RECIPES
        },
    }


def tv_choice(lab: _Lab, choice: dict[str, dict]) -> dict:
    """3. The tv_weight each recipe's measures choose, and the lab's eyeballed one."""
    settings = lab.settings
    per_tv = choice[LAB_RECIPE]["per_tv"]
    lab_summary = next((s for s in per_tv if s["tv_weight"] == settings.lab_tv_weight), None)
    return {
        "rule": settings.rule,
        "recipe": settings.recipe,
        "chosen": choice[settings.recipe]["chosen"],
        "order": lab.order,
        "recipes": {
            name: {k: v for k, v in c.items() if k != "target_rows"} for name, c in choice.items()
        },
        "lab_recipe": LAB_RECIPE,
        "lab_choice": float(settings.lab_tv_weight),
        "lab_summary": lab_summary,
        "real_realism": float(np.median(lab.meter.test_realism)),
    }


def all_classes(lab: _Lab, chosen: float, block: Images) -> dict:
    """4. Every class at the chosen tv_weight."""
    return {
        "recipe": lab.settings.recipe,
        "tv_weight": chosen,
        "rows": block.measures.rows(),
        "summary": block.measures.summary(),
    }


def two_outputs(
    lab: _Lab, chosen: float, chosen_block: Images, inside: _Inside, images: dict[str, Images]
) -> dict:
    """5. Two classes at once, and their contrasts, beside each class alone (into `images`)."""
    classes, meter = lab.classes, lab.meter
    singles = {c: chosen_block.select([classes.index(c)]) for c in classes}
    for i, c in enumerate(inside.missing):
        singles[c] = inside.blocks["singles"].select([i])
    rows = []
    for a, b in lab.settings.pairs:
        block = inside.blocks[f"pair:{a}:{b}"]
        images[f"pair:{a}:{b}"] = _stack([singles[a], singles[b], block], measured=False)
        la, lb = block.logits[:, a], block.logits[:, b]
        sa, sb = singles[a].logits[0], singles[b].logits[0]
        judged = meter.judge(block.batch())
        rows.append(
            {
                "classes": [a, b],
                "kind": lab.settings.pair_kind(a, b),
                "feature_cosine": meter.class_similarity(a, b),
                "pair": {
                    "logits": [float(la[0]), float(lb[0])],
                    "judge_prediction": int(judged.argmax(1)[0]),
                    "judge_probabilities": [float(judged[0, a]), float(judged[0, b])],
                },
                "a_minus_b": {
                    "logits": [float(la[1]), float(lb[1])],
                    "difference": float(la[1] - lb[1]),
                    "judge_prediction": int(judged.argmax(1)[1]),
                },
                "b_minus_a": {
                    "logits": [float(la[2]), float(lb[2])],
                    "difference": float(lb[2] - la[2]),
                    "judge_prediction": int(judged.argmax(1)[2]),
                },
                "singles": [
                    {"class": a, "logits": [float(sa[a]), float(sa[b])]},
                    {"class": b, "logits": [float(sb[a]), float(sb[b])]},
                ],
                "retained": [_share(la[0], sa[a]), _share(lb[0], sb[b])],
            }
        )
    return {"recipe": lab.settings.recipe, "tv_weight": chosen, "rows": rows}


def inside_the_network(lab: _Lab, chosen: float, inside: _Inside, n_real: int) -> dict:
    """6. Every unit of the lab's layers, against its best response to a real image."""
    rows = []
    for layer in lab.settings.layers:
        block = inside.blocks[f"layer:{layer}"]
        n, spatial = inside.counts[layer]
        values = unit_responses(lab.model, block.batch(), layer)[np.arange(n), np.arange(n)]
        real = inside.real_max[layer]
        relative = [float(v / r) if r > DEAD else None for v, r in zip(values, real, strict=True)]
        known = [r for r, v in zip(relative, values, strict=True) if r is not None and v > DEAD]
        rows.append(
            {
                "layer": layer,
                "units": n,
                "spatial": spatial,
                "scale": inside.scale[layer],
                "tv_weight": inside.tv[layer],
                "lp_weight": inside.lp[layer],
                "receptive_field": receptive_field(lab.model, layer),
                "activations": values.tolist(),
                "real_max": real.tolist(),
                "relative": relative,
                "mean_relative": float(np.mean(known)) if known else None,
                "dead": int((values <= DEAD).sum()),
                "silent_on_real": int((real <= DEAD).sum()),
                "dead_and_silent": int(((values <= DEAD) & (real <= DEAD)).sum()),
                "mean": float(values.mean()),
                "max": float(values.max()),
            }
        )
    return {
        "recipe": lab.settings.recipe,
        "tv_weight": chosen,
        "real_images": n_real,
        "rows": rows,
    }


def recipes_side_by_side(
    lab: _Lab,
    blocks: dict[str, dict[str, Images]],
    choice: dict[str, dict],
    images: dict[str, Images],
) -> tuple[dict, dict]:
    """7. The lab's own images, then each recipe at its measured tv_weight (into `images`);
    and the acceptance check of actmax's recipe."""
    settings = lab.settings
    entries = []
    lab_tv = float(settings.lab_tv_weight)
    if lab_tv in lab.sweep(LAB_RECIPE):
        entries.append(("lab", LAB_RECIPE, lab_tv, f"{LAB_RECIPE}, the lab's tv_weight"))
    for name in RECIPES:
        entries.append((f"{name}", name, choice[name]["chosen"], f"{name}, measured tv_weight"))
    out: dict = {"order": [], "entries": {}}
    for key, name, tv, label in entries:
        block = blocks[name][f"sweep:{tv}"]
        out["order"].append(key)
        out["entries"][key] = {
            "label": label,
            "recipe": name,
            "tv_weight": tv,
            "iterations": settings.iterations or get_recipe(name).iterations,
            "rows": [
                dict(row, optimized_logit=float(value))
                for row, value in zip(block.measures.rows(), block.objective, strict=True)
            ],
            "summary": block.measures.summary(),
            "optimized_logit": float(block.objective.mean()),
            "input_span": [float(block.span[:, 0].min()), float(block.span[:, 1].max())],
        }
        images[f"recipe:{key}"] = block
    actmax = out["entries"]["actmax"]
    acceptance = {
        "recipe": "actmax",
        "tv_weight": actmax["tv_weight"],
        "all_recognized": actmax["summary"]["recognized"] == actmax["summary"]["count"],
        "all_at_least_best_real": actmax["summary"]["min_activation"] >= 1,
    }
    return out, acceptance


def _figure_images(
    lab: _Lab, blocks: dict[str, dict[str, Images]], chosen_block: Images, inside: _Inside
) -> dict[str, Images]:
    """The remaining blocks the figures draw: softmax, classes, layers and the sweeps."""
    images = {
        **{f"softmax:{name}": blocks[name]["softmax"] for name in RECIPES},
        **{f"linear:{name}": blocks[name]["linear"] for name in RECIPES},
        "classes": chosen_block,
        **{k: v for k, v in inside.blocks.items() if k.startswith("layer:")},
    }
    for name in RECIPES:
        sweep = [blocks[name][f"sweep:{tv}"] for tv in lab.sweep(name)]
        images[f"sweep_target:{name}"] = _stack([b.select([lab.column]) for b in sweep])
        images[f"sweep_all:{name}"] = _stack(sweep)
    return images


def _share(value: float, reference: float) -> float:
    return float(value / reference) if reference > 0 else float("nan")


def _stack(blocks: Sequence[Images], measured: bool = True) -> Images:
    measures = None
    if measured:
        measures = Measures(
            **{
                k: np.concatenate([getattr(b.measures, k) for b in blocks])
                for k in Measures.__dataclass_fields__
            }
        )
    return Images(
        images=np.concatenate([b.images for b in blocks]),
        titles=[t for b in blocks for t in b.titles],
        objective=np.concatenate([b.objective for b in blocks]),
        measures=measures,
        logits=np.concatenate([b.logits for b in blocks]),
        span=np.concatenate([b.span for b in blocks]),
    )
