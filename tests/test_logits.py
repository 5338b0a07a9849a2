"""`logit(c)` is the c-th pre-softmax output on every kind of classifier, or a clear error."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import actmax
from actmax import logit, unit
from actmax.adapters import as_adapter
from actmax.attribution import saliency
from actmax.errors import ActmaxError, LayerNotFoundError
from actmax.objectives import BatchObjective


def values(model, objectives, x, **adapter_options):
    adapter = as_adapter(model, **adapter_options)
    batch = BatchObjective(objectives, adapter)
    _, acts = adapter.run(x, batch.refs)
    return batch(acts)


class LinearEnded(nn.Module):
    """The usual PyTorch classifier: logits out, and a dropout declared after the last layer
    although forward applies it before."""

    input_shape = (1, 6, 6)

    def __init__(self, softmax: str | None = None):
        super().__init__()
        self.fc1 = nn.Linear(36, 12)
        self.fc2 = nn.Linear(12, 4)
        self.drop = nn.Dropout(0.5)
        self.softmax = softmax

    def forward(self, x):
        out = self.fc2(self.drop(F.relu(self.fc1(x.flatten(1)))))
        if self.softmax == "softmax":
            return F.softmax(out, dim=1)
        if self.softmax == "log_softmax":
            return F.log_softmax(out, dim=1)
        return out


@pytest.fixture
def x():
    return torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(0))


def test_a_linear_ended_model_has_its_output_read(x):
    model = LinearEnded().eval()
    got = values(model, [logit(c) for c in (0, 3, 1)], x)
    torch.testing.assert_close(got, model(x)[[0, 1, 2], [0, 3, 1]])


def test_the_last_layer_comes_from_the_forward_pass_not_the_registration_order(x):
    model = LinearEnded().eval()
    adapter = as_adapter(model)
    assert adapter.layer_names()[-1] == "drop"
    assert adapter.resolve(-1) == "fc2"
    torch.testing.assert_close(values(model, [unit(-1, 2)] * 3, x), model(x)[:, 2])
    assert logit(2).describe(adapter) == "fc2[2]"


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
def test_a_softmax_inside_forward_is_refused_with_the_fix(x, kind):
    adapter = as_adapter(LinearEnded(kind))
    with pytest.raises(ActmaxError) as error:
        values(adapter, [logit(1)] * 3, x)
    message = str(error.value)
    assert "probabilities" in message and "nn.Softmax module" in message
    assert "logit(c, layer='fc2')" in message  # the layer that computes the logits
    # the fix works: naming the layer reads its logits
    model = LinearEnded(kind).eval()
    got = values(model, [logit(1, "fc2")] * 3, x)
    model.softmax = None
    torch.testing.assert_close(got, model(x)[:, 1])


class SoftmaxInsideAModule(nn.Module):
    """The output is made by a module whose own forward ends in a softmax call."""

    input_shape = (1, 6, 6)

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(36, 5)

        def forward(self, x):
            return torch.softmax(self.linear(x.flatten(1)), 1)

    def __init__(self):
        super().__init__()
        self.head = self.Head()

    def forward(self, x):
        return self.head(x)


def test_probabilities_made_by_a_module_are_refused_when_read(x):
    adapter = as_adapter(SoftmaxInsideAModule())
    assert adapter.logit_ref().name == "head"
    with pytest.raises(
        ActmaxError, match=r"output of 'head' is probabilities.*layer='head.linear'"
    ):
        values(adapter, [logit(0)] * 3, x)


def test_int_targets_in_attribution_follow_the_same_rules(x):
    model = LinearEnded().eval()
    result = saliency(model, x, target=[0, 1, 2])
    assert result.targets == ("class 0", "class 1", "class 2")
    xg = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(model(xg)[[0, 1, 2], [0, 1, 2]].sum(), xg)
    torch.testing.assert_close(torch.from_numpy(result.raw), expected)
    with pytest.raises(ActmaxError, match="probabilities"):
        saliency(LinearEnded("softmax"), x, target=1)
    with pytest.raises(ActmaxError, match="probabilities"):
        saliency(SoftmaxInsideAModule(), x)  # the predicted class: a logit as well


def test_a_final_softmax_module_or_container_is_read_before_it(x):
    module_ended = nn.Sequential(nn.Flatten(), nn.Linear(36, 4), nn.Softmax(dim=1)).eval()
    torch.testing.assert_close(values(module_ended, [logit(2)] * 3, x), module_ended[:2](x)[:, 2])

    class WithHead(nn.Module):
        input_shape = (1, 6, 6)

        def __init__(self):
            super().__init__()
            self.body = nn.Flatten()
            self.head = nn.Sequential(nn.Linear(36, 4), nn.Dropout(), nn.Softmax(dim=1))

        def forward(self, x):
            return self.head(self.body(x))

    model = WithHead().eval()
    adapter = as_adapter(model)
    assert str(adapter.logit_ref()) == "head.2:pre"
    torch.testing.assert_close(values(model, [logit(1)] * 3, x), model.head[0](x.flatten(1))[:, 1])


def test_a_hidden_layers_logits_are_its_pre_activation(lab_model):
    adapter = as_adapter(lab_model)
    assert str(adapter.ref("l4", None)) == "l4:pre" and str(adapter.ref("flat", None)) == "flat"
    assert logit(3).describe(adapter) == "l5:pre[3]"


def test_without_an_input_shape_only_a_sequential_has_an_obvious_last_layer():
    sequential = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Dropout())
    assert as_adapter(sequential).resolve(-1) == "1"

    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

        def forward(self, x):
            return self.b(self.a(x))

    with pytest.raises(LayerNotFoundError, match=r"input_shape=\(C, H, W\)"):
        as_adapter(Plain()).resolve(-1)
    assert as_adapter(Plain(), input_shape=(4,)).resolve(-1) == "b"


def test_an_output_made_after_the_last_module_needs_a_named_layer():
    class Squeezed(nn.Module):
        input_shape = (3,)

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x) * 2

    with pytest.raises(
        LayerNotFoundError, match=r"after its last module \('fc'\).*unit\('fc', c\)"
    ):
        as_adapter(Squeezed()).resolve(-1)


def test_visualize_maximizes_the_logit_of_a_linear_ended_model():
    torch.manual_seed(0)
    model = LinearEnded().eval()
    priors = {"tv_weight": 0, "lp_weight": 0, "jitter": 0}
    result = actmax.visualize(model, [logit(0), logit(3)], iterations=30, seed=[0, 1], **priors)
    logits = model(result.inputs)
    torch.testing.assert_close(torch.from_numpy(result.activations), logits[[0, 1], [0, 3]])
    assert result.titles == ["fc2[0]", "fc2[3]"]
    assert (result.activations > result.history["objective"][0] + 0.2).all()


def test_keras_logits_on_linear_softmax_and_op_ended_models():
    from keras_lab import keras, layers

    x = torch.rand(2, 1, 4, 4)
    inputs = keras.Input((4, 4, 1))
    hidden = layers.Flatten(name="flat")(inputs)
    linear = keras.Model(inputs, layers.Dense(3, name="logits")(hidden))
    softmax = keras.Model(inputs, layers.Dense(3, activation="softmax", name="probs")(hidden))
    dense = layers.Dense(3, name="dense")
    op_ended = keras.Model(inputs, keras.ops.softmax(dense(hidden)))
    flat = x.permute(0, 2, 3, 1).reshape(2, -1)

    torch.testing.assert_close(
        values(linear, [logit(2)] * 2, x), linear(flat.view(2, 4, 4, 1))[:, 2]
    )
    probs = softmax.get_layer("probs")
    kernel, bias = probs.kernel.value.detach(), probs.bias.value.detach()
    torch.testing.assert_close(values(softmax, [logit(2)] * 2, x), (flat @ kernel + bias)[:, 2])
    with pytest.raises(ActmaxError, match=r"probabilities.*logit\(c, layer='dense'\)"):
        values(op_ended, [logit(2)] * 2, x)

    nested = keras.Sequential([keras.Input((4, 4, 1)), softmax], name="outer")
    assert str(as_adapter(nested).logit_ref()) == "probs:pre"
