"""Running one shard: a pure function of the plan, the model, the data and the shard.

The same shard gives the same arrays in this process or in a Ray worker (at the same PyTorch
thread count), so where a shard ran never shows in the atlas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from ..adapters import LayerRef, ModelAdapter
from ..attribution import saliency
from ..engine import visualize
from ..errors import ActmaxError
from ..parallel import BatchWorkers, cpu_threads
from .plan import HISTOGRAM, MAPS, OPTIMIZE, SCAN, Layer, Plan, Shard, Unit
from .topk import Extremes, chunk_extremes, histogram_counts

Arrays = dict[str, np.ndarray]
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """What every shard of one atlas reads. `device`: where shards run (None: where the model
    is); the model is moved there. `extremes` (the merged scan) is needed by the histogram and
    maps shards only."""

    plan: Plan
    adapter: ModelAdapter
    images: np.ndarray
    device: str | None = None
    extremes: Extremes | None = None


def run_shard(shard: Shard, job: Job, threads: int | None = None) -> tuple[Arrays, float]:
    """The shard's arrays and the seconds it took, with `threads` PyTorch CPU threads (None:
    as they are)."""
    start = time.perf_counter()
    if job.device is not None and torch.device(job.device) != job.adapter.device:
        job.adapter.model.to(job.device)
    with cpu_threads(threads):
        arrays = KINDS[shard.kind](shard, job)
    return arrays, time.perf_counter() - start


def optimize(shard: Shard, job: Job) -> Arrays:
    """Every seed of every unit of the block, in one batched call: (units, seeds, H, W, C)."""
    plan, s = job.plan, job.plan.settings
    units = plan.units[shard.start : shard.stop]
    objectives = [u.seeded_objective(s.diversity) for u in units for _ in range(s.seeds)]
    seeds = [seed for _ in units for seed in range(s.seeds)]
    result = visualize(
        job.adapter,
        objectives,
        recipe=s.recipe,
        iterations=s.steps,
        seed=seeds,
        input_range=s.input_range,
        input_shape=plan.image_shape,
    )
    images = result.images.astype(np.float32)
    # Each image's activation read as the data's are (without the diversity term), so the
    # histogram can show where it lies among them.
    inputs = result.inputs.numpy()
    columns = np.array([u.number for u in units for _ in range(s.seeds)])
    values = unit_scores(job, inputs)[np.arange(len(inputs)), columns]
    return {
        "images": images.reshape(len(units), s.seeds, *images.shape[1:]),
        "activations": values.reshape(len(units), s.seeds),
    }


def scan(shard: Shard, job: Job) -> Arrays:
    scores = unit_scores(job, job.images[shard.start : shard.stop], shard.start)
    return chunk_extremes(scores, shard.start, job.plan.settings.top).arrays()


def histogram(shard: Shard, job: Job) -> Arrays:
    extremes = _extremes(job)
    scores = unit_scores(job, job.images[shard.start : shard.stop], shard.start)
    bins = job.plan.settings.bins
    return {"counts": histogram_counts(scores, extremes.low, extremes.high, bins)}


def maps(shard: Shard, job: Job) -> Arrays:
    """For each unit of the block, its map on each of its top then bottom images: the channel's
    activation map (the layer's resolution) or, for a dense unit, the input gradient's size
    (the input's resolution, each map scaled to [0, 1])."""
    extremes = _extremes(job)
    units = job.plan.units[shard.start : shard.stop]
    rows = [u.number for u in units]
    chosen = np.concatenate([extremes.top_index[rows], extremes.bottom_index[rows]], axis=1)
    layer = units[0].layer
    if layer.spatial:
        return {"maps": _activation_maps(job, layer, units, chosen)}
    return {"maps": _saliency_maps(job, units, chosen)}


def _activation_maps(job: Job, layer: Layer, units: list[Unit], chosen: np.ndarray) -> np.ndarray:
    wanted = np.unique(chosen)
    ref = job.adapter.ref(layer.name, layer.pre_activation)
    step = job.plan.settings.batch
    batches = [job.images[wanted[i : i + step]] for i in range(0, len(wanted), step)]
    acts = np.concatenate(_forward_batches(job, batches, [ref], lambda found: found[ref]))
    row_of = {int(image): row for row, image in enumerate(wanted)}
    rows = np.vectorize(row_of.__getitem__)(chosen)  # (units, 2k) rows of `acts`
    channels = np.array([u.index for u in units])[:, None]
    return acts[rows, channels].astype(np.float32)


def _saliency_maps(job: Job, units: list[Unit], chosen: np.ndarray) -> np.ndarray:
    objectives = [u.objective() for u, row in zip(units, chosen, strict=True) for _ in row]
    flat = chosen.reshape(-1)
    out = []
    step = job.plan.settings.batch
    for start in range(0, len(flat), step):
        x = torch.from_numpy(np.array(job.images[flat[start : start + step]], order="C"))
        x = x.to(device=job.adapter.device, dtype=job.adapter.dtype)
        found = saliency(job.adapter, x, objectives[start : start + step])
        out.append(found.maps)
    return np.concatenate(out).reshape(*chosen.shape, *out[0].shape[1:]).astype(np.float32)


def unit_scores(job: Job, images: np.ndarray, first: int = 0) -> np.ndarray:
    """(images, units): each unit's objective (a channel's mean, a dense unit's value) on the
    images, in forward passes of whole batches (a data shard starts on a whole batch, `first`
    is its first image's number, for messages)."""
    plan = job.plan
    refs = [job.adapter.ref(layer.name, layer.pre_activation) for layer in plan.layers]
    step = plan.settings.batch
    batches = [images[i : i + step] for i in range(0, len(images), step)]

    def columns(acts: dict) -> np.ndarray:
        found = []
        for layer, ref in zip(plan.layers, refs, strict=True):
            act = acts[ref]
            found.append(act.reshape(*act.shape[:2], -1).mean(2) if layer.spatial else act)
        return np.concatenate(found, axis=1)

    scores = np.concatenate(_forward_batches(job, batches, refs, columns)).astype(np.float32)
    bad = ~np.isfinite(scores)
    if bad.any():
        image, column = np.argwhere(bad)[0]
        raise ActmaxError(
            f"the model gives NaN or infinity on image {first + image} "
            f"(unit {column} of the atlas): check the data and the model"
        )
    return scores


def _forward_batches(
    job: Job, batches: list[np.ndarray], refs: list[LayerRef], reduce: Callable[[dict], T]
) -> list[T]:
    """`reduce(activations)` of each batch of images, in order.

    On the CPU the batches run concurrently, one thread each with single-threaded ops, as the
    engine runs slices of a batch: every batch gets the numbers it gets on one thread alone
    (so a shard gives the same arrays locally and in a one-thread Ray task), and all of the
    process' threads work.
    """
    adapter = job.adapter
    on_cpu = adapter.device.type == "cpu"
    workers = min(torch.get_num_threads(), len(batches)) if on_cpu else 1
    if not adapter.concurrent_recorder:
        workers = 1

    with adapter.isolated() as view, view.recorder(refs) as forward:

        def run(rows: slice) -> list[T]:
            out = []
            with torch.no_grad():  # grad mode is per thread
                for images in batches[rows]:
                    # A fresh copy has the same strides wherever the data came from: oneDNN
                    # rounds differently for a size-1 axis of stride 0 (numpy's [:, None]).
                    x = torch.from_numpy(np.array(images, dtype=np.float32, order="C"))
                    _, acts = forward(x.to(device=adapter.device, dtype=adapter.dtype))
                    out.append(reduce({r: acts[r].detach().float().cpu().numpy() for r in refs}))
            return out

        with BatchWorkers(workers, threads_each=1) as pool, cpu_threads(1 if on_cpu else None):
            parts = pool.map(run, len(batches))
    return [found for part in parts for found in part]


def _extremes(job: Job) -> Extremes:
    if job.extremes is None:
        raise RuntimeError("histogram and maps shards need the merged scan")
    return job.extremes


KINDS: dict[str, Callable[[Shard, Job], Arrays]] = {
    OPTIMIZE: optimize,
    SCAN: scan,
    HISTOGRAM: histogram,
    MAPS: maps,
}
