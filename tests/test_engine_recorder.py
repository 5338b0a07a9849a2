"""The adapter's recorder: hooks registered once, each thread sees its own activations."""

from concurrent.futures import ThreadPoolExecutor

import torch

from actmax.adapters import as_adapter
from actmax.adapters.base import ModelAdapter


def test_recorder_matches_run_and_leaves_no_hooks(lab_model):
    adapter = as_adapter(lab_model)
    refs = [adapter.ref("l0"), adapter.ref("l3"), adapter.ref("l5", pre_activation=True)]
    x = torch.rand(3, 1, 28, 28)
    with adapter.recorder(refs) as forward:
        out, acts = forward(x)
        assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in lab_model.modules())
    expected_out, expected = adapter.run(x, refs)
    torch.testing.assert_close(out, expected_out)
    assert acts.keys() == expected.keys()
    for ref in refs:
        torch.testing.assert_close(acts[ref], expected[ref])
    assert acts[refs[0]] is x
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in lab_model.modules())


def test_each_thread_sees_only_its_own_activations(lab_model):
    adapter = as_adapter(lab_model)
    assert adapter.concurrent_recorder
    ref = adapter.ref("l5", pre_activation=True)
    inputs = [torch.rand(4, 1, 28, 28) for _ in range(2)]
    expected = [lab_model.logits(x) for x in inputs]

    with adapter.recorder([ref]) as forward:

        def work(i):
            return all(torch.equal(forward(inputs[i])[1][ref], expected[i]) for _ in range(30))

        with ThreadPoolExecutor(2) as pool:
            assert all(pool.map(work, [0, 1]))


def test_default_recorder_calls_run():
    calls = []

    class Minimal(ModelAdapter):
        model = torch.nn.Identity()
        input_shape = (1,)

        def layer_names(self):
            return ["input"]

        def all_names(self):
            return ["input"]

        def module(self, name):
            return None

        def run(self, x, refs):
            calls.append(list(refs))
            return x, {}

    adapter = Minimal()
    assert not adapter.concurrent_recorder
    with adapter.recorder(["r"]) as forward:
        forward(torch.zeros(1))
        forward(torch.zeros(1))
    assert calls == [["r"], ["r"]]
