import torch
from torch import nn

from actmax.adapters import as_adapter
from actmax.lab.models import LabCNN, build_model

LAB_LAYERS = ["l0", "l1", "l1_mp", "l2", "l2_mp", "l3", "l3_mp", "flat", "l4", "l5"]


def test_lab_cnn_has_the_labs_layers_indices_and_parameter_count(lab_model):
    adapter = as_adapter(lab_model)
    assert adapter.layer_names() == LAB_LAYERS
    assert adapter.index("l5") == 9
    assert sum(p.numel() for p in lab_model.parameters()) == 7465


def test_lab_cnn_shapes(lab_model):
    x = torch.rand(4, 1, 28, 28)
    names = LAB_LAYERS[1:]
    _, acts = as_adapter(lab_model).run(x, [as_adapter(lab_model).ref(n) for n in names])
    shapes = {ref.name: tuple(a.shape[1:]) for ref, a in acts.items()}
    assert shapes == {
        "l1": (9, 28, 28),
        "l1_mp": (9, 14, 14),
        "l2": (9, 14, 14),
        "l2_mp": (9, 7, 7),
        "l3": (16, 7, 7),
        "l3_mp": (16, 3, 3),
        "flat": (144,),
        "l4": (25,),
        "l5": (10,),
    }


def test_output_is_softmax_of_separable_logits(lab_model):
    x = torch.rand(3, 1, 28, 28)
    probs = lab_model(x)
    torch.testing.assert_close(probs, torch.softmax(lab_model.logits(x), dim=1))
    lab_model.l5.activation = nn.Identity()
    torch.testing.assert_close(lab_model(x), lab_model.logits(x))


def test_keras_initialization_is_glorot_uniform_with_zero_bias():
    model = build_model("lab_cnn", seed=1)
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            fan_in = module.weight[0].numel()
            fan_out = module.weight.shape[0] * module.weight[0, 0].numel()
            limit = (6 / (fan_in + fan_out)) ** 0.5
            assert module.weight.abs().max() <= limit
            assert module.weight.abs().max() > 0.9 * limit
            assert torch.count_nonzero(module.bias) == 0


def test_same_seed_same_weights():
    a, b = build_model("lab_cnn", seed=3), build_model("lab_cnn", seed=3)
    c = build_model("lab_cnn", seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.l1.conv.weight, c.l1.conv.weight)


def test_flatten_follows_keras_channels_last_order():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(1, 2, 3, 4)
    flat = LabCNN().flat(x)
    assert torch.equal(flat[0], x[0].permute(1, 2, 0).reshape(-1))
