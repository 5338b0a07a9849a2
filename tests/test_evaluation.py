import numpy as np
import pytest
import torch
from torch import nn

from actmax.lab.evaluation import (
    classification_report,
    confusion_matrix,
    evaluate,
    format_confusion_matrix,
    format_per_class,
    precision_recall,
)

Y_TRUE = [0, 0, 1, 1, 2, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0, 2]


def test_confusion_matrix_counts_true_rows_predicted_columns():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]


def test_precision_and_recall_by_hand():
    precision, recall = precision_recall(confusion_matrix(Y_TRUE, Y_PRED, 3))
    # precision = hits / column sums (2, 3, 2); recall = hits / row sums (2, 2, 3)
    np.testing.assert_allclose(precision, [1 / 2, 2 / 3, 2 / 2])
    np.testing.assert_allclose(recall, [1 / 2, 2 / 2, 2 / 3])


def test_class_never_predicted_or_absent_gets_zero_not_nan():
    cm = confusion_matrix([0, 0, 1], [0, 0, 0], 3)
    precision, recall = precision_recall(cm)
    np.testing.assert_allclose(precision, [2 / 3, 0, 0])
    np.testing.assert_allclose(recall, [1, 0, 0])


def test_report_holds_every_number():
    report = classification_report(Y_TRUE, Y_PRED, 3)
    assert report["accuracy"] == pytest.approx(5 / 7)
    assert report["support"] == [2, 2, 3]
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert report["precision"][1] == pytest.approx(2 / 3)


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix([0, 1], [0], 3)


def _hand_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def test_evaluate_loss_and_accuracy_against_hand_values():
    logits = np.array([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3], [5.0, 1.0, 1.0], [0.0, 3.0, 0.0]])
    y = np.array([0, 2, 1, 1])
    model = nn.Identity()  # the inputs are the logits
    for batch_size in (1, 3, 100):
        result = evaluate(model, logits.astype(np.float32), y, batch_size=batch_size)
        assert result.loss == pytest.approx(_hand_cross_entropy(logits, y), rel=1e-6)
        assert result.accuracy == 0.75  # the third example is wrong
        assert result.predictions.tolist() == [0, 2, 0, 1]


def test_evaluate_uses_logits_and_restores_training_mode(lab_model):
    x = torch.rand(6, 1, 28, 28)
    y = torch.arange(6)
    lab_model.train()
    result = evaluate(lab_model, x, y)
    assert lab_model.training
    with torch.no_grad():
        expected = nn.functional.cross_entropy(lab_model.logits(x), y).item()
    assert result.loss == pytest.approx(expected, rel=1e-5)


def test_text_tables():
    table = format_confusion_matrix(np.array([[12, 0], [3, 9]]))
    assert table.splitlines() == ["true\\pred  0  1", "        0 12  0", "        1  3  9"]
    per_class = format_per_class([1.0, 0.5], [0.25, 1.0], [4, 2]).splitlines()
    assert per_class[1].split() == ["0", "1.0000", "0.2500", "4"]
