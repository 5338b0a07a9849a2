import os
from pathlib import Path

import pytest
import torch
from browser_helpers import CHROMIUM as BROWSER

from actmax.lab.models import build_model


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)


@pytest.fixture
def lab_model():
    """An untrained lab CNN with a fixed Keras-style initialization."""
    return build_model("lab_cnn", seed=0)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The browser, or a skip (a failure in CI, where `make test` installs it)."""
    if not BROWSER.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: `make browser` installs it")
        pytest.skip("Debian's chromium is not installed (`make browser` installs it)")
    return BROWSER
