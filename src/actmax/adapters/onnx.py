"""ONNX models, from any framework, converted to PyTorch by onnx2torch; layers are ONNX nodes.

A node is addressed by its ONNX name (as Netron shows it, e.g. `/l5/linear/Gemm`), or by the
name of its module in the converted `torch.fx.GraphModule`. Before conversion the graph is
normalized for what onnx2torch does not take: `auto_pad=SAME_*` becomes explicit pads, a weight
passed through an `Identity` node is read directly, and a graph whose opset onnx2torch does not
know is converted down to opset 17.

onnx2torch imports torchvision for its NonMaxSuppression and RoiAlign converters only; where
torchvision cannot be imported (PyPI's torchvision does not load beside a CPU build of torch),
those two converters are stubbed out and every other operator converts as usual.
"""

from __future__ import annotations

import math
import os
import sys
import types
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ActmaxError
from .torch import TorchAdapter

FALLBACK_OPSET = 17  # the newest opset onnx2torch 1.5 converts completely
POOLS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")
# Operators that are nothing but an activation: their input is their pre-activation.
ACTIVATION_OPS = (
    "Softmax",
    "LogSoftmax",
    "Relu",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Sigmoid",
    "HardSigmoid",
    "Tanh",
    "Gelu",
    "Softplus",
    "PRelu",
)


def import_onnx() -> tuple[Any, Any]:
    """`(onnx, onnx2torch)`, importable without torchvision."""
    try:
        import onnx
    except ImportError as error:
        raise ActmaxError("ONNX models need the onnx extra: pip install 'actmax[onnx]'") from error
    if "onnx2torch" in sys.modules:
        return onnx, sys.modules["onnx2torch"]
    try:
        import torchvision  # noqa: F401
    except Exception:  # absent, or built for another torch (fails while registering its ops)
        with _torchvision_stub():
            onnx2torch = _import_onnx2torch()
    else:
        onnx2torch = _import_onnx2torch()
    return onnx, onnx2torch


def _import_onnx2torch() -> Any:
    try:
        import onnx2torch
    except ImportError as error:
        raise ActmaxError(
            "ONNX models need onnx2torch: pip install 'actmax[onnx]' (or pip install --no-deps "
            "onnx2torch beside a CPU build of torch)"
        ) from error
    return onnx2torch


@contextmanager
def _torchvision_stub():
    """A stand-in torchvision for the import of onnx2torch only; its ops raise a clear error."""
    for name in [name for name in sys.modules if name.split(".")[0] == "torchvision"]:
        del sys.modules[name]

    def needs_torchvision(*_args, **_kwargs):
        raise ActmaxError("this ONNX model uses an operator that needs torchvision")

    package = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    ops.nms = ops.box_convert = ops.roi_align = needs_torchvision
    package.ops = ops
    sys.modules.update({"torchvision": package, "torchvision.ops": ops})
    try:
        yield
    finally:
        sys.modules.pop("torchvision", None)
        sys.modules.pop("torchvision.ops", None)


