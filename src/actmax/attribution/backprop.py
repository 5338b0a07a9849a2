"""Guided and rectified ("deconvnet") backpropagation through a model's own `nn.ReLU` modules.

Both keep the forward pass and change only how a ReLU passes gradients back:

- guided (Springenberg et al. 2015): only positive gradients, and only where the ReLU's input was
  positive: `grad * (grad > 0) * (x > 0)`;
- rectified (Zeiler & Fergus 2014): only positive gradients, wherever they arrive:
  `grad * (grad > 0)`.

This is keras-vis' `backprop_modifier='guided' | 'rectified'`, done with hooks instead of a
rebuilt copy of the model: the hooks are removed when the block ends, also on error. Only
`nn.ReLU` modules are changed (as keras-vis changes only `Relu` ops; in a `.pt2` model, the
modules that are one `relu` op); a `torch.relu` call inside a `forward` cannot be hooked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import ActmaxError

RULES = ("guided", "rectified")


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clamp(min=0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return grad.clamp(min=0) * (out > 0)


class _RectifiedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp(min=0)


_FUNCTIONS = {"guided": _GuidedReLU, "rectified": _RectifiedReLU}


_RELU_OPS = ("aten.relu.default", "aten.relu_.default")


def is_relu(module: nn.Module) -> bool:
    """An `nn.ReLU`, or a graph module that is one ReLU call (a `.pt2` model's `nn.ReLU`, which
    `torch.export.unflatten` gives back as a module running the traced `relu` op)."""
    if isinstance(module, nn.ReLU):
        return True
    graph = getattr(module, "graph", None)
    nodes = getattr(graph, "nodes", None)
    if nodes is None or not isinstance(graph, torch.fx.Graph):
        return False
    calls = [node for node in nodes if node.op not in ("placeholder", "output")]
    return len(calls) == 1 and calls[0].op == "call_function" and str(calls[0].target) in _RELU_OPS


@contextmanager
def relu_backprop(model: nn.Module, rule: str) -> Iterator[list[nn.Module]]:
    """Within the block, every `nn.ReLU` of `model` backpropagates by `rule`.

    Each ReLU's output is replaced by the same values computed from its input through a function
    with the modified backward pass (the input is kept by a pre-hook, cloned for in-place ReLUs so
    they cannot overwrite it). Yields the modules that were changed.
    """
    if rule not in _FUNCTIONS:
        raise ActmaxError(f"unknown backpropagation rule {rule!r}; choose from {', '.join(RULES)}")
    relus = [module for module in model.modules() if is_relu(module)]
    if not relus:
        raise ActmaxError(
            f"{rule} backpropagation changes the model's nn.ReLU modules and this model has none "
            "(a torch.relu call inside forward() cannot be hooked)"
        )
    function = _FUNCTIONS[rule]
    inputs: dict[nn.Module, list[torch.Tensor]] = {}

    def keep_input(module, args):
        inputs.setdefault(module, []).append(args[0])
        if getattr(module, "inplace", False):
            return (args[0].clone(), *args[1:])
        return None

    def replace_output(module, _args, _output):
        return function.apply(inputs[module].pop())

    handles = []
    try:
        for module in relus:
            handles.append(module.register_forward_pre_hook(keep_input))
            handles.append(module.register_forward_hook(replace_output))
        yield relus
    finally:
        for handle in handles:
            handle.remove()
        inputs.clear()
