"""The caller's model is left alone: another thread reading it during a call sees it unchanged.

A gate module pauses the first batched forward pass of the call until a second thread has taken
a snapshot of the caller's model: every parameter's and buffer's identity, storage, device,
layout and requires_grad, every module's training flag and its hooks. The snapshot must equal
the one taken before the call (and so must the model after it).
"""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

import actmax
from actmax.adapters import as_adapter
from actmax.attribution import grad_cam, saliency

WAIT_S = 60


class Gate(nn.Module):
    """Passes its input on; the first batched call waits until the reader has looked."""

    def __init__(self):
        super().__init__()
        self.entered = threading.Event()
        self.looked = threading.Event()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 1 and not self.entered.is_set():
            self.entered.set()
            self.looked.wait(WAIT_S)
        return x


class Net(nn.Module):
    """Convolutions (4-D weights: a layout can change), batch norm (buffers, training flag),
    dropout, and the gate in the middle."""

    input_shape = (3, 12, 10)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.relu = nn.ReLU()
        self.gate = Gate()
        self.conv2 = nn.Conv2d(6, 8, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gate(self.relu(self.bn(self.conv(x))))
        return self.fc(self.drop(self.flat(self.pool(self.conv2(x)))))


def snapshot(model: nn.Module) -> dict:
    """Everything about the model that a call must not change, as plain values."""
    tensors = [("param", n, t) for n, t in model.named_parameters()]
    tensors += [("buffer", n, t) for n, t in model.named_buffers()]
    return {
        "tensors": [
            (kind, name, id(t), t.data_ptr(), str(t.device), t.stride(), t.requires_grad, t.dtype)
            for kind, name, t in tensors
        ],
        "modules": [(name, id(m), m.training) for name, m in model.named_modules()],
        "hooks": [
            (name, table, len(getattr(m, table)))
            for name, m in model.named_modules()
            for table in (
                "_forward_hooks",
                "_forward_pre_hooks",
                "_backward_hooks",
                "_backward_pre_hooks",
            )
        ],
    }


@pytest.fixture
def net():
    torch.manual_seed(0)
    model = Net().train()  # a model someone is training: the call must not put it in eval mode
    model.conv.bias.requires_grad_(False)
    model.fc.register_forward_hook(lambda *_: None)  # the caller's own hook stays, alone
    return model


def read_during(model: nn.Module, call) -> tuple[dict, dict]:
    """Run `call()` while a second thread snapshots `model` inside its first batched pass."""
    gate = model.gate
    seen: dict = {}

    def reader():
        if gate.entered.wait(WAIT_S):
            seen.update(snapshot(model))
        gate.looked.set()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        call()
    finally:
        gate.looked.set()
        thread.join(WAIT_S)
    assert gate.entered.is_set(), "the call never ran a batched forward pass"
    return seen, snapshot(model)


@pytest.mark.parametrize(
    "explain",
    [
        lambda m, x: saliency(m, x, target=[1, 2, 3]),
        lambda m, x: saliency(m, x, method="guided"),
        lambda m, x: saliency(m, x, method="smoothgrad", samples=2),
        lambda m, x: grad_cam(m, x, target=2),
        lambda m, x: grad_cam(as_adapter(m), x, layer="conv2", plus_plus=True),
    ],
    ids=["saliency", "guided", "smoothgrad", "gradcam", "gradcam++"],
)
def test_attribution_leaves_the_model_alone_while_another_thread_reads_it(net, explain):
    before = snapshot(net)
    x = torch.rand(3, *Net.input_shape)
    during, after = read_during(net, lambda: explain(net, x))
    assert during == before
    assert after == before


def test_attribution_on_another_device_leaves_the_model_where_it_is(net):
    before = snapshot(net)
    x = torch.rand(2, *Net.input_shape)
    during, after = read_during(net, lambda: saliency(net, x, device="cpu"))
    assert during == before and after == before


def test_visualize_leaves_the_model_alone_while_another_thread_reads_it(net):
    before = snapshot(net)
    objectives = [actmax.logit(c) for c in range(5)] + [actmax.channel("conv2", 3)]
    during, after = read_during(
        net, lambda: actmax.visualize(net, objectives, iterations=3, seed=list(range(6)))
    )
    assert after == before
    assert during == before


def keras_snapshot(model) -> dict:
    """A Keras model's weights (tensor identity, storage, requires_grad) and every layer's own
    attributes (a patched `call` or `activation` would show up here)."""
    from actmax.adapters.keras import _all_layers

    layers = _all_layers(model)
    return {
        "weights": [
            (v.path, id(v.value), v.value.data_ptr(), v.value.requires_grad) for v in model.weights
        ],
        "attributes": {
            name: sorted((k, id(v)) for k, v in vars(layer).items() if k in ("call", "activation"))
            for name, layer in layers.items()
        },
        "requires_grad": [p.requires_grad for p in model.parameters()],
    }


def test_keras_attribution_leaves_the_model_alone_while_another_thread_reads_it():
    from keras_lab import keras, layers

    armed, entered, looked = threading.Event(), threading.Event(), threading.Event()

    class KerasGate(layers.Layer):
        def call(self, x):  # Keras also calls it while building the model: armed only after
            if armed.is_set() and x.shape[0] > 1 and not entered.is_set():
                entered.set()
                looked.wait(WAIT_S)
            return x

    inputs = keras.Input((8, 8, 1))
    h = layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = KerasGate(name="gate")(h)
    h = layers.GlobalAveragePooling2D(name="pool")(h)
    model = keras.Model(inputs, layers.Dense(3, activation="softmax", name="out")(h))
    before = keras_snapshot(model)
    seen: dict = {}

    def reader():
        if entered.wait(WAIT_S):
            seen.update(keras_snapshot(model))
        looked.set()

    thread = threading.Thread(target=reader)
    thread.start()
    armed.set()
    try:
        result = grad_cam(model, torch.rand(2, 1, 8, 8), target=1, layer="conv")
    finally:
        looked.set()
        thread.join(WAIT_S)
    assert entered.is_set() and result.layer == "conv"
    assert seen == before
    assert keras_snapshot(model) == before
