import sys
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

from actmax.adapters import as_adapter, load
from actmax.adapters.onnx import OnnxAdapter, load_onnx
from actmax.errors import ActmaxError
from actmax.lab.models import build_model
from actmax.objectives import BatchObjective, channel, logit, unit

# node names of LabCNN's export: the torch module path, then the ONNX operator
TORCH_TO_ONNX = {
    "l1": "/l1/activation/Relu",
    "l3": "/l3/activation/Relu",
    "l3_mp": "/l3_mp/MaxPool",
    "l4": "/l4/activation/Relu",
    "l5": "/l5/activation/Softmax",
}


def export(model: nn.Module, path, shape=(1, 28, 28), **options):
    """torch's TorchScript exporter (no onnxscript needed), batch size left dynamic."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (torch.rand(2, *shape),),
            str(path),
            dynamo=False,
            input_names=["l0"],
            output_names=["out"],
            dynamic_axes={"l0": {0: "n"}, "out": {0: "n"}},
            **options,
        )
    return path


@pytest.fixture(scope="module")
def lab_onnx(tmp_path_factory):
    model = build_model("lab_cnn", seed=5)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.bias.normal_(0, 0.1)
    return model, export(model, tmp_path_factory.mktemp("onnx") / "lab.onnx")


@pytest.fixture
def x():
    return torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(2))


def test_layers_are_the_onnx_nodes_in_graph_order(lab_onnx):
    adapter = load(lab_onnx[1])
    assert isinstance(adapter, OnnxAdapter)
    names = adapter.layer_names()
    assert names[0] == "l0" and adapter.input_shape == (1, 28, 28)
    assert names[1:4] == ["/l1/conv/Conv", "/l1/activation/Relu", "/l1_mp/MaxPool"]
    assert names[-1] == "/l5/activation/Softmax"
    assert adapter.resolve("l5/linear/Gemm") == "l5/linear/Gemm"  # module names work too


def test_the_export_gives_the_same_outputs_and_activations(lab_onnx, x):
    model, path = lab_onnx
    onnx_adapter, torch_adapter = load(path), as_adapter(model)
    out, acts = onnx_adapter.run(x, [onnx_adapter.ref(node) for node in TORCH_TO_ONNX.values()])
    twin_out, twin_acts = torch_adapter.run(x, [torch_adapter.ref(name) for name in TORCH_TO_ONNX])
    torch.testing.assert_close(out, twin_out)
    for name, node in TORCH_TO_ONNX.items():
        torch.testing.assert_close(acts[onnx_adapter.ref(node)], twin_acts[torch_adapter.ref(name)])


def test_objectives_and_gradients_match_with_the_softmax_input_as_logits(lab_onnx, x):
    model, path = lab_onnx
    results = []
    identity = {name: name for name in TORCH_TO_ONNX}
    for adapter, names in ((load(path), TORCH_TO_ONNX), (as_adapter(model), identity)):
        objectives = [logit(4), channel(names["l3"], 2), unit(names["l4"], 7)]
        batch = BatchObjective(objectives, adapter)
        inputs = x.clone().requires_grad_(True)
        with adapter.frozen():
            value = batch(adapter.run(inputs, batch.refs)[1])
            (grad,) = torch.autograd.grad(value.sum(), inputs)
        results.append((value.detach(), grad))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


def test_channels_last_inputs_are_transposed_at_the_boundary(tmp_path, x):
    class NHWC(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)

        def forward(self, image):
            return self.conv(image.permute(0, 3, 1, 2)).relu().mean((2, 3))

    torch.manual_seed(0)
    model = NHWC()
    adapter = load(export(model, tmp_path / "nhwc.onnx", shape=(28, 28, 1)))
    assert adapter.channels_last and adapter.input_shape == (1, 28, 28)
    out, acts = adapter.run(x, [adapter.ref(0)])
    torch.testing.assert_close(out, model(x.permute(0, 2, 3, 1)))
    assert acts[adapter.ref(0)] is x


def conv_graph(size: int, auto_pad: str):
    """One 3x3 convolution with stride 2 and 'SAME' padding on a size x size image."""
    weight = torch.arange(9, dtype=torch.float32).reshape(1, 1, 3, 3) / 10
    node = helper.make_node(
        "Conv",
        ["image", "w"],
        ["y"],
        name="conv",
        kernel_shape=[3, 3],
        strides=[2, 2],
        auto_pad=auto_pad,
    )
    graph = helper.make_graph(
        [node],
        "same",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, size, size])],
        [
            helper.make_tensor_value_info(
                "y", TensorProto.FLOAT, [1, 1, -(-size // 2), -(-size // 2)]
            )
        ],
        [numpy_helper.from_array(weight.numpy(), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model, weight


@pytest.mark.parametrize(
    ("size", "auto_pad", "pad"),
    [
        (5, "SAME_UPPER", (1, 1, 1, 1)),  # total padding 2: one each side
        (6, "SAME_UPPER", (0, 1, 0, 1)),  # total padding 1: the extra one at the end
        (6, "SAME_LOWER", (1, 0, 1, 0)),  # ... or at the beginning
    ],
)
def test_same_padding_with_stride_follows_the_onnx_definition(tmp_path, size, auto_pad, pad):
    model, weight = conv_graph(size, auto_pad)
    path = tmp_path / "conv.onnx"
    onnx.save(model, str(path))
    image = torch.rand(1, 1, size, size)
    out, _ = load(path).run(image, [])
    expected = F.conv2d(F.pad(image, pad), weight, stride=2)
    assert out.shape[-1] == -(-size // 2)
    torch.testing.assert_close(out, expected)


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x00garbage\xff" * 10)
    with pytest.raises(ActmaxError, match="is not a valid ONNX model"):
        load(path)
    with pytest.raises(ActmaxError, match="no model file"):
        load_onnx(tmp_path / "missing.onnx")


def test_several_inputs_are_refused(tmp_path):
    node = helper.make_node("Add", ["a", "b"], ["y"], name="add")
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("a", "b")]
    graph = helper.make_graph([node], "two", info, [helper.make_tensor_value_info("y", 1, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "two.onnx"))
    with pytest.raises(ActmaxError, match=r"2 inputs \(a, b\)"):
        load(tmp_path / "two.onnx")


def test_no_stand_in_torchvision_is_left_behind(lab_onnx):
    load(lab_onnx[1])
    module = sys.modules.get("torchvision")
    assert module is None or getattr(module, "__file__", None) is not None


def test_the_export_gives_the_same_visualizations(lab_onnx):
    from actmax.engine import visualize

    model, path = lab_onnx
    objectives = {"torch": [logit(3), channel("l3", 1)]}
    objectives["onnx"] = [logit(3), channel(TORCH_TO_ONNX["l3"], 1)]
    adapters = {"onnx": load(path), "torch": as_adapter(model)}
    for recipe in ("keras-vis", "actmax"):
        results = [
            visualize(adapter, objectives[kind], recipe=recipe, iterations=12, seed=[4, 5])
            for kind, adapter in adapters.items()
        ]
        torch.testing.assert_close(results[0].inputs, results[1].inputs)
        np.testing.assert_allclose(results[0].images, results[1].images, atol=1e-6)
        np.testing.assert_allclose(results[0].activations, results[1].activations, rtol=1e-5)
