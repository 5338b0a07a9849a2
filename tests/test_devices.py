"""One rule for the device, checked before any work."""

import pytest
import torch

from actmax.cli import cli
from actmax.devices import resolve_device
from actmax.errors import ActmaxError


def test_auto_is_cuda_when_there_is_one_else_the_cpu():
    expected = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto") == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a build or machine without CUDA")
def test_cuda_without_cuda_is_one_clear_line():
    with pytest.raises(ActmaxError, match="cuda") as error:
        resolve_device("cuda")
    assert "use cpu" in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_device_names_the_choices():
    with pytest.raises(ActmaxError, match=r"unknown device 'gpu': use auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")
    with pytest.raises(ActmaxError, match="not supported"):
        resolve_device("meta")


def test_every_command_that_takes_a_device_defaults_to_the_same_rule():
    defaults = {}
    for name, command in cli.commands.items():
        for param in command.params:
            if param.name == "device":
                defaults[name] = param.default
    assert {"train", "lab", "visualize", "saliency", "cam"} <= set(defaults)
    assert {resolve_device(d) for d in defaults.values()} == {resolve_device(None)}
