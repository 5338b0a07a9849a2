"""The learned prior: the rule that weighs the latent penalty, and images drawn by a generator."""

import numpy as np
import torch
from engine_helpers import one_thread, train_lab_cnn  # noqa: F401
from training_helpers import mnist

from actmax.lab.experiments import LabSettings
from actmax.lab.learned_prior import _best_start, _optimize, choose_weight
from actmax.lab.vae import VAEConfig, train_vae


def summary(min_activation):
    return {"min_activation": min_activation}


def test_rule_takes_the_strongest_penalty_that_keeps_every_class_strong():
    weights = [1, 4, 16, 64]
    summaries = [summary(1.2), summary(1.1), summary(1.0), summary(0.9)]
    assert choose_weight(weights, summaries) == 16.0


def test_rule_falls_back_to_the_strongest_weakest_class():
    assert choose_weight([1, 4], [summary(0.8), summary(0.95)]) == 4.0


def test_best_start_keeps_the_highest_objective():
    values = np.array([[[0.1, 0.9, 0.3], [2.0, 1.0, 0.0]]])  # 1 weight, 2 objectives, 3 starts
    images = np.arange(6, dtype=float).reshape(1, 2, 3, 1, 1, 1) * np.ones((1, 1, 1, 2, 2, 1))
    norms = np.array([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]])
    kept, best, n = _best_start(images, values, norms)
    assert best.tolist() == [[0.9, 2.0]] and n.tolist() == [[2.0, 4.0]]
    assert kept[0, 0, 0, 0, 0] == 1.0 and kept[0, 1, 0, 0, 0] == 3.0


def test_generator_images_are_its_drawings_and_the_penalty_pulls_z_in():
    data = mnist()
    vae = train_vae(data.x_train, data.x_test[:100], VAEConfig(epochs=1, train_subset=2000))
    model, _, _ = train_lab_cnn(n_train=3000)
    settings = LabSettings(iterations=40, device="cpu")
    from actmax.objectives import logit

    images, values, norms = _optimize(model, vae.model, [logit(3)], [0.0, 50.0], 2, settings, False)
    assert images.shape == (2, 1, 2, 28, 28, 1) and values.shape == norms.shape == (2, 1, 2)
    # Every image is something the decoder drew: within [0, 1], and strictly inside (a sigmoid).
    assert images.min() > 0 and images.max() < 1
    # A strong penalty keeps the codes nearer the prior than none.
    assert norms[1].mean() < norms[0].mean()
    # Seeded: the same call gives the same images.
    again, _, _ = _optimize(model, vae.model, [logit(3)], [0.0, 50.0], 2, settings, False)
    np.testing.assert_array_equal(images, again)
    z = torch.zeros(1, vae.model.latent)
    assert vae.model(z).shape == (1, 1, 28, 28)
