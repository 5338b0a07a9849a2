"""A regularizer, a transform and a parametrization written outside actmax, used in one batched
call: the engine needs no edit for a new part."""

from dataclasses import dataclass

import numpy as np
import torch
from engine_helpers import linear_unit, one_thread  # noqa: F401

from actmax import logit, unit, visualize
from actmax.param import Canvas, Parametrization
from actmax.regularizers import Regularizer
from actmax.transforms import Transform


@dataclass(frozen=True)
class Brightness(Regularizer):
    """The mean pixel value: a weight > 0 darkens the image."""

    weight: float = 1.0
    name: str = "brightness"

    def penalty(self, x):
        return x.flatten(1).mean(1)


@dataclass(frozen=True)
class RandomFlip(Transform):
    """Mirror an image left to right on a random half of the steps."""

    until: float = 1.0

    def draw(self, generator, iterations, row, shape):
        return torch.rand(iterations, generator=generator) < 0.5

    def apply(self, x, draws):
        return torch.where(draws.view(-1, 1, 1, 1), x.flip(-1), x)


class Tanh(Parametrization):
    """x = lo + (hi - lo) * (tanh(z) + 1) / 2."""

    def from_image(self, x, canvas: Canvas):
        lo, hi = canvas.input_range
        return torch.atanh(((x - lo) / (hi - lo) * 2 - 1).clamp(-0.999, 0.999))

    def image(self, raw, canvas: Canvas):
        lo, hi = canvas.input_range
        return lo + (hi - lo) * (torch.tanh(raw) + 1) / 2

    def scale(self, canvas):
        return 2.0


def test_new_parts_run_in_a_batched_call_and_keep_rows_independent(lab_model):
    objectives = [logit(c) for c in (1, 3, 7)]
    parts = {
        "param": Tanh(),
        "transforms": [RandomFlip()],
        "regularizers": [Brightness(weight=[0.0, 2000.0, 0.0])],
        "iterations": 30,
        "seed": [3, 4, 5],
    }
    batch = visualize(lab_model, objectives, **parts)
    assert list(batch.history) == ["objective", "brightness", "loss"]
    assert batch.inputs.min() >= 0 and batch.inputs.max() <= 1
    # each row equals the same row run alone, custom random draws included
    alone = visualize(
        lab_model,
        objectives[1],
        **{**parts, "regularizers": [Brightness(2000.0)], "seed": 4},
    )
    np.testing.assert_allclose(batch.inputs[1:2], alone.inputs, atol=1e-5)
    # the new prior works: the weighed row is darker than without it
    plain = visualize(lab_model, objectives[1], **{**parts, "regularizers": [], "seed": 4})
    assert batch.inputs[1].mean() < plain.inputs[0].mean() - 0.05


def test_a_new_parametrization_reaches_a_known_optimum():
    model = linear_unit((3, 6, 6))
    w, b = model[1].weight.detach().flatten().numpy(), model[1].bias.item()
    best = b + np.maximum(w, 0).sum()
    result = visualize(model, unit("1", 0), param=Tanh(), regularizers=[], transforms=[])
    assert result.activations[0] >= 0.99 * best
