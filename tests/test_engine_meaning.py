"""On a (briefly) trained lab CNN, class visualizations beat every real digit of their class."""

import numpy as np
import pytest
import torch
from engine_helpers import one_thread, train_lab_cnn  # noqa: F401

from actmax.engine import visualize
from actmax.objectives import logit


@pytest.fixture(scope="module")
def trained():
    model, x_test, y_test = train_lab_cnn()
    with torch.no_grad():
        logits = model.logits(x_test)
    assert (logits.argmax(1) == y_test).float().mean() > 0.8
    best_real = np.array([logits[y_test == c, c].max().item() for c in range(10)])
    return model, best_real


def test_actmax_class_images_beat_the_best_real_digit_of_their_class(trained):
    model, best_real = trained
    result = visualize(model, [logit(c) for c in range(10)])
    ratios = result.activations / best_real
    assert np.all(ratios > 1.0), f"logit / best real digit per class: {ratios.round(2)}"
    # ... with images that are real inputs: inside [0, 1], mostly dark background like MNIST
    assert result.inputs.min() >= 0 and result.inputs.max() <= 1
    assert np.median(result.inputs.numpy()) < 0.1


def test_keras_vis_class_images_also_beat_them_outside_the_range(trained):
    model, best_real = trained
    result = visualize(model, [logit(c) for c in range(10)], recipe="keras-vis", tv_weight=0.5)
    assert np.all(result.activations / best_real > 1.0)
    # keras-vis never enforces the range: its images are far outside [0, 1]
    assert result.inputs.abs().max() > 2
