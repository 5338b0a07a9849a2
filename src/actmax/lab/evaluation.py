"""How well a classifier does: test loss and accuracy, confusion matrix, per-class precision/recall.

The loss is Keras' categorical cross-entropy, computed from the logits (log-softmax) rather than
from clipped probabilities; the two agree except for predictions within 1e-7 of 0 or 1.
The confusion matrix follows scikit-learn's convention: rows are true classes, columns predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..parallel import BatchWorkers

Forward = Callable[[torch.Tensor], torch.Tensor]


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
    precision: Sequence[float],
    recall: Sequence[float],
    support: Sequence[int],
    labels: Sequence[str] | None = None,
) -> str:
    """Per-class precision, recall and support as a text table."""
    labels = [str(i) for i in range(len(support))] if labels is None else [str(s) for s in labels]
    width = max(5, *(len(s) for s in labels))
    lines = [f"{'class':>{width}} {'precision':>9} {'recall':>7} {'support':>7}"]
    for label, p, r, s in zip(labels, precision, recall, support, strict=True):
        lines.append(f"{label:>{width}} {p:>9.4f} {r:>7.4f} {int(s):>7}")
    return "\n".join(lines)
