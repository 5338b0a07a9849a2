"""Shards as Ray tasks: the same shards as a local run, spread over a Ray cluster.

The model, the data and the merged scan go into Ray's object store once; each task gets
references to them, asks for its CPUs (and a GPU when the atlas runs on CUDA) and returns its
arrays to the driver, which writes the shard file. A task whose worker dies is run again by Ray
(`max_retries`); its shard is written once, when a run of it returns.

Ray is an optional dependency (`pip install actmax[ray]`), imported only here. A Ray instance
started by actmax (`address="auto"`) lives on this machine only: every process binds to the
loopback, with no dashboard and no usage statistics.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence

from ..errors import ActmaxError
from .plan import Plan, Shard
from .topk import Extremes
from .work import Arrays, Job, run_shard

#: Set before Ray is imported: `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` is Ray's single-machine
#: mode, in which it takes the loopback as the node's address instead of the network's.
LOOPBACK_ENVIRONMENT = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}
LOOPBACK = "127.0.0.1"
RETRIES = 3


def import_ray():
    try:
        import ray
    except ImportError:
        raise ActmaxError(
            "--ray needs Ray: pip install 'actmax[ray]' (or run without --ray)"
        ) from None
    return ray


def start_local_ray(num_cpus: int | None = None, num_gpus: int | None = None):
    """Start a Ray instance on this machine, reachable from it only, and return the module.

    Every Ray process binds to 127.0.0.1; the dashboard and usage statistics are off.
    """
    _single_machine()
    ray = import_ray()
    ray.init(
        address="local",
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        _node_ip_address=LOOPBACK,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    node = ray.util.get_node_ip_address()
    if node != LOOPBACK:
        ray.shutdown()
        raise ActmaxError(f"Ray took {node} as this node's address instead of {LOOPBACK}")
    return ray


def _single_machine() -> None:
    """Ray's single-machine mode, set before Ray is imported (or, if it already is, in the
    constant the variable sets), and no usage statistics."""
    os.environ.update(LOOPBACK_ENVIRONMENT)
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False


def _shard_task(
    shard: Shard,
    plan: Plan,
    adapter,
    images,
    extremes: Extremes | None,
    device: str | None,
    threads: int,
) -> tuple[Arrays, float]:
    """One shard in a Ray worker (the references arrive as the values they stand for)."""
    job = Job(plan, adapter, images, device=device, extremes=extremes)
    return run_shard(shard, job, threads)


class RayRunner:
    """Runs shards as Ray tasks.

    address: "auto" starts a Ray instance on this machine for the run (loopback only, `workers`
    CPUs, default all) unless Ray is already initialized in this process; any other value is
    the address of a running cluster (host:port or ray://host:port).
    threads: CPUs each task asks for and the PyTorch threads it runs with.
    gpus: GPUs each task asks for (1 when the atlas runs on CUDA).
    """

    def __init__(
        self,
        address: str = "auto",
        workers: int | None = None,
        threads: int = 1,
        gpus: float = 0,
    ):
        if threads < 1:
            raise ActmaxError(f"threads per task must be >= 1, got {threads}")
        self.address, self.workers, self.threads, self.gpus = address, workers, threads, gpus
        if address == "auto":
            _single_machine()
        import_ray()  # installed? say so now, before any work
        self.ray = None
        self._started = False
        self._refs: dict[str, object] = {}

    @property
    def where(self) -> str:
        return "a local Ray instance" if self.address == "auto" else f"Ray at {self.address}"

    def __enter__(self) -> RayRunner:
        ray = import_ray()
        if not ray.is_initialized():
            if self.address == "auto":
                start_local_ray(num_cpus=self.workers or os.cpu_count() or 1)
            else:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                try:
                    ray.init(
                        address=self.address, log_to_driver=False, logging_level=logging.WARNING
                    )
                except (ConnectionError, ValueError, RuntimeError) as exc:
                    raise ActmaxError(
                        f"cannot join the Ray cluster at {self.address}: {exc}"
                    ) from None
            self._started = True
        self.ray = ray
        return self

    def __exit__(self, *exc) -> None:
        self._refs.clear()
        if self._started:
            self.ray.shutdown()
            self._started = False

    def _put(self, key: str, value) -> object:
        """Each object goes into the store once per run, however many stages use it."""
        if key not in self._refs:
            try:
                self._refs[key] = self.ray.put(value)
            except Exception as exc:  # pickling errors come in many types
                raise ActmaxError(f"cannot send the {key} to Ray workers: {exc}") from None
        return self._refs[key]

    def run(self, shards: Sequence[Shard], job: Job) -> Iterator[tuple[Shard, Arrays, float]]:
        """Each shard's arrays and seconds, as each finishes (in any order)."""
        ray = self.ray
        if not shards:
            return
        model = self._put("model", job.adapter)
        images = self._put("data", job.images)
        extremes = ray.put(job.extremes) if job.extremes is not None else None
        task = ray.remote(_shard_task).options(
            name="actmax-atlas-shard",
            num_cpus=self.threads,
            num_gpus=self.gpus,
            max_retries=RETRIES,
            retry_exceptions=False,
        )
        pending = {
            task.remote(shard, job.plan, model, images, extremes, job.device, self.threads): shard
            for shard in shards
        }
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    shard = pending.pop(ref)
                    arrays, seconds = self._get(ref, shard)
                    yield shard, arrays, seconds
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _get(self, ref, shard: Shard) -> tuple[Arrays, float]:
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, ActmaxError):
                raise ActmaxError(str(exc.cause)) from None
            raise
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
            raise ActmaxError(
                f"shard {shard.name} failed {RETRIES + 1} times: its Ray worker died ({exc})"
            ) from None
