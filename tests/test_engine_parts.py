"""visualize() assembled from parts: the loss and history come from the regularizer list, the
shortcuts edit named parts, diversity couples its group and nothing else."""

import numpy as np
import pytest
import torch
from engine_helpers import one_thread  # noqa: F401

from actmax import as_adapter, channel, diversity, logit, visualize
from actmax.errors import ActmaxError
from actmax.objectives import gram_diversity
from actmax.parallel import BatchWorkers
from actmax.param import Fourier, Sigmoid
from actmax.recipes import ACTMAX, get_recipe
from actmax.regularizers import L2, LpNorm, TotalVariation
from actmax.transforms import Blur, Jitter, Rotate, Scale


def test_history_and_loss_come_from_the_regularizer_list(lab_model):
    regs = [TotalVariation(5.0, name="smooth"), L2([0.0, 3.0])]
    result = visualize(lab_model, [logit(1), logit(2)], regularizers=regs, iterations=4)
    assert list(result.history) == ["objective", "smooth", "l2", "loss"]
    h = result.history
    # relative weights (the actmax recipe): loss = -objective + sensitivity * sum(w * penalty)
    extra = h["loss"] + h["objective"]
    assert np.all(extra[:, 0] > 0)
    ratio = extra[:, 1] / (5.0 * h["smooth"][:, 1] + 3.0 * h["l2"][:, 1])
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)  # one sensitivity per row


def test_shortcuts_edit_the_named_parts():
    recipe = get_recipe("keras-vis")
    assert recipe.tv_weight == 10.0 and recipe.lp_weight == 10.0
    assert ACTMAX.regularizer("lp") == LpNorm(300.0, p=1.0)


def test_a_shortcut_without_its_part_is_refused(lab_model):
    with pytest.raises(ActmaxError, match="tv_weight needs a regularizer named 'tv'"):
        visualize(lab_model, logit(0), regularizers=[L2(1.0)], tv_weight=3.0, iterations=2)
    # a zero weight for a missing prior is harmless
    visualize(lab_model, logit(0), regularizers=[L2(1.0)], tv_weight=0.0, iterations=2)


def test_duplicate_regularizer_names_are_refused(lab_model):
    with pytest.raises(ActmaxError, match="unique"):
        visualize(lab_model, logit(0), regularizers=[L2(1.0), L2(2.0)], iterations=2)


@pytest.mark.parametrize(
    "parts",
    [
        {"param": Sigmoid()},
        {"param": Fourier()},
        {"transforms": [Jitter(2), Scale((0.9, 1.1)), Rotate(10), Blur((0.5, 1.0))]},
    ],
)
def test_rows_stay_independent_with_any_parts(lab_model, parts):
    objectives = [logit(3), channel("l2", 1), logit(8)]
    batch = visualize(lab_model, objectives, seed=[1, 2, 3], iterations=12, **parts)
    alone = visualize(lab_model, objectives[1], seed=2, iterations=12, **parts)
    np.testing.assert_allclose(batch.inputs[1:2], alone.inputs, atol=1e-5)


def test_diversity_makes_a_group_differ_and_leaves_other_rows_alone(lab_model):
    plain = [channel("l3", 4)] * 3
    diverse = [channel("l3", 4) + 5.0 * diversity("l3")] * 3
    seeds = [0, 1, 2]
    same = visualize(lab_model, plain + [logit(2)], seed=seeds + [9], iterations=30)
    apart = visualize(lab_model, diverse + [logit(2)], seed=seeds + [9], iterations=30)

    adapter = as_adapter(lab_model)

    def similarity(result):  # how alike the rows' Gram matrices at l3 are: what diversity lowers
        _, acts = adapter.run(result.inputs[:3], [adapter.ref("l3")])
        return -gram_diversity(acts[adapter.ref("l3")]).mean().item()

    assert similarity(apart) < similarity(same) - 0.05
    np.testing.assert_allclose(apart.inputs[3], same.inputs[3], atol=1e-6)


def test_thread_slices_never_cut_a_group():
    workers = BatchWorkers(2)
    assert workers.slices(16) == [slice(0, 8), slice(8, 16)]
    assert workers.slices(16, together=[[6, 7, 8, 9]]) == [slice(0, 6), slice(6, 16)]
    assert workers.slices(4, together=[[0, 1, 2, 3]]) == [slice(0, 4)]


def test_a_coupled_batch_gives_the_same_result_on_one_or_two_threads(lab_model):
    objectives = [channel("l3", k % 4) + diversity("l3", group=str(k // 4)) for k in range(16)]
    results = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        results.append(visualize(lab_model, objectives, seed=list(range(16)), iterations=5))
    np.testing.assert_allclose(results[0].inputs, results[1].inputs, atol=1e-5)


class Counting(torch.nn.Module):
    """Counts its calls (in a list its frozen copies share): which layers a pass computed."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x):
        self.calls.append(len(x))
        return x


def test_layers_after_the_objectives_are_not_computed():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), Counting(), torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 3),
    )  # fmt: skip
    model.input_shape = (1, 8, 8)
    early = visualize(model, channel("0", 1), iterations=20, regularizers=[])
    assert len(model[2].calls) <= 1  # at most the one traced pass that checks the model
    model[2].calls.clear()
    late = visualize(model, logit(2), iterations=20, regularizers=[])
    assert len(model[2].calls) >= 20  # the logits need every layer
    assert early.activations[0] > early.history["objective"][0, 0]
    assert late.activations[0] > late.history["objective"][0, 0]


def test_preprocess_puts_the_models_own_normalization_in_front(lab_model):
    from actmax import Normalize

    normalize = Normalize(0.25, 0.5)
    inside = torch.nn.Sequential(normalize_module(0.25, 0.5), lab_model)
    inside.input_shape = (1, 28, 28)
    given = visualize(
        lab_model, logit(3), iterations=6, preprocess=normalize, input_shape=(1, 28, 28)
    )
    built_in = visualize(inside, logit(3), iterations=6)
    np.testing.assert_allclose(given.activations, built_in.activations, rtol=1e-5)
    np.testing.assert_allclose(given.inputs, built_in.inputs, atol=1e-5)
    plain = visualize(lab_model, logit(3), iterations=6)
    assert not np.allclose(plain.activations, given.activations)


def normalize_module(mean: float, std: float) -> torch.nn.Module:
    class Normalized(torch.nn.Module):
        def forward(self, x):
            return (x - mean) / std

    return Normalized()
