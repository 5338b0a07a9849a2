import pytest
import torch
from torch import nn

from actmax.adapters import as_adapter
from actmax.errors import ActmaxError, LayerNotFoundError


def test_unknown_layer_name_lists_the_real_ones(lab_model):
    with pytest.raises(LayerNotFoundError, match="the layers are: l0, l1, l1_mp"):
        as_adapter(lab_model).resolve("l9")


def test_index_out_of_range_gives_the_valid_range(lab_model):
    with pytest.raises(LayerNotFoundError, match=r"0\.\.9"):
        as_adapter(lab_model).resolve(10)


def test_negative_index_counts_from_the_end(lab_model):
    assert as_adapter(lab_model).resolve(-1) == "l5"


def test_nested_module_names_resolve(lab_model):
    assert as_adapter(lab_model).resolve("l5.linear") == "l5.linear"


def test_pre_activation_of_a_final_softmax_module_is_the_logits():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Softmax(dim=1))
    adapter = as_adapter(model)
    x = torch.rand(2, 1, 2, 2)
    out, acts = adapter.run(x, [adapter.ref(-1, pre_activation=True)])
    torch.testing.assert_close(acts[adapter.ref(-1, True)], model[1](model[0](x)))
    torch.testing.assert_close(out, torch.softmax(acts[adapter.ref(-1, True)], dim=1))


def test_pre_activation_needs_a_separate_activation():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    adapter = as_adapter(model)
    with pytest.raises(ActmaxError, match="no separate activation"):
        adapter.run(torch.rand(1, 1, 2, 2), [adapter.ref(-1, pre_activation=True)])


def test_run_leaves_no_hooks_behind(lab_model):
    adapter = as_adapter(lab_model)
    adapter.run(torch.rand(1, 1, 28, 28), [adapter.ref("l3"), adapter.ref("l5", True)])
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in lab_model.modules())


def test_frozen_restores_training_flags_and_requires_grad_even_on_error(lab_model):
    lab_model.train()
    lab_model.l1.conv.weight.requires_grad_(False)
    with pytest.raises(RuntimeError), as_adapter(lab_model).frozen():
        assert not lab_model.training
        assert not any(p.requires_grad for p in lab_model.parameters())
        raise RuntimeError("boom")
    assert lab_model.training and lab_model.l5.training
    assert not lab_model.l1.conv.weight.requires_grad
    assert lab_model.l1.conv.bias.requires_grad


def test_a_wrong_nested_name_lists_the_close_matches(lab_model):
    with pytest.raises(LayerNotFoundError) as error:
        as_adapter(lab_model).resolve("l2.cnv")
    message = str(error.value)
    assert "close matches: l2.conv" in message
    assert "the layers are: l0, l1" in message and "nested modules: l1.conv" in message


class Block(nn.Module):
    """torchvision's BasicBlock in small: one ReLU module used twice."""

    input_shape = (2, 6, 6)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 2, 3, padding=1)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1)
        self.relu = nn.ReLU()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))

    def forward(self, x):
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out) + x)
        return self.head(out)


def test_a_module_called_twice_is_detected_not_silently_read_once():
    from actmax.adapters import RepeatedCallError
    from actmax.attribution import grad_cam

    adapter = as_adapter(Block())
    x = torch.rand(2, 2, 6, 6)
    with pytest.raises(RepeatedCallError, match="module 'relu' runs 2 times in one forward pass"):
        adapter.run(x, [adapter.ref("relu")])
    refs = [adapter.ref("conv2"), adapter.ref("relu")]
    with adapter.recorder(refs) as forward, pytest.raises(RepeatedCallError):
        forward(x)
    # Grad-CAM's own choice skips it (the last spatial layer run once); naming it is refused
    assert grad_cam(adapter, x, target=1).layer == "conv2"
    with pytest.raises(RepeatedCallError, match="'relu'"):
        grad_cam(adapter, x, target=1, layer="relu")
