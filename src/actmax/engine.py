"""`visualize()`: synthesize the inputs that drive chosen targets as high as they go, many at once.

The loop is assembled from parts (see `actmax.param`, `actmax.transforms`,
`actmax.regularizers`, `actmax.optimizers`); a recipe (`actmax.recipes`) is a preset of them.
Each step: the parametrization makes the images, the transforms make the view the model sees, the
objectives read the model's activations, the regularizers read the images, and the optimizer
moves the optimized tensor along the loss gradient.

Every row of the batch is its own problem (objective, weights, seed, random draws); rows never
interact, except the rows that one `diversity` term couples on purpose: the loss is a sum of
per-row losses, optimizers act element-wise or per image, and the best iterate is chosen per row.
A row therefore gets what it would get alone.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .adapters import ModelAdapter, as_adapter
from .adapters.preprocess import Preprocess
from .devices import resolve_device
from .errors import ActmaxError
from .io import check_new_file
from .objectives import BatchObjective, Objective
from .optimizers import Optimizer
from .parallel import BatchWorkers, cpu_threads
from .param import Canvas, Parametrization
from .recipes import Recipe, get_recipe
from .regularizers import Regularizer
from .result import VisualizationResult, write_gif
from .transforms import Jitter, Transform, Transforms

__all__ = ["Step", "VisualizationResult", "visualize"]

GIF_FRAMES = 50
MIN_SLICE_ROWS = 8  # a smaller slice leaves too little work per op to pay for its thread
SMALL_INPUT = 1 << 16  # input elements per slice below which one thread per slice is fastest


@dataclass(frozen=True)
class Step:
    """What a callback sees after each forward pass (tensors on the run's device, detached;
    `inputs` is the live image tensor: clone it to keep it past the callback).

    Attributes:
        step: the step number, from 0.
        inputs: the images that were scored (before this step's update), (N, C, H, W).
        objective: per-row objective values, (N,).
        loss: per-row losses, (N,).
        terms: each regularizer's per-row penalty, by name.
    """

    step: int
    inputs: torch.Tensor
    objective: torch.Tensor
    loss: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


def visualize(
    model: nn.Module | ModelAdapter | str | os.PathLike,
    objectives: Objective | Sequence[Objective],
    *,
    recipe: str | Recipe = "actmax",
    param: Parametrization | None = None,
    transforms: Sequence[Transform] | None = None,
    regularizers: Sequence[Regularizer] | None = None,
    optimizer: Optimizer | None = None,
    iterations: int | None = None,
    input_range: tuple[float, float] = (0.0, 1.0),
    input_shape: tuple[int, ...] | None = None,
    preprocess: Preprocess | None = None,
    act_weight: float | Sequence[float] | None = None,
    tv_weight: float | Sequence[float] | None = None,
    lp_weight: float | Sequence[float] | None = None,
    tv_beta: float | None = None,
    lp_norm: float | None = None,
    jitter: int | Sequence[int] | None = None,
    seed: int | Sequence[int] = 0,
    seed_input: torch.Tensor | np.ndarray | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    callback: Callable[[Step], None] | None = None,
    gif: str | os.PathLike | None = None,
    overwrite: bool = False,
    titles: Sequence[str] | None = None,
) -> VisualizationResult:
    """Optimize one input per objective, all in one batch, and return them with their display
    images.

    Args:
        model: a torch `nn.Module` (channels-first input), a Keras 3 model, a `ModelAdapter`,
            or the path of a model file (`actmax.adapters.load`).
        objectives: one `Objective`, or a sequence of them: one row (one image) each.
        recipe: the preset of parts and settings: "actmax" (bounded, Adam, jitter; the
            default), "keras-vis" (keras-vis' algorithm exactly), or a `Recipe`.
        param: how the optimized tensor becomes the image (`actmax.param`); default: the
            recipe's.
        transforms: random transforms of the image before the model sees it
            (`actmax.transforms`), applied in order; default: the recipe's.
        regularizers: penalties added to the loss (`actmax.regularizers`); default: the
            recipe's.
        optimizer: the update rule (`actmax.optimizers`); default: the recipe's.
        iterations: the number of steps; default: the recipe's (200 for both presets).
        input_range: (lo, hi), the values the model's input takes (e.g. (0, 1) for MNIST
            scaled to [0, 1], (0, 255) for raw pixels).
        input_shape: one image's shape (C, H, W), for models that do not say it themselves.
        preprocess: what the model does to an image before its first layer, e.g.
            `Normalize(mean, std)` for a model trained on normalized inputs, or any callable:
            optimization, regularizers and the returned images stay in pixel space.
        act_weight: the objective's weight in the loss; one value, or one per row.
        tv_weight: the weight of the recipe's (or `regularizers`') regularizer named "tv";
            one value, or one per row.
        lp_weight: the weight of the regularizer named "lp"; one value, or one per row.
        tv_beta: the exponent of the "tv" regularizer.
        lp_norm: the p of the "lp" regularizer.
        jitter: the pixels of the first `Jitter` transform (0 removes it); one value, or one
            per row.
        seed: one seed for every row, or one per row; a row's start image and random draws
            come from its own seed only, so a row's result does not depend on the others.
        seed_input: start images (N, C, H, W), or one (C, H, W) for every row (for
            `param.Latent`: start codes); default: keras-vis' noise (mean mid-range, std 5% of
            the range) drawn from each row's seed.
        device: where to optimize (default: the model's).
        progress: show a progress bar over the steps.
        callback: `callback(step)` with a `Step` after every forward pass.
        gif: the path of an animated GIF of the optimization (about 50 frames).
        overwrite: replace an existing `gif` file (else an existing one is an error, raised
            before any work).
        titles: one title per row for `result.plot()` (default: the objectives as text).

    Returns:
        A `VisualizationResult`: the optimized inputs, display images, activations, history.
    """
    if gif is not None:
        check_new_file(gif, overwrite, hint="pass overwrite=True to replace it")
    adapter = as_adapter(model, input_shape=input_shape, preprocess=preprocess)
    objectives = _as_objectives(objectives)
    n = len(objectives)
    recipe = _customized(
        get_recipe(recipe),
        n,
        param=param,
        transforms=transforms,
        regularizers=regularizers,
        optimizer=optimizer,
        iterations=iterations,
        tv_weight=tv_weight,
        lp_weight=lp_weight,
        tv_beta=tv_beta,
        lp_norm=lp_norm,
        jitter=jitter,
    )
    lo, hi = _check_range(input_range)
    seeds = [int(s) for s in _per_row(seed, 0, n, "seed", whole=True)]
    weights = {"act": _per_row(act_weight, recipe.act_weight, n, "act_weight")}
    weights.update(
        {r.name: _per_row(r.weight, 0.0, n, f"{r.name} weight") for r in recipe.regularizers}
    )
    if titles is not None and len(titles) != n:
        raise ActmaxError(f"{len(titles)} titles for {n} objectives")
    batch = BatchObjective(objectives, adapter)  # unknown layers fail here, before any work
    titles = [obj.describe(adapter) for obj in objectives] if titles is None else list(titles)

    generators = [torch.Generator().manual_seed(s) for s in seeds]
    target = resolve_device(device) if device is not None else adapter.device
    with recipe.param.ready(target):  # frozen before it draws even the first image
        canvas, raw0 = _start(recipe.param, adapter, input_shape, (lo, hi), generators, seed_input)
    draws = Transforms(recipe.transforms, generators, recipe.iterations, canvas.shape, target)
    plan = _Plan(recipe, canvas, weights, titles, progress, callback, gif is not None)

    # channels-last runs oneDNN's convolutions and pooling about twice as fast on the CPU
    layout = torch.channels_last if target.type == "cpu" and len(canvas.shape) == 3 else None
    with (
        recipe.param.ready(target),
        adapter.isolated(target, layout) as view,  # the caller's model is never touched
        torch.enable_grad(),
    ):
        parts = _run_slices(view, plan, objectives, batch, raw0, draws, target)
        inputs = torch.cat([part[0] for part in parts])
        history = {k: np.concatenate([part[1][k] for part in parts], axis=1) for k in parts[0][1]}
        frames = [np.concatenate(f) for f in zip(*(part[2] for part in parts), strict=True)]
        with torch.no_grad(), view.recorder(batch.refs, stop_early=True) as forward:
            values = _objective(forward, batch, inputs)
            images = recipe.display(inputs, (lo, hi))
    activations = values.cpu().numpy()
    _check_finite(activations, titles, "on the returned inputs")
    if gif is not None:
        write_gif(frames + [images.movedim(1, -1).cpu().numpy()], gif, zoom=_gif_zoom(canvas))
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
class _Plan:
    """What every slice of a call shares."""

    recipe: Recipe
    canvas: Canvas
    weights: dict[str, np.ndarray]
    titles: list[str]
    progress: bool
    callback: Callable[[Step], None] | None
    frames: bool


@dataclass(frozen=True)
class _Slice:
    """Rows optimized together: all of them, or one worker's share."""

    rows: slice
    batch: BatchObjective
    raw0: torch.Tensor
    transforms: Transforms


def _customized(recipe: Recipe, n: int, **given) -> Recipe:
    """The recipe with the call's parts and shortcuts applied (shortcuts edit named parts)."""
    parts = {k: given[k] for k in ("param", "optimizer", "iterations") if given[k] is not None}
    for key in ("transforms", "regularizers"):
        if given[key] is not None:
            parts[key] = tuple(given[key])
    recipe = recipe.replace(**parts)
    iterations = recipe.iterations
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ActmaxError(f"iterations must be a whole number >= 1, got {iterations!r}")
    for reg in recipe.regularizers:
        if not isinstance(reg, Regularizer):
            raise ActmaxError(f"regularizers must be Regularizer objects, got {reg!r}")
    names = [reg.name for reg in recipe.regularizers]
    if len(set(names)) != len(names) or {"objective", "loss"} & set(names):
        raise ActmaxError(f"regularizer names must be unique and not objective/loss: {names}")
    regs = list(recipe.regularizers)
    for name, field_name, key in (
        ("tv", "weight", "tv_weight"),
        ("tv", "beta", "tv_beta"),
        ("lp", "weight", "lp_weight"),
        ("lp", "p", "lp_norm"),
    ):
        value = given[key]
        if value is None:
            continue
        index = next((i for i, r in enumerate(regs) if r.name == name), None)
        if index is None:
            if field_name == "weight" and not np.any(_per_row(value, 0.0, n, key)):
                continue  # a zero weight for a prior the recipe does not have
            raise ActmaxError(f"{key} needs a regularizer named {name!r}; this recipe has {names}")
        if field_name == "weight":
            rows = _per_row(value, 0.0, n, key)
            value = float(rows[0]) if np.all(rows == rows[0]) else tuple(rows.tolist())
        else:
            value = float(value)
        regs[index] = _replace(regs[index], **{field_name: value})
    return recipe.replace(
        regularizers=regs, transforms=_with_jitter(list(recipe.transforms), given["jitter"], n)
    )


def _replace(part, **changes):
    import dataclasses

    if not dataclasses.is_dataclass(part):
        raise ActmaxError(f"{type(part).__name__} is not a dataclass: set its values directly")
    return dataclasses.replace(part, **changes)


def _with_jitter(transforms: list[Transform], jitter, n: int) -> list[Transform]:
    """`jitter=` sets the pixels of the first Jitter (0 for every row removes it)."""
    if jitter is None:
        return transforms
    pixels = [int(j) for j in _per_row(jitter, 0, n, "jitter", whole=True)]
    index = next((i for i, t in enumerate(transforms) if isinstance(t, Jitter)), None)
    if not any(pixels):
        return [t for i, t in enumerate(transforms) if i != index]
    value = pixels[0] if len(set(pixels)) == 1 else pixels
    if index is None:
        return [Jitter(value), *transforms]
    transforms[index] = _replace(transforms[index], pixels=value)
    return transforms


def _start(
    param: Parametrization,
    adapter: ModelAdapter,
    input_shape,
    input_range: tuple[float, float],
    generators: list[torch.Generator],
    seed_input,
) -> tuple[Canvas, torch.Tensor]:
    """The canvas and the optimized tensor at the start (on the CPU), from each row's seed."""
    n, dtype = len(generators), adapter.dtype
    shape = input_shape if input_shape is not None else adapter.input_shape
    if seed_input is not None and param.takes_images:
        seed_input = _seed_images(seed_input, n, shape, dtype)
        shape = tuple(seed_input.shape[1:]) if shape is None else shape
    if shape is None and not param.takes_images:
        canvas = Canvas((), input_range)
        raw0 = param.init(canvas, generators, dtype, seed_input)
        with torch.no_grad():
            shape = tuple(param.image(raw0[:1], canvas).shape[1:])
        return Canvas(shape, input_range), raw0
    canvas = Canvas(_image_shape(shape), input_range)
    return canvas, param.init(canvas, generators, dtype, seed_input)


def _run_slices(adapter, plan: _Plan, objectives, batch, raw0, draws, device) -> list[tuple]:
    """Optimize the batch, cut into slices that run at the same time on the CPU's threads."""
    n = len(objectives)
    workers, threads = _workers(adapter, device, plan, n)
    # the layers after the last one an objective reads are not computed
    with workers, cpu_threads(threads), adapter.recorder(batch.refs, stop_early=True) as forward:
        cancel = threading.Event()

        def run(rows: slice) -> tuple:
            part = _Slice(
                rows=rows,
                batch=batch if rows == slice(0, n) else BatchObjective(objectives[rows], adapter),
                raw0=raw0[rows].to(device),
                transforms=draws.select(rows),
            )
            try:
                return _optimize(forward, part, plan, cancel)
            except BaseException:
                cancel.set()  # the other slices stop at their next step
                raise

        return workers.map(run, n, together=batch.coupled())


def _workers(
    adapter: ModelAdapter, device: torch.device, plan: _Plan, n: int
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
    can_slice = plan.callback is None and adapter.concurrent_recorder
    workers = max(1, min(threads, n // MIN_SLICE_ROWS)) if can_slice else 1
    each = max(1, threads // workers)
    if -(-n // workers) * math.prod(plan.canvas.shape) < SMALL_INPUT:
        each = 1
    if workers > 1:
        return BatchWorkers(workers, threads_each=each), None
    return BatchWorkers(1), each


def _optimize(forward, part: _Slice, plan: _Plan, cancel: threading.Event):
    """The loop: one forward and one backward pass per step for the slice, no host syncs."""
    recipe, canvas, iterations = plan.recipe, plan.canvas, plan.recipe.iterations
    param, regs, batch = recipe.param, recipe.regularizers, part.batch
    raw = part.raw0.clone().requires_grad_(True)
    device, dtype, n = raw.device, raw.dtype, raw.shape[0]
    weights = {
        k: torch.tensor(v[part.rows], device=device, dtype=dtype) for k, v in plan.weights.items()
    }
    needed = {r.name: bool(np.any(plan.weights[r.name][part.rows])) for r in regs}
    stepper = recipe.optimizer.start(raw, iterations, param.scale(canvas))
    keys = ["objective", *(r.name for r in regs), "loss"]
    history = torch.empty(iterations, len(keys), n, device=device, dtype=dtype)
    best_loss = torch.full((n,), math.inf, device=device, dtype=dtype)
    best_x = None
    frames, frame_every = [], max(1, iterations // GIF_FRAMES)
    reg_w = _prior_weights(forward, part, plan, raw, weights)

    steps = range(iterations)
    if plan.progress and part.rows.start == 0:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"visualize ({recipe.name})", unit="step", leave=False)
    for t in steps:
        if cancel.is_set():
            break
        x = param.image(raw, canvas)
        seen = part.transforms(x, t) if part.transforms.active(t) else x
        values = _seen_objective(forward, batch, x, seen)
        terms = [_penalty(r, x, raw, needed[r.name]) for r in regs]
        loss = _loss(weights["act"], values, reg_w, terms)
        (grad,) = torch.autograd.grad(loss.sum(), raw)
        with torch.no_grad():
            x = x.detach()
            record = torch.stack([values, *terms, loss]).detach()
            history[t] = record
            if recipe.keep_best:
                best_loss, best_x = _keep_better(record[-1], x, best_loss, best_x)
            if plan.frames and t % frame_every == 0:
                frames.append(recipe.display(x, canvas.input_range).movedim(1, -1).cpu().numpy())
            if plan.callback is not None:
                named = dict(zip(keys[1:-1], record[1:-1], strict=True))
                plan.callback(Step(t, x, record[0], record[-1], named))
        stepper.step(grad, t)
        with torch.no_grad():
            param.project(raw, canvas)

    with torch.no_grad():
        last = param.image(raw, canvas).detach()
        if recipe.keep_best:  # the final iterate competes too, scored on itself
            values = _objective(forward, batch, last)
            terms = [_penalty(r, last, raw, True) for r in regs]
            loss = _loss(weights["act"], values, reg_w, terms)
            last = _keep_better(loss, last, best_loss, best_x)[1]
    hist = history.cpu().numpy()
    return last, {k: hist[:, i] for i, k in enumerate(keys)}, frames


def _seen_objective(forward, batch: BatchObjective, x, seen) -> torch.Tensor:
    """The objectives on the transformed images; a model that refuses the size some transforms
    give (`Pad` grows the image) gets an error that names the cause instead of torch's."""
    try:
        return _objective(forward, batch, seen)
    except RuntimeError as error:
        if seen.shape[-2:] == x.shape[-2:]:
            raise
        text = str(error).strip()
        first = text.splitlines()[0] if text else type(error).__name__
        raise ActmaxError(
            f"the transforms turn {tuple(x.shape[-2:])} images into {tuple(seen.shape[-2:])} and "
            f"the model refuses them ({first}); for a model with a fixed input size, leave out "
            "Pad"
        ) from error


def _prior_weights(forward, part: _Slice, plan: _Plan, raw, weights) -> list[torch.Tensor]:
    """Each regularizer's per-row weights, after checking the objectives against the model at
    the start; for recipes with relative weights, scaled by how strongly each row's objective
    reacts there (the mean absolute gradient) to what the regularizer reads: the image, or the
    optimized tensor itself."""
    recipe = plan.recipe
    with torch.set_grad_enabled(recipe.relative_weights):
        x = recipe.param.image(raw, plan.canvas)
        values = _objective(forward, part.batch, x)
    _check_finite(values.detach().cpu().numpy(), plan.titles, "at the start", part.rows.start)
    reg_w = [weights[r.name] for r in recipe.regularizers]
    if recipe.relative_weights:
        sources = {"image": x, "param": raw}
        needed = sorted({r.reads for r in recipe.regularizers} | {"image"})
        grads = torch.autograd.grad(values.sum(), [sources[k] for k in needed])
        sensitivity = {k: _mean_abs(g) for k, g in zip(needed, grads, strict=True)}
        reg_w = [w * sensitivity[r.reads] for w, r in zip(reg_w, recipe.regularizers, strict=True)]
    return reg_w


def _mean_abs(grad: torch.Tensor) -> torch.Tensor:
    """Per row, the mean absolute gradient (1 where it is 0, so a prior never vanishes)."""
    mean = grad.abs().flatten(1).mean(1)
    return torch.where(mean > 0, mean, torch.ones_like(mean))


def _loss(act_w, values, reg_w, terms) -> torch.Tensor:
    loss = -act_w * values
    for w, term in zip(reg_w, terms, strict=True):
        loss = loss + w * term
    return loss


def _keep_better(loss, x, best_loss, best_x):
    """Per row, the lower of `loss` and `best_loss`, with its image."""
    if best_x is None:
        return loss, x.clone()
    better = loss < best_loss
    best_loss = torch.where(better, loss, best_loss)
    return best_loss, torch.where(better.view((-1,) + (1,) * (x.dim() - 1)), x, best_x)


def _objective(forward, batch: BatchObjective, x: torch.Tensor) -> torch.Tensor:
    _, acts = forward(x)
    return batch(acts)


def _penalty(reg: Regularizer, x: torch.Tensor, raw: torch.Tensor, needed: bool) -> torch.Tensor:
    """A regularizer's value; without gradient when no row weighs it (it is only recorded)."""
    source = raw if reg.reads == "param" else x
    if needed:
        return reg.penalty(source)
    with torch.no_grad():
        return reg.penalty(source)


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


def _image_shape(shape) -> tuple[int, ...]:
    if shape is None:
        raise ActmaxError(
            "the model does not say what input it takes: pass input_shape=(C, H, W) or seed_input"
        )
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1 or any(s < 1 for s in shape):
        raise ActmaxError(
            f"input_shape must be (C, H, W), or (F,) for a vector input, with sizes >= 1, "
            f"got {shape}"
        )
    return shape


def _seed_images(seed_input, n: int, expected, dtype: torch.dtype) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(seed_input) if not torch.is_tensor(seed_input) else seed_input)
    x = x.detach().to("cpu", dtype)
    expected = tuple(expected) if expected is not None else None
    if expected is not None and x.dim() == len(expected):
        x = x.unsqueeze(0).expand(n, *x.shape)
    shape_ok = x.dim() >= (2 if expected is not None else 3) and x.shape[0] == n
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


def _gif_zoom(canvas: Canvas) -> int:
    """Blow small images (MNIST) up so the animation is watchable."""
    return max(1, 96 // max(canvas.shape[-1], 1))
