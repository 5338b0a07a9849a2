import pytest
import torch

from actmax.adapters import as_adapter
from actmax.errors import ActmaxError
from actmax.objectives import (
    BatchObjective,
    channel,
    custom,
    direction,
    diversity,
    layer_mean,
    logit,
    neuron,
    unit,
    units,
)


def evaluate(model, objectives, x):
    adapter = as_adapter(model)
    batch = BatchObjective(objectives, adapter)
    _, acts = adapter.run(x, batch.refs)
    return batch(acts), acts, adapter


def test_each_row_gets_its_own_objective(lab_model):
    objectives = [
        logit(3),
        unit("l5", 1, pre_activation=True) - unit("l5", 7, pre_activation=True),
        channel("l1", 2),
        neuron("l2", 4),
        units(9, [1, 7]),
        layer_mean("l4"),
        2 * unit("l4", 3),
        unit("l3", 5),
        neuron("l1", 0, 3, 20),
    ]
    x = torch.rand(len(objectives), 1, 28, 28)
    values, acts, adapter = evaluate(lab_model, objectives, x)
    logits = lab_model.logits(x)
    probs = lab_model(x)
    a = {name: acts[adapter.ref(name)] for name in ("l1", "l2", "l3", "l4")}
    expected = torch.stack(
        [
            logits[0, 3],
            logits[1, 1] - logits[1, 7],
            a["l1"][2, 2].mean(),
            a["l2"][3, 4, 7, 7],
            probs[4, 1] + probs[4, 7],
            a["l4"][5].mean(),
            2 * a["l4"][6, 3],
            a["l3"][7, 5].mean(),
            a["l1"][8, 0, 3, 20],
        ]
    )
    torch.testing.assert_close(values, expected)


def test_algebra_names_and_weights():
    obj = 2 * unit("l5", 1) - unit("l5", 7) / 2
    assert [t.weight for t in obj.terms] == [2.0, -0.5]
    assert obj.name == "2·l5[1] - 0.5·l5[7]"
    assert sum([unit("l5", 1), unit("l5", 2)]) == units("l5", [1, 2])


def test_custom_objective_is_evaluated_per_row(lab_model):
    objectives = [unit("l4", 0), custom("l4", lambda a: a.max(dim=1).values, "max(l4)")]
    x = torch.rand(2, 1, 28, 28)
    values, acts, adapter = evaluate(lab_model, objectives, x)
    l4 = acts[adapter.ref("l4")]
    torch.testing.assert_close(values, torch.stack([l4[0, 0], l4[1].max()]))


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (unit("l5", 10), r"out of range for l5: it has 10 units \(0\.\.9\)"),
        (channel("l4", 0), "needs a layer with spatial positions"),
        (neuron("l1", 0, 30, 0), "outside"),
    ],
)
def test_bad_targets_give_clear_errors(lab_model, objective, message):
    with pytest.raises(ActmaxError, match=message):
        evaluate(lab_model, [objective], torch.rand(1, 1, 28, 28))


def test_direction_is_a_dot_product_in_channel_space(lab_model):
    x = torch.rand(2, 1, 28, 28)
    v = torch.randn(9)
    values, acts, adapter = evaluate(
        lab_model, [direction("l2", v), direction("l2", v, at=(3, 4))], x
    )
    act = acts[adapter.ref("l2")]
    torch.testing.assert_close(values[0], (act[0].mean((1, 2)) * v).sum())
    torch.testing.assert_close(values[1], (act[1, :, 3, 4] * v).sum())
    one_hot = torch.zeros(9)
    one_hot[5] = 1.0
    same, _, _ = evaluate(
        lab_model, [direction("l2", one_hot), channel("l2", 5)], x[:1].repeat(2, 1, 1, 1)
    )
    torch.testing.assert_close(same[0], same[1])


def test_channel_at_a_position_is_the_neuron_there(lab_model):
    x = torch.rand(1, 1, 28, 28).repeat(2, 1, 1, 1)
    values, _, _ = evaluate(lab_model, [channel("l2", 3, at=(2, 5)), neuron("l2", 3, 2, 5)], x)
    torch.testing.assert_close(values[0], values[1])


def test_diversity_couples_only_the_rows_of_its_group(lab_model):
    x = torch.rand(5, 1, 28, 28)
    objectives = [
        channel("l1", 0) + diversity("l1"),
        channel("l1", 0) + diversity("l1"),
        channel("l1", 0) + diversity("l1"),
        channel("l1", 0),
        channel("l1", 0) + diversity("l1", group="alone"),
    ]
    values, acts, adapter = evaluate(lab_model, objectives, x)
    act = acts[adapter.ref("l1")]
    grams = torch.stack([a.flatten(1) @ a.flatten(1).T for a in act[:3]]).flatten(1)
    grams = grams / grams.norm(dim=1, keepdim=True)
    similarity = grams @ grams.T
    means = act.mean((2, 3))[:, 0]
    for row in range(3):
        others = similarity[row].sum() - similarity[row, row]
        torch.testing.assert_close(values[row], means[row] - others / 3)
    torch.testing.assert_close(values[3], means[3])  # outside every group
    torch.testing.assert_close(values[4], means[4])  # a group of one has no one to differ from
    batch = BatchObjective(objectives, adapter)
    assert sorted(batch.coupled()) == [[0, 1, 2], [4]]


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (direction("l2", torch.ones(3)), "3 values but l2 has 9 channels"),
        (direction("l4", torch.ones(25), at=(1, 1)), "needs a layer with spatial positions"),
        (direction("l2", torch.ones(9), at=(99, 0)), "outside"),
    ],
)
def test_bad_directions_are_explained(lab_model, objective, message):
    with pytest.raises(ActmaxError, match=message):
        evaluate(lab_model, [objective], torch.rand(1, 1, 28, 28))
