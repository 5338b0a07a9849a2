"""Vector inputs (F,): a model that takes a feature vector, not an image, is visualized too."""

import numpy as np
import torch
from engine_helpers import one_thread  # noqa: F401
from torch import nn

from actmax.engine import visualize
from actmax.objectives import unit
from actmax.regularizers import LpNorm


def dense(features=5, outputs=3, seed=0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(features, outputs))
    model.input_shape = (features,)
    return model


def test_keras_vis_steps_on_a_linear_unit_have_the_closed_form():
    """d(loss)/dx = -w everywhere, so keras-vis' update is the RMSProp of a constant gradient:
    step t moves x by g / sqrt((1 - 0.95^t) g^2 + 1e-7) element-wise, with g = w / |w|."""
    model = dense()
    steps = 12
    x0 = torch.linspace(-1.0, 1.0, 5)
    result = visualize(
        model,
        unit("0", 1),
        recipe="keras-vis",
        regularizers=[],
        iterations=steps,
        seed_input=x0,
    )
    w = model[0].weight[1].detach().double()
    g = w / w.norm()
    moved = sum(g / torch.sqrt((1 - 0.95**t) * g**2 + 1e-7) for t in range(1, steps + 1))
    assert result.inputs.shape == (1, 5) and result.images.shape == (1, 5)
    # each step raises the unit, so the best iterate is the last one
    np.testing.assert_allclose(result.inputs[0].double(), x0.double() + moved, rtol=1e-5)


def test_the_actmax_recipe_and_a_prior_run_on_vectors():
    model = dense()
    result = visualize(
        model, [unit("0", 0), unit("0", 2)], regularizers=[LpNorm(0.1, p=2)], iterations=30
    )
    w = model[0].weight.detach()
    assert result.inputs.shape == (2, 5)
    # the bounded recipe drives every coordinate toward the end of the range that w favours
    for row, unit_index in enumerate((0, 2)):
        favoured = (w[unit_index] > 0).float()
        strong = w[unit_index].abs() > 0.05
        assert torch.equal((result.inputs[row] > 0.5)[strong], favoured.bool()[strong])
