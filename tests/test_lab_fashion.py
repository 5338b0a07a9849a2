"""`actmax lab --quick --dataset fashion-mnist` end to end: the whole lab on a second data set,
its classes named wherever classes are shown."""

import numpy as np
import pytest
import torch
from fashion_helpers import fashion_mnist
from lab_helpers import quick_run
from markupsafe import escape

from actmax.lab.checkpoint import load_model
from actmax.lab.data import FASHION_CLASSES


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    fashion_mnist()  # skipped when Fashion-MNIST is not installed
    result = quick_run(tmp_path_factory, "fashion", "--dataset", "fashion-mnist")
    assert result.exit_code == 0, result.output
    return result


def test_the_run_is_on_fashion_mnist_with_its_own_cache_entries(run):
    m = run.metrics
    assert m["settings"]["dataset"] == "fashion-mnist" and m["dataset"]["title"] == "Fashion-MNIST"
    assert m["dataset"]["class_names"] == list(FASHION_CLASSES)
    assert m["judge"]["dataset"] == "fashion-mnist"
    cached = [p.name for p in run.cache.iterdir()]
    assert any(name.startswith("lab_cnn-fashion-mnist-") for name in cached), cached
    assert "lab CNN on Fashion-MNIST" in run.output
    pairs = {tuple(r["classes"]): r["kind"] for r in m["pairs"]["rows"]}
    assert pairs == {(0, 6): "similar", (2, 4): "similar", (1, 8): "different", (3, 7): "different"}


def test_part1_numbers_are_the_models_on_the_fashion_test_set(run):
    data = fashion_mnist()
    t = run.metrics["training"]
    cm = np.asarray(t["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10000
    with torch.no_grad():
        predicted = load_model(run.out).logits(torch.from_numpy(data.x_test)).argmax(1).numpy()
    assert (predicted == data.y_test).mean() == pytest.approx(t["test_accuracy"])


def test_report_and_reading_name_the_classes_and_never_say_digit(run):
    html = run.report.read_text()
    m = run.metrics
    for name in FASHION_CLASSES:
        assert str(escape(name)) in html, name
    assert "digit" not in html.lower()
    text = " ".join(sum(m["reading"].values(), []))
    assert "digit" not in text.lower()
    weakest = min(m["classes"]["rows"], key=lambda r: r["activation"])
    assert f"{FASHION_CLASSES[weakest['target']]} at {weakest['activation']:.2f}x" in text
    errors = np.asarray(m["training"]["confusion_matrix"]) * (1 - np.eye(10, dtype=int))
    true, pred = np.unravel_index(np.argmax(errors), errors.shape)
    confusion = f"a true {FASHION_CLASSES[true]} read as a {FASHION_CLASSES[pred]}"
    assert confusion.replace("a A", "an A") in text
    assert "of the 10,000 test articles correctly" in text
    for paragraph in m["reading"]["answers"]:
        assert str(escape(paragraph)) in html