def load_onnx(path: str | os.PathLike) -> torch.fx.GraphModule:
    """Convert an `.onnx` file into a PyTorch module that carries its ONNX node names.

    The module gets `input_name`, `input_shape` (channels as stored; None where dynamic),
    `onnx_nodes` (ONNX node name -> submodule name, in graph order) and `onnx_ops` (submodule
    name -> ONNX operator type).
    """
    onnx, onnx2torch = import_onnx()
    path = Path(path)
    if not path.is_file():
        raise ActmaxError(f"no model file at {path}")
    try:
        proto = onnx.load(os.fspath(path))
        onnx.checker.check_model(proto)
    except Exception as error:  # protobuf DecodeError, ValidationError, OSError...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ActmaxError(f"{path} is not a valid ONNX model: {reason}") from error
    initializers = {init.name for init in proto.graph.initializer}
    inputs = [value for value in proto.graph.input if value.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(value.name for value in inputs)
        raise ActmaxError(
            f"{path} has {len(inputs)} inputs ({names}); actmax visualizes ONNX models with one"
        )
    proto = _normalize(onnx, proto)
    module = _convert(onnx, onnx2torch, proto, path)
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(dim.dim_value if dim.HasField("dim_value") else None for dim in dims[1:])
    module.input_name = inputs[0].name
    module.input_shape = None if None in shape else shape
    module.onnx_nodes = _node_names(proto, module)
    ops = {node.name: node.op_type for node in proto.graph.node}
    module.onnx_ops = {name: ops.get(node, "") for node, name in module.onnx_nodes.items()}
    return module


def _convert(onnx: Any, onnx2torch: Any, proto: Any, path: Path) -> torch.fx.GraphModule:
    try:
        return onnx2torch.convert(proto, attach_onnx_mapping=True)
    except NotImplementedError as error:
        opset = max(
            (op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")), default=0
        )
        if opset > FALLBACK_OPSET:
            try:
                older = onnx.version_converter.convert_version(proto, FALLBACK_OPSET)
                return onnx2torch.convert(_normalize(onnx, older), attach_onnx_mapping=True)
            except Exception:
                pass
        raise ActmaxError(
            f"{path} cannot be converted to PyTorch by onnx2torch: {error}"
        ) from error


def _normalize(onnx: Any, proto: Any) -> Any:
    """Rewrite what onnx2torch cannot convert into equivalent ONNX it can."""
    proto = onnx.shape_inference.infer_shapes(proto)
    graph = proto.graph
    _inline_initializer_identities(graph)
    shapes = {
        value.name: [
            d.dim_value if d.HasField("dim_value") else None
            for d in value.type.tensor_type.shape.dim
        ]
        for value in [*graph.input, *graph.value_info, *graph.output]
    }
    for node in graph.node:
        if node.op_type in POOLS:
            _explicit_pads(onnx, node, shapes.get(node.input[0]), graph)
        elif node.op_type == "Reshape":
            _drop_needless_allowzero(onnx, node, graph)
    return proto


def _drop_needless_allowzero(onnx: Any, node: Any, graph: Any) -> None:
    """`Reshape(allowzero=1)` (torch.onnx's dynamo exporter writes it) to a constant shape
    without zeros means the same as without the flag, which onnx2torch converts."""
    attrs = {attr.name: attr for attr in node.attribute}
    if "allowzero" not in attrs or attrs["allowzero"].i == 0 or len(node.input) < 2:
        return
    shape = _constant(onnx, graph, node.input[1])
    if shape is not None and 0 not in shape.tolist():
        node.attribute.remove(attrs["allowzero"])


def _constant(onnx: Any, graph: Any, name: str) -> Any:
    """The value of a tensor that is an initializer or a Constant node's output (else None)."""
    for init in graph.initializer:
        if init.name == name:
            return onnx.numpy_helper.to_array(init)
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            for attr in node.attribute:
                if attr.name == "value":
                    return onnx.numpy_helper.to_array(attr.t)
    return None


def _inline_initializer_identities(graph: Any) -> None:
    """`w -> Identity -> conv` becomes `w -> conv`: onnx2torch wants weights as initializers."""
    initializers = {init.name for init in graph.initializer}
    outputs = {value.name for value in graph.output}
    for node in list(graph.node):
        if node.op_type == "Identity" and node.input[0] in initializers:
            if node.output[0] in outputs:
                continue
            for other in graph.node:
                for i, name in enumerate(other.input):
                    if name == node.output[0]:
                        other.input[i] = node.input[0]
            graph.node.remove(node)


def _explicit_pads(onnx: Any, node: Any, input_shape: Sequence[int | None] | None, graph) -> None:
    """`auto_pad=SAME_UPPER/SAME_LOWER` as explicit `pads` (ONNX's own definition of SAME)."""
    attrs = {attr.name: attr for attr in node.attribute}
    mode = attrs["auto_pad"].s.decode() if "auto_pad" in attrs else "NOTSET"
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        return
    kernel = (
        list(onnx.helper.get_attribute_value(attrs["kernel_shape"]))
        if "kernel_shape" in attrs
        else None
    )
    if kernel is None:  # Conv may leave it to the weight's shape
        weights = {init.name: list(init.dims) for init in graph.initializer}
        kernel = weights.get(node.input[1], [])[2:]
    n = len(kernel)
    strides = (
        list(onnx.helper.get_attribute_value(attrs["strides"])) if "strides" in attrs else [1] * n
    )
    dilations = (
        list(onnx.helper.get_attribute_value(attrs["dilations"]))
        if "dilations" in attrs
        else [1] * n
    )
    begins, ends = [], []
    for axis, (k, s, d) in enumerate(zip(kernel, strides, dilations, strict=True)):
        if s == 1:
            total = d * (k - 1)
        else:
            size = input_shape[2 + axis] if input_shape and len(input_shape) > 2 + axis else None
            if not size:
                raise ActmaxError(
                    f"ONNX node {node.name!r} pads 'SAME' with stride {s} on an input of unknown "
                    "size; export the model with a fixed input size"
                )
            total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if mode == "SAME_UPPER" else large)
        ends.append(large if mode == "SAME_UPPER" else small)
    node.attribute.remove(attrs["auto_pad"])
    if "pads" in attrs:
        node.attribute.remove(attrs["pads"])
    node.attribute.append(onnx.helper.make_attribute("pads", begins + ends))


def _node_names(proto: Any, module: nn.Module) -> dict[str, str]:
    by_output = {
        child.onnx_mapping.outputs[0]: name
        for name, child in module.named_children()
        if getattr(child, "onnx_mapping", None) is not None and child.onnx_mapping.outputs
    }
    names: dict[str, str] = {}
    for node in proto.graph.node:
        module_name = by_output.get(node.output[0])
        if module_name is not None:
            names[node.name or module_name] = module_name
    return names


class OnnxAdapter(TorchAdapter):
    """A converted ONNX model; layers are its ONNX nodes in graph order.

    model: a module made by `load_onnx`.
    input_shape: one input's shape, channels first (default: the file's, when it is fixed).
    channels_last: True for a model whose input is NHWC (as exported from Keras or
        TensorFlow): actmax's NCHW input is transposed at the boundary. None guesses it from
        the input shape (a last axis of 1, 3 or 4 channels and a larger second axis).
    preprocess: a differentiable step in front of the model, on channels-first pixels.
    """

    def __init__(
        self,
        model: nn.Module,
        input_shape: tuple[int, ...] | None = None,
        channels_last: bool | None = None,
        preprocess=None,
    ):
        super().__init__(model, input_shape=None, preprocess=preprocess)
        nodes = getattr(model, "onnx_nodes", None)
        if nodes is None:
            raise ActmaxError("expected a model converted by actmax.adapters.onnx.load_onnx")
        self.nodes: dict[str, str] = dict(nodes)
        self.ops: dict[str, str] = dict(getattr(model, "onnx_ops", {}))
        stored = getattr(model, "input_shape", None)
        if channels_last is None:
            channels_last = bool(
                stored and len(stored) == 3 and stored[-1] in (1, 3, 4) and stored[0] > stored[-1]
            )
        self.channels_last = channels_last
        if input_shape is not None:
            self.input_shape = tuple(int(s) for s in input_shape)
        elif stored is not None:
            self.input_shape = (stored[-1], *stored[:-1]) if channels_last else tuple(stored)
        else:
            self.input_shape = None

    def layer_names(self) -> list[str]:
        return [self._input_name, *self.nodes]

    def all_names(self) -> list[str]:
        return [*self.layer_names(), *self.nodes.values()]

    def _module_name(self, layer: str) -> str:
        return self.nodes.get(layer, layer)

    def _is_activation(self, module_name: str) -> bool:
        return self.ops.get(module_name) in ACTIVATION_OPS or super()._is_activation(module_name)

    def model_input(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed pixels, transposed to NHWC for a channels-last model."""
        x = super().model_input(x)
        return x.movedim(1, -1) if self.channels_last else x
