import pytest
import torch

from actmax.adapters import as_adapter
from actmax.errors import ActmaxError
from actmax.objectives import (
    BatchObjective,
    channel,
    custom,
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
