"""`build_atlas`: plan the work, run the shards that are not done yet, merge them, write the site.

The shards run in two stages: the scan of the data first (each unit's extremes and range), then
everything else (the optimization, the histograms over each unit's range, the maps of its top
and bottom inputs), locally or on Ray. One progress bar counts the shards of both stages.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ActmaxError
from .data import open_data
from .local import LocalRunner
from .model import open_model
from .plan import FIRST_STAGE, HISTOGRAM, SCAN, SECOND_STAGE, AtlasSettings, Plan, make_plan
from .site import SiteInputs, write_site
from .store import ShardStore
from .topk import Extremes, merge_extremes
from .work import Job


@dataclass(frozen=True)
class AtlasSummary:
    """What a run did: units, wall seconds (site included), shards run and resumed, and the
    seconds the shards' work took, by kind (summed over workers)."""

    out: Path
    index: Path
    units: int
    seconds: float
    shards_run: int
    shards_resumed: int
    where: str
    work_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def units_per_second(self) -> float:
        return self.units / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        resumed = f", {self.shards_resumed} resumed" if self.shards_resumed else ""
        return (
            f"atlas: {self.units} units in {self.seconds:.1f} s "
            f"({self.units_per_second:.2f} units/s) on {self.where}; "
            f"{self.shards_run} shards run{resumed}; open {self.index}"
        )


def build_atlas(
    model,
    data="mnist",
    out: str | Path = "atlas",
    *,
    layers: str | Sequence[str | int] = "all",
    settings: AtlasSettings | None = None,
    resume: bool = False,
    ray: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    device: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    name: str | None = None,
) -> AtlasSummary:
    """Build (or with `resume`, finish) the atlas of `model` over `data` in the folder `out`.

    model: see `open_model`; data: see `open_data` (limit: its first images only).
    name: the model's name on the site (default: from its path or class).
    ray: None runs the shards in this process; "auto" on a Ray instance started on this machine
    (`workers` CPUs); an address on that Ray cluster. threads: PyTorch threads per shard (None:
    all of this process' locally, 1 per Ray task).
    """
    start = time.perf_counter()
    runner = _runner(ray, workers, threads, device)  # a missing Ray fails before any work
    # On Ray the workers put the model on the device; the driver's copy stays where it is.
    adapter, model_name = open_model(model, None if ray else device)
    model_name = name or model_name
    dataset = open_data(data, limit)
    plan = make_plan(adapter, dataset.images, layers, settings)
    store = ShardStore(out)
    store.open(plan, resume)
    job = Job(plan, adapter, dataset.images, device=device)
    done = [s for s in plan.shards if store.done(s)]
    seconds: dict[str, float] = {}
    ran = 0
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(plan.shards),
        initial=len(done),
        desc="atlas",
        unit="shard",
        disable=not progress,
        dynamic_ncols=True,
    )
    with runner, bar:
        for stage in (FIRST_STAGE, SECOND_STAGE):
            if stage is SECOND_STAGE:
                job = replace(job, extremes=merged_scan(plan, store))
            todo = [s for s in plan.of_kind(*stage) if not store.done(s)]
            for shard, arrays, took in runner.run(todo, job):
                store.write(shard, arrays)
                seconds[shard.kind] = seconds.get(shard.kind, 0.0) + took
                ran += 1
                bar.set_postfix_str(shard.name, refresh=False)
                bar.update(1)
    extremes = job.extremes if job.extremes is not None else merged_scan(plan, store)
    facts = {
        "model": model_name,
        "data": dataset.name,
        "units": str(plan.unit_count),
        "ran on": runner.where,
    }
    index = write_site(
        SiteInputs(
            plan=plan,
            store=store,
            extremes=extremes,
            counts=merged_histograms(plan, store),
            images=dataset.images,
            title=f"Atlas of {model_name}",
            data_name=dataset.name,
            facts=facts,
        )
    )
    return AtlasSummary(
        out=store.out,
        index=index,
        units=plan.unit_count,
        seconds=time.perf_counter() - start,
        shards_run=ran,
        shards_resumed=len(done),
        where=runner.where,
        work_seconds=seconds,
    )


def merged_scan(plan: Plan, store: ShardStore) -> Extremes:
    """Every unit's extremes over all the data, from the scan shards (in the data's order)."""
    parts = [Extremes.from_arrays(store.read(s)) for s in plan.of_kind(SCAN)]
    return merge_extremes(parts, plan.settings.top)


def merged_histograms(plan: Plan, store: ShardStore) -> np.ndarray:
    """(units, bins) counts over all the data."""
    total = np.zeros((plan.unit_count, plan.settings.bins), dtype=np.int64)
    for shard in plan.of_kind(HISTOGRAM):
        total += store.read(shard)["counts"]
    return total


def _runner(ray: str | None, workers: int | None, threads: int | None, device: str | None):
    if ray is None:
        if workers is not None:
            raise ActmaxError("--workers sizes the Ray instance of --ray auto; add --ray auto")
        return LocalRunner(threads)
    from .ray_runner import RayRunner

    gpus = 1 if device is not None and str(device).startswith("cuda") else 0
    return RayRunner(ray, workers=workers, threads=threads or 1, gpus=gpus)
