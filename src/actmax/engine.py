"""`visualize()`: synthesize the inputs that drive chosen targets as high as they go, many at once.

Every row of the batch is its own problem (objective, loss weights, seed, jitter); rows never
interact: the loss is a sum of per-row losses, gradients are normalized per image, optimizers act
element-wise and the best iterate is chosen per row. A row therefore gets what it would get alone.

Targeting logits: `logit(i)` reads the input of the last layer's activation, i.e. keras-vis'
"softmax swapped for linear" without touching the model. For the lab CNN (and any model whose
layers keep their activation in a `.activation` submodule) use `unit(layer, i,
pre_activation=True)`; for a model ending in an `nn.Softmax` module, `logit(i)` reads that
module's input; for any other model, target the last linear layer itself, e.g.
`unit("classifier", i)` or `unit("fc.linear", i)` (any dotted module name works).
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import regularizers
from .adapters import ModelAdapter, as_adapter
from .errors import ActmaxError
from .objectives import BatchObjective, Objective
from .parallel import BatchWorkers
from .recipes import Recipe, get_recipe
from .result import VisualizationResult, write_gif
from .transforms import RandomTransforms

__all__ = ["Step", "VisualizationResult", "default_seed", "visualize"]

HISTORY_KEYS = ("objective", "tv", "lp", "loss")
GIF_FRAMES = 50
MIN_SLICE_ROWS = 8  # a smaller slice leaves too little work per op to pay for its thread
SMALL_INPUT = 1 << 16  # input elements per slice below which one thread per slice is fastest


@dataclass(frozen=True)
class Step:
    """What a callback sees after each forward pass (tensors on the run's device, detached;
    `inputs` is the live optimized tensor: clone it to keep it past the callback).

    inputs: the inputs that were scored (before the update of this step), (N, C, H, W).
    objective, tv, lp, loss: per-row values, (N,).
    """

    step: int
    inputs: torch.Tensor
    objective: torch.Tensor
    tv: torch.Tensor
    lp: torch.Tensor
    loss: torch.Tensor


def visualize(
    model: nn.Module | ModelAdapter,
    objectives: Objective | Sequence[Objective],
    *,
    recipe: str | Recipe = "actmax",
    iterations: int | None = None,
    input_range: tuple[float, float] = (0.0, 1.0),
    input_shape: tuple[int, ...] | None = None,
    act_weight: float | Sequence[float] | None = None,
    tv_weight: float | Sequence[float] | None = None,
    lp_weight: float | Sequence[float] | None = None,
    tv_beta: float | None = None,
    lp_norm: float | None = None,
    seed: int | Sequence[int] = 0,
    seed_input: torch.Tensor | np.ndarray | None = None,
    jitter: int | Sequence[int] | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    callback: Callable[[int, Step], None] | None = None,
    gif: str | os.PathLike | None = None,
    titles: Sequence[str] | None = None,
) -> VisualizationResult:
    """Optimize one input per objective and return them with their display images.

    model: a torch `nn.Module` (channels-first input) or a `ModelAdapter`.
    objectives: one `Objective`, or a sequence of them: one row (one image) each.
    recipe: "actmax" (bounded, Adam, jitter) or "keras-vis" (keras-vis' algorithm exactly), or
        a `Recipe` object (e.g. `dataclasses.replace(ActmaxRecipe(), lr=0.1)`).
    act_weight, tv_weight, lp_weight, jitter, seed: one value for every row or one per row.
        A single seed is used by every row (a row's result depends only on its own settings).
    seed_input: start images (N, C, H, W) or one (C, H, W) for all rows; default: keras-vis'
        seed (uniform noise, mean mid-range, std 5% of the range) drawn from each row's seed.
    device: where to optimize (default: the model's); the model's tensors are moved there for
        the call and the originals put back afterwards.
    callback: `callback(step, Step)` after every forward pass.
    gif: path of an animated GIF of the optimization (about 50 frames).
    """
    adapter = as_adapter(model, input_shape=input_shape) if isinstance(model, nn.Module) else model
    if not isinstance(adapter, ModelAdapter):
        raise ActmaxError(f"expected a torch model or a ModelAdapter, got {type(model).__name__}")
    recipe = get_recipe(recipe)
    objectives = _as_objectives(objectives)
    n = len(objectives)
    lo, hi = _check_range(input_range)
    iterations = recipe.iterations if iterations is None else iterations
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ActmaxError(f"iterations must be a whole number >= 1, got {iterations!r}")
    tv_beta = recipe.tv_beta if tv_beta is None else float(tv_beta)
    p = recipe.lp_norm if lp_norm is None else float(lp_norm)
    if not p >= 1:
        raise ActmaxError(f"the Lp norm needs lp_norm >= 1, got {p}")
    if not tv_beta > 0:
        raise ActmaxError(f"the total-variation exponent tv_beta must be > 0, got {tv_beta}")
    weights = {
        "act": _per_row(act_weight, recipe.act_weight, n, "act_weight"),
        "tv": _per_row(tv_weight, recipe.tv_weight, n, "tv_weight"),
        "lp": _per_row(lp_weight, recipe.lp_weight, n, "lp_weight"),
    }
    seeds = [int(s) for s in _per_row(seed, 0, n, "seed", whole=True)]
    jitters = [int(j) for j in _per_row(jitter, recipe.jitter, n, "jitter", whole=True)]
    if titles is not None and len(titles) != n:
        raise ActmaxError(f"{len(titles)} titles for {n} objectives")

    generators = [torch.Generator().manual_seed(s) for s in seeds]
    dtype = adapter.dtype
    if seed_input is None:
        shape = _image_shape(input_shape, adapter)
        x0 = torch.stack([default_seed(shape, (lo, hi), g) for g in generators]).to(dtype)
    else:
        x0 = _seed_images(seed_input, n, input_shape or adapter.input_shape, dtype)
    target = torch.device(device) if device is not None else adapter.device
    transforms = RandomTransforms(
        generators, iterations, x0.dim() - 2, jitters, recipe.scale, device=target, dtype=dtype
    )
    batch = BatchObjective(objectives, adapter)  # unknown layers fail here, before any work
    titles = [obj.describe(adapter) for obj in objectives] if titles is None else list(titles)
    settings = _Settings(recipe, (lo, hi), iterations, tv_beta, p, progress, callback, gif)

    with _prepared(adapter, target, x0.dim() - 2), adapter.frozen(), torch.enable_grad():
        workers, threads = _workers(adapter, target, x0, callback)
        with workers, _cpu_threads(threads), adapter.recorder(batch.refs) as forward:
            cancel = threading.Event()

            def run(rows: slice) -> tuple:
                whole = rows == slice(0, n)
                problem = _Problem(
                    rows=rows,
                    batch=batch if whole else BatchObjective(objectives[rows], adapter),
                    x0=x0[rows].to(target),
                    weights={k: v[rows] for k, v in weights.items()},
                    transforms=transforms.select(rows),
                    titles=titles,
                )
                try:
                    return _optimize(forward, problem, settings, cancel)
                except BaseException:
                    cancel.set()  # the other slices stop at their next step
                    raise

            parts = workers.map(run, n)
        inputs = torch.cat([part[0] for part in parts])
        history = {k: np.concatenate([part[1][k] for part in parts], axis=1) for k in HISTORY_KEYS}
        frames = [np.concatenate(f) for f in zip(*(part[2] for part in parts), strict=True)]
        with torch.no_grad(), adapter.recorder(batch.refs) as forward:
            values = _objective(forward, batch, inputs)
            images = recipe.display(inputs, (lo, hi))
    activations = values.cpu().numpy()
    _check_finite(activations, titles, "on the returned inputs")
    if gif is not None:
        write_gif(frames + [images.movedim(1, -1).cpu().numpy()], gif, zoom=_gif_zoom(x0))
    return VisualizationResult(
        inputs=inputs.detach().cpu(),
        images=images.movedim(1, -1).cpu().numpy(),
        activations=activations,
        history=history,
        titles=list(titles),
        objectives=objectives,
        recipe=recipe.name,
        input_range=(lo, hi),
        seeds=seeds,
    )


@dataclass(frozen=True)
class _Settings:
    """What every slice of a call shares."""

    recipe: Recipe
    input_range: tuple[float, float]
    iterations: int
    tv_beta: float
    p: float
    progress: bool
    callback: Callable[[int, Step], None] | None
    gif: str | os.PathLike | None


@dataclass(frozen=True)
class _Problem:
    """One slice of the batch: rows optimized together (all of them, or one worker's share)."""

    rows: slice
    batch: BatchObjective
    x0: torch.Tensor
    weights: dict[str, np.ndarray]
    transforms: RandomTransforms
    titles: list[str]


def _workers(
    adapter: ModelAdapter, device: torch.device, x0: torch.Tensor, callback
) -> tuple[BatchWorkers, int | None]:
    """How to spread a batch over the CPU's threads, and the threads of a lone worker.

    With several threads the batch is cut into one slice per thread, each optimized on its own
    single-threaded ops: the rows are independent, so the slices never wait for each other, and
    small ops avoid OpenMP's fork and join, which costs more than it gains on small tensors and
    stalls badly on a busy machine. A batch too small to cut runs on one thread when its images
    are small too (MNIST-sized), on all threads otherwise."""
    threads = torch.get_num_threads()
    if device.type != "cpu":
        return BatchWorkers(1), None
    n = x0.shape[0]
    can_slice = callback is None and adapter.concurrent_recorder
    workers = max(1, min(threads, n // MIN_SLICE_ROWS)) if can_slice else 1
    each = max(1, threads // workers)
    if x0[: -(-n // workers)].numel() < SMALL_INPUT:
        each = 1
    if workers > 1:
        return BatchWorkers(workers, threads_each=each), None
    return BatchWorkers(1), each


@contextmanager
def _cpu_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` PyTorch CPU threads (None: as they are)."""
    previous = torch.get_num_threads()
    if threads is not None and threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _optimize(forward, problem: _Problem, settings: _Settings, cancel: threading.Event):
    """The loop: one forward and one backward pass per step for the slice, no host syncs."""
    recipe, input_range, iterations = settings.recipe, settings.input_range, settings.iterations
    x0, batch, transforms, weights = problem.x0, problem.batch, problem.transforms, problem.weights
    device, dtype, n = x0.device, x0.dtype, x0.shape[0]
    act_w, tv_w, lp_w = (torch.tensor(weights[k], device=device, dtype=dtype) for k in weights)
    use_tv, use_lp = bool(np.any(weights["tv"])), bool(np.any(weights["lp"]))
    opt = recipe.optimizer(x0, input_range, iterations)
    tv_fn = functools.partial(regularizers.total_variation, full=recipe.tv_full)
    tv_beta, p = settings.tv_beta, settings.p
    history = torch.empty(iterations, len(HISTORY_KEYS), n, device=device, dtype=dtype)
    if recipe.keep_best:
        best_loss = torch.full((n,), math.inf, device=device, dtype=dtype)
        best_x = x0.clone()
    frames, frame_every = [], max(1, iterations // GIF_FRAMES)
    # Check the objectives against the model before any work is done; for recipes with
    # relative weights, scale the priors by how strongly each objective reacts to its input.
    with torch.set_grad_enabled(recipe.relative_weights):
        values = _objective(forward, batch, opt.input())
    titles = problem.titles
    _check_finite(values.detach().cpu().numpy(), titles, "at the start", problem.rows.start)
    if recipe.relative_weights:
        (grad,) = torch.autograd.grad(values.sum(), opt.param)
        sensitivity = grad.abs().flatten(1).mean(1)
        sensitivity = torch.where(sensitivity > 0, sensitivity, torch.ones_like(sensitivity))
        tv_w, lp_w = tv_w * sensitivity, lp_w * sensitivity
    del values
    transformed = math.ceil(recipe.transform_steps * iterations)
    steps = range(iterations)
    if settings.progress and problem.rows.start == 0:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"visualize ({recipe.name})", unit="step", leave=False)

    for t in steps:
        if cancel.is_set():
            break
        x = opt.input()
        seen = transforms(x, t) if transforms.enabled and t < transformed else x
        values = _objective(forward, batch, seen)
        tv = _term(tv_fn, x, tv_beta, use_tv)
        lp = _term(regularizers.lp_norm, x, p, use_lp)
        loss = -act_w * values + tv_w * tv + lp_w * lp
        (grad,) = torch.autograd.grad(loss.sum(), opt.param)
        with torch.no_grad():
            x = x.detach()
            record = torch.stack([values, tv, lp, loss]).detach()
            history[t] = record
            if recipe.keep_best:
                better = record[3] < best_loss
                best_loss = torch.where(better, record[3], best_loss)
                best_x = torch.where(better.view((-1,) + (1,) * (x.dim() - 1)), x, best_x)
            if settings.gif is not None and t % frame_every == 0:
                frames.append(recipe.display(x, input_range).movedim(1, -1).cpu().numpy())
            if settings.callback is not None:
                settings.callback(t, Step(t, x, record[0], record[1], record[2], record[3]))
        opt.step(grad, t)

    with torch.no_grad():
        last = opt.input().detach()
        if recipe.keep_best:  # the final iterate competes too, scored on itself
            values = _objective(forward, batch, last)
            tv = _term(tv_fn, last, tv_beta, True)
            lp = _term(regularizers.lp_norm, last, p, True)
            loss = -act_w * values + tv_w * tv + lp_w * lp
            better = (loss < best_loss).view((-1,) + (1,) * (last.dim() - 1))
            last = torch.where(better, last, best_x)
    hist = history.cpu().numpy()
    return last, {k: hist[:, i] for i, k in enumerate(HISTORY_KEYS)}, frames


def _objective(forward, batch: BatchObjective, x: torch.Tensor) -> torch.Tensor:
    _, acts = forward(x)
    return batch(acts)


def _term(fn, x: torch.Tensor, arg: float, needed: bool) -> torch.Tensor:
    """A regularizer's value; without gradient when no row weighs it (it is only recorded)."""
    if needed:
        return fn(x, arg)
    with torch.no_grad():
        return fn(x, arg)


def default_seed(
    shape: Sequence[int], input_range: tuple[float, float], generator: torch.Generator
) -> torch.Tensor:
    """keras-vis' `random_array`: uniform noise standardized to mean mid-range and std 5% of
    the range (values within about +-8.7% of the range around its middle)."""
    lo, hi = input_range
    noise = torch.rand(tuple(shape), generator=generator, dtype=torch.float64)
    noise = (noise - noise.mean()) / (noise.std(unbiased=False) + 1e-7)
    return noise * (0.05 * (hi - lo)) + (lo + hi) / 2


@contextmanager
def _prepared(adapter: ModelAdapter, device: torch.device, spatial_dims: int) -> Iterator[None]:
    """Put the model's tensors on `device` (and, on the CPU, in channels-last layout, which
    oneDNN runs about twice as fast for convolutions and pooling) for the call. The original
    tensors are put back afterwards, the very same storage, also when the call fails."""
    model = getattr(adapter, "model", None)
    if not isinstance(model, nn.Module):
        yield
        return
    layout = torch.channels_last if device.type == "cpu" and spatial_dims == 2 else None
    saved: list[tuple[dict, str, torch.Tensor | None, torch.Tensor]] = []
    try:
        for module in model.modules():
            for table in (module._parameters, module._buffers):
                for name, tensor in table.items():
                    if tensor is None:
                        continue
                    data = tensor.data
                    moved = _move(data, device, layout)
                    if moved is data:
                        continue
                    if isinstance(tensor, nn.Parameter):
                        saved.append((table, name, tensor, tensor.data))
                        tensor.data = moved
                    else:
                        saved.append((table, name, None, tensor))
                        table[name] = moved
        yield
    finally:
        for table, name, param, original in reversed(saved):
            if param is not None:
                param.data = original
            else:
                table[name] = original


def _move(tensor: torch.Tensor, device: torch.device, layout) -> torch.Tensor:
    moved = tensor if _same_device(tensor.device, device) else tensor.to(device)
    if layout is not None and moved.dim() == 4:
        moved = moved.to(memory_format=layout)
    return moved


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type == "cuda":
        current = torch.cuda.current_device() if torch.cuda.is_available() else 0
        return (a.index if a.index is not None else current) == (
            b.index if b.index is not None else current
        )
    return True


def _as_objectives(objectives) -> list[Objective]:
    if isinstance(objectives, Objective):
        return [objectives]
    if isinstance(objectives, str | bytes) or not isinstance(objectives, Sequence):
        raise ActmaxError(
            "objectives must be an Objective or a list of them (e.g. logit(3), unit('l4', 0))"
        )
    objectives = list(objectives)
    if not objectives:
        raise ActmaxError("no objectives given: pass at least one")
    for obj in objectives:
        if not isinstance(obj, Objective):
            raise ActmaxError(
                f"expected Objective objects (e.g. logit(3), unit('l4', 0)), got {obj!r}"
            )
    return objectives


def _check_range(input_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in input_range)
    except (TypeError, ValueError):
        raise ActmaxError(f"input_range must be a pair (lo, hi), got {input_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ActmaxError(f"input_range must be (lo, hi) with finite lo < hi, got {input_range!r}")
    return lo, hi


def _per_row(value, default, n: int, what: str, whole: bool = False) -> np.ndarray:
    """A scalar for every row or exactly one value per row, as a float64 array of length n."""
    if value is None:
        value = default
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value, dtype=object if whole else None)
    if array.ndim == 0:
        array = np.full(n, value, dtype=object if whole else None)
    if array.ndim != 1 or len(array) != n:
        raise ActmaxError(f"{what} needs one value or one per objective ({n}), got {value!r}")
    try:
        out = array.astype(np.float64)
    except (TypeError, ValueError):
        raise ActmaxError(f"{what} must be numbers, got {value!r}") from None
    if not np.all(np.isfinite(out)):
        raise ActmaxError(f"{what} must be finite numbers, got {value!r}")
    if whole and not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in array
    ):
        raise ActmaxError(f"{what} must be whole numbers, got {value!r}")
    return out


def _image_shape(input_shape, adapter: ModelAdapter) -> tuple[int, ...]:
    shape = input_shape if input_shape is not None else adapter.input_shape
    if shape is None:
        raise ActmaxError(
            "the model does not say what input it takes: pass input_shape=(C, H, W) or seed_input"
        )
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or any(s < 1 for s in shape):
        raise ActmaxError(f"input_shape must be (C, H, W) with sizes >= 1, got {shape}")
    return shape


def _seed_images(seed_input, n: int, expected, dtype: torch.dtype) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(seed_input) if not torch.is_tensor(seed_input) else seed_input)
    x = x.detach().to("cpu", dtype)
    expected = tuple(expected) if expected is not None else None
    if expected is not None and x.dim() == len(expected):
        x = x.unsqueeze(0).expand(n, *x.shape)
    shape_ok = x.dim() >= 3 and x.shape[0] == n
    if expected is not None:
        shape_ok = shape_ok and tuple(x.shape[1:]) == expected
    if not shape_ok:
        want = f"({n}, {', '.join(map(str, expected))})" if expected else f"({n}, C, H, W)"
        raise ActmaxError(
            f"seed_input has shape {tuple(x.shape)}; expected {want} (one image per objective) "
            "or a single image for all of them"
        )
    if not torch.isfinite(x).all():
        raise ActmaxError("seed_input contains NaN or infinite values")
    return x.clone()


def _check_finite(values: np.ndarray, names: list[str], when: str, offset: int = 0) -> None:
    bad = np.flatnonzero(~np.isfinite(values)) + offset
    if len(bad):
        listed = ", ".join(f"row {i} ({names[i]})" for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ActmaxError(
            f"the model's output is NaN or infinite {when} for {listed}{more}; "
            "check the model and input_range"
        )


def _gif_zoom(x0: torch.Tensor) -> int:
    """Blow small images (MNIST) up so the animation is watchable."""
    return max(1, 96 // max(x0.shape[-1], 1))
