import pytest
import torch

from actmax.lab.models import build_model


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)


@pytest.fixture
def lab_model():
    """An untrained lab CNN with a fixed Keras-style initialization."""
    return build_model("lab_cnn", seed=0)
