"""Shards run one after another in this process; the engine spreads each over the CPU's threads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .plan import Shard
from .work import Arrays, Job, run_shard


class LocalRunner:
    """Runs shards in-process. threads: PyTorch CPU threads per shard (None: as they are)."""

    where = "this process"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def run(self, shards: Sequence[Shard], job: Job) -> Iterator[tuple[Shard, Arrays, float]]:
        """Each shard's arrays and seconds, as each finishes."""
        for shard in shards:
            arrays, seconds = run_shard(shard, job, self.threads)
            yield shard, arrays, seconds
