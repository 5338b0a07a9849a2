"""How actmax uses the CPU's threads: the one place that sets PyTorch's thread count.

On a small CPU, OpenMP's fork and join around every op costs more than it gains on the small
tensors of a visualization or of a small network's training step, and stalls badly when the
machine is busy. Work on a batch is therefore cut into slices, one per thread, each running
single-threaded ops (PyTorch releases the GIL inside them). Results come back in slice order, so
anything combined from them is deterministic for a given thread count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import torch

T = TypeVar("T")


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` PyTorch CPU threads (None: as they are), then put the
    previous count back."""
    previous = torch.get_num_threads()
    if threads is not None and threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


class BatchWorkers:
    """Runs one function on the slices of a batch at the same time, one slice per worker thread.

    Each worker runs PyTorch ops with `threads_each` threads (PyTorch releases the GIL inside
    them), so on a small CPU a batch is worked on by all cores without OpenMP's per-op fork and
    join, which costs a lot on small tensors and stalls badly when the machine is busy. Results
    come back in slice order, so anything combined from them is deterministic. The calling
    thread is one of the workers. Use as a context manager.
    """

    def __init__(self, workers: int, threads_each: int = 1):
        self.workers = max(1, int(workers))
        self.threads_each = max(1, int(threads_each))
        self._pool: ThreadPoolExecutor | None = None
        self._previous_threads: int | None = None

    def __enter__(self) -> BatchWorkers:
        if self.workers > 1:
            self._previous_threads = torch.get_num_threads()
            torch.set_num_threads(self.threads_each)
            self._pool = ThreadPoolExecutor(
                self.workers - 1,
                thread_name_prefix="actmax-batch",
                initializer=torch.set_num_threads,
                initargs=(self.threads_each,),
            )
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._previous_threads is not None:
            torch.set_num_threads(self._previous_threads)
            self._previous_threads = None

    def slices(self, n: int, together: Sequence[Sequence[int]] = ()) -> list[slice]:
        """`n` items cut into at most `workers` nearly equal, contiguous, non-empty slices,
        never cutting through a group of `together` (rows that must be worked on as one)."""
        parts = max(1, min(self.workers, n))
        blocked = set()
        for group in together:
            if len(group) > 1:
                blocked.update(range(min(group) + 1, max(group) + 1))
        allowed = [cut for cut in range(1, n) if cut not in blocked]
        cuts = set()
        for i in range(1, parts):
            ideal = round(i * n / parts)
            if allowed:
                cuts.add(min(allowed, key=lambda cut: (abs(cut - ideal), cut)))
        bounds = [0, *sorted(cuts), n]
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def map(
        self, fn: Callable[[slice], T], n: int, together: Sequence[Sequence[int]] = ()
    ) -> list[T]:
        """`[fn(s) for s in self.slices(n, together)]`, the slices worked on concurrently."""
        parts = self.slices(n, together)
        if self._pool is None or len(parts) == 1:
            return [fn(part) for part in parts]
        futures = [self._pool.submit(fn, part) for part in parts[1:]]
        first = fn(parts[0])  # the calling thread takes a share too
        return [first, *(f.result() for f in futures)]

    @classmethod
    def for_cpu(cls, threads: int, batch_size: int, min_rows: int = 32) -> BatchWorkers:
        """One worker per thread, but no slice under `min_rows` rows: spare threads go inside."""
        workers = max(1, min(threads, batch_size // min_rows))
        return cls(workers, threads_each=max(1, threads // workers))
