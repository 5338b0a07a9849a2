"""Small models with known answers, and a quickly trained lab CNN, for the engine's tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actmax.lab.data import load_mnist
from actmax.lab.models import build_model


@pytest.fixture(autouse=True)
def one_thread():
    """Engine test problems are tiny: one thread is fastest, and steady on a busy machine.

    Importing this fixture into a test module applies it to every test there.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def linear_unit(shape=(3, 4, 4), seed=0) -> nn.Module:
    """x -> w.x + b, one output, with a fixed random w (both signs) and b."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(shape)), 1))
    model.input_shape = shape
    return model


def conv_channel(shape=(1, 6, 7), seed=0) -> nn.Module:
    """A single 3x3 convolution channel, no padding."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(shape[0], 1, 3))
    model.input_shape = shape
    return model


def train_lab_cnn(n_train: int = 12_000, epochs: int = 1, batch_size: int = 64, seed: int = 0):
    """The lab CNN trained briefly (RMSprop, lr 1e-3) and the test set. Channels-last layout
    makes it about twice as fast on the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is fastest, above all on a busy machine
    try:
        return _train(n_train, epochs, batch_size, seed)
    finally:
        torch.set_num_threads(threads)


def _train(n_train, epochs, batch_size, seed):
    mnist = load_mnist()
    generator = torch.Generator().manual_seed(seed)
    model = build_model("lab_cnn", seed=seed).to(memory_format=torch.channels_last)
    x = torch.as_tensor(mnist.x_train[:n_train]).to(memory_format=torch.channels_last)
    y = torch.as_tensor(mnist.y_train[:n_train])
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n_train, generator=generator)
        for start in range(0, n_train, batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model.logits(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model = model.to(memory_format=torch.contiguous_format).eval()
    return model, torch.as_tensor(mnist.x_test), torch.as_tensor(mnist.y_test)
