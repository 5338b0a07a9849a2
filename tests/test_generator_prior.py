"""visualize_with_prior: a latent search through a generator, then a short pixel polish."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import actmax
from actmax import GeneratorPrior, visualize_with_prior


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )


def _generator(latent: int = 5, seed: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(latent, 36), nn.Sigmoid(), nn.Unflatten(1, (1, 6, 6)))


OBJECTIVES = [actmax.logit(c) for c in range(3)]


def test_keeps_the_start_whose_objective_went_highest():
    model, gen = _model(), _generator()
    four = visualize_with_prior(
        model, OBJECTIVES, gen, (5,), prior=GeneratorPrior(starts=4, polish=0), seed=[0, 1, 2]
    )
    # start j of objective i draws from seed i * 4 + j: the same row as a one-start call
    singles = np.stack(
        [
            visualize_with_prior(
                model,
                OBJECTIVES,
                gen,
                (5,),
                prior=GeneratorPrior(starts=1, polish=0),
                seed=[i * 4 + j for i in range(3)],
            ).activations
            for j in range(4)
        ]
    )
    np.testing.assert_allclose(four.activations, singles.max(0), rtol=1e-5, atol=1e-6)
    assert four.history["objective"].shape == (200, 3)


def test_polish_lifts_every_objective_with_small_steps_inside_the_range():
    model, gen = _model(), _generator()
    found = visualize_with_prior(model, OBJECTIVES, gen, (5,), prior=GeneratorPrior(polish=0))
    prior = GeneratorPrior(polish=30, polish_lr=0.02)
    polished = visualize_with_prior(model, OBJECTIVES, gen, (5,), prior=prior)
    assert np.all(polished.activations > found.activations)
    assert polished.inputs.min() >= 0 and polished.inputs.max() <= 1
    # Adam moves a pixel by at most about lr per step
    moved = (polished.inputs - found.inputs).abs().max().item()
    assert 0 < moved <= prior.polish * prior.polish_lr * 1.05
    history = polished.history
    assert history["objective"].shape == (200 + 30, 3)
    assert np.isnan(history["latent"][200:]).all() and np.isfinite(history["latent"][:200]).all()
    assert polished.recipe == "generator prior"


def test_a_linear_unit_reaches_its_box_optimum():
    """Known answer: w . x over the box [0, 1]^n peaks at x = [w > 0], worth sum(max(w, 0)).
    A generator that can draw any image (a sigmoid of one code per pixel) and no latent penalty
    must get there."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    generator = nn.Sequential(nn.Sigmoid(), nn.Unflatten(1, (1, 8, 8)))
    result = visualize_with_prior(
        model,
        [actmax.logit(0), actmax.logit(1)],
        generator,
        (64,),
        prior=GeneratorPrior(latent_weight=0.0),
    )
    w, b = model[1].weight.detach(), model[1].bias.detach()
    optimum = w.clamp(min=0).sum(1) + b
    assert np.all(result.activations >= 0.99 * optimum.numpy())
    best = (w > 0).float().view(2, 1, 8, 8)
    assert (result.inputs.round() == best).float().mean() > 0.97


def test_the_same_seed_gives_the_same_images():
    model, gen = _model(), _generator()
    a = visualize_with_prior(model, OBJECTIVES, gen, (5,), seed=7)
    b = visualize_with_prior(model, OBJECTIVES, gen, (5,), seed=7)
    c = visualize_with_prior(model, OBJECTIVES, gen, (5,), seed=8)
    torch.testing.assert_close(a.inputs, b.inputs, rtol=0, atol=0)
    assert not torch.equal(a.inputs, c.inputs)


def test_the_model_and_the_generator_are_left_as_they_were():
    model, gen = _model(), _generator()
    gen.insert(1, nn.BatchNorm1d(36))  # in training mode: a forward pass would move its stats
    model.train()
    before = [p.detach().clone() for p in [*model.parameters(), *gen.parameters()]]
    visualize_with_prior(model, OBJECTIVES, gen, (5,), prior=GeneratorPrior(iterations=20))
    after = [*model.parameters(), *gen.parameters()]
    assert all(torch.equal(x, y) for x, y in zip(before, after, strict=True))
    assert model.training and all(p.requires_grad for p in after)
    assert gen.training and gen[1].num_batches_tracked.item() == 0
    assert torch.equal(gen[1].running_mean, torch.zeros(36))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"starts": 0}, "starts must be a whole number >= 1"),
        ({"iterations": 2.5}, "iterations must be a whole number >= 1"),
        ({"polish": -1}, "polish must be a whole number >= 0"),
        ({"latent_weight": -1.0}, "latent_weight must be >= 0"),
        ({"polish_lr": 0.0}, "polish_lr must be > 0"),
    ],
)
def test_bad_settings_are_one_clear_error(settings, message):
    with pytest.raises(actmax.ActmaxError, match=message):
        GeneratorPrior(**settings)


def test_bad_calls_are_one_clear_error():
    model, gen = _model(), _generator()
    with pytest.raises(actmax.ActmaxError, match="one value or one per objective"):
        visualize_with_prior(model, OBJECTIVES, gen, (5,), seed=[1, 2])
    with pytest.raises(actmax.ActmaxError, match="2 titles for 3 objectives"):
        visualize_with_prior(model, OBJECTIVES, gen, (5,), titles=["a", "b"])
    with pytest.raises(actmax.ActmaxError, match="no objectives"):
        visualize_with_prior(model, [], gen, (5,))
    with pytest.raises(actmax.ActmaxError, match=r"does not take codes of shape \(4,\)"):
        visualize_with_prior(model, OBJECTIVES, gen, (4,))
    with pytest.raises(actmax.ActmaxError, match=r"must draw images \(N, C, H, W\), got \(1, 36\)"):
        visualize_with_prior(model, OBJECTIVES, gen[:2], (5,))
    # a sigmoid draws in [0, 1]: not in a model's [-1, 0]
    with pytest.raises(actmax.ActmaxError, match=r"outside the model's input range \[-1, 0\]"):
        visualize_with_prior(model, OBJECTIVES, gen, (5,), input_range=(-1.0, 0.0))
    model.input_shape = (1, 6, 6)
    wide = nn.Sequential(nn.Linear(5, 49), nn.Sigmoid(), nn.Unflatten(1, (1, 7, 7)))
    with pytest.raises(actmax.ActmaxError, match=r"draws images of shape \(1, 7, 7\); the model"):
        visualize_with_prior(model, OBJECTIVES, wide, (5,))
