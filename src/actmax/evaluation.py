"""How well a classifier does: test loss and accuracy, confusion matrix, per-class precision/recall.

The loss is Keras' categorical cross-entropy, computed from the logits (log-softmax) rather than
from clipped probabilities; the two agree except for predictions within 1e-7 of 0 or 1.
The confusion matrix follows scikit-learn's convention: rows are true classes, columns predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Forward = Callable[[torch.Tensor], torch.Tensor]
T = TypeVar("T")


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

    def slices(self, n: int) -> list[slice]:
        """`n` items cut into at most `workers` nearly equal, contiguous, non-empty slices."""
        parts = max(1, min(self.workers, n))
        bounds = [round(i * n / parts) for i in range(parts + 1)]
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def map(self, fn: Callable[[slice], T], n: int) -> list[T]:
        """`[fn(s) for s in self.slices(n)]`, the slices worked on concurrently."""
        parts = self.slices(n)
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


def logits_of(model: nn.Module) -> Forward:
    """The function giving a model's logits: `model.logits` when it has one, else `model`."""
    logits = getattr(model, "logits", None)
    return logits if callable(logits) else model


@dataclass(frozen=True)
class Evaluation:
    """Mean cross-entropy, accuracy, and the predicted class of every example."""

    loss: float
    accuracy: float
    predictions: np.ndarray


def _as_tensor(a: np.ndarray | torch.Tensor) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.asarray(a))


def evaluate(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 512,
    forward: Forward | None = None,
    device: str | torch.device | None = None,
    workers: BatchWorkers | None = None,
) -> Evaluation:
    """Evaluate in inference mode and large batches; the model's train/eval mode is restored.

    With `workers`, each batch is shared out among their CPU threads.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    forward = forward if forward is not None else logits_of(model)
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x, y = _as_tensor(x), _as_tensor(y).long()
    n = len(y)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    predictions = torch.empty(n, dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, n, batch_size):
            xb = x[start : start + batch_size].to(device, non_blocking=True)
            yb = y[start : start + batch_size].to(device, non_blocking=True)

            def run(part: slice, xb=xb, yb=yb) -> tuple[torch.Tensor, torch.Tensor]:
                with torch.inference_mode():  # a per-thread setting: enter it in each thread
                    logits = forward(xb[part]).float()
                    loss = F.cross_entropy(logits, yb[part], reduction="sum").double()
                    return loss, logits.argmax(dim=1)

            parts = workers.map(run, len(yb)) if workers is not None else [run(slice(None))]
            with torch.inference_mode():
                for loss, _ in parts:
                    loss_sum += loss
                predictions[start : start + len(yb)] = torch.cat([p for _, p in parts])
        correct = (predictions == y.to(device)).sum()
    finally:
        model.train(was_training)
    return Evaluation(
        loss=float(loss_sum) / max(n, 1),
        accuracy=float(correct) / max(n, 1),
        predictions=predictions.cpu().numpy(),
    )


def confusion_matrix(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int
) -> np.ndarray:
    """Counts `cm[i, j]` of examples of true class i predicted as class j."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(f"{name} holds labels outside 0..{n_classes - 1}")
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def precision_recall(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision (of the column) and recall (of the row); 0 where undefined (0/0)."""
    cm = np.asarray(cm, dtype=np.float64)
    hits = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    return precision, recall


def classification_report(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int
) -> dict:
    """Every number about the predictions, as plain JSON-able lists and floats."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    precision, recall = precision_recall(cm)
    total = int(cm.sum())
    return {
        "accuracy": float(np.trace(cm)) / total if total else 0.0,
        "confusion_matrix": cm.tolist(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "support": cm.sum(axis=1).tolist(),
    }


def format_confusion_matrix(cm: np.ndarray, labels: Sequence[str] | None = None) -> str:
    """The confusion matrix as a text table (rows: true class, columns: predicted class)."""
    cm = np.asarray(cm)
    labels = [str(i) for i in range(len(cm))] if labels is None else [str(s) for s in labels]
    width = max(len(str(int(cm.max()))) if cm.size else 1, *(len(s) for s in labels))
    corner = "true\\pred"
    head_width = max(len(corner), *(len(s) for s in labels))
    header = f"{corner:>{head_width}} " + " ".join(f"{s:>{width}}" for s in labels)
    rows = [
        f"{label:>{head_width}} " + " ".join(f"{int(v):>{width}}" for v in row)
        for label, row in zip(labels, cm, strict=True)
    ]
    return "\n".join([header, *rows])


def format_per_class(
    precision: Sequence[float], recall: Sequence[float], support: Sequence[int]
) -> str:
    """Per-class precision, recall and support as a text table."""
    lines = [f"{'class':>5} {'precision':>9} {'recall':>7} {'support':>7}"]
    for i, (p, r, s) in enumerate(zip(precision, recall, support, strict=True)):
        lines.append(f"{i:>5} {p:>9.4f} {r:>7.4f} {int(s):>7}")
    return "\n".join(lines)
