"""A frozen copy of a module tree that leaves the caller's module untouched.

Explaining a model must not change it, not even for the length of a call: another thread may be
training it, serving it or reading it at the same time. `isolated_copy` builds new module objects
with their own parameter, buffer, submodule and hook tables, in eval mode and without parameter
gradients, over the same tensors (moved copies only where a device or memory layout asks for it).
Hooks that actmax registers, eval mode and moved weights then live on the copy alone.

`torch.func.functional_call` was not used: it swaps the module's attributes for the length of
the call, which is exactly what a concurrent reader must not see.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

# The per-module tables nn.Module keeps (parameters, buffers, submodules, every kind of hook):
# each copy gets its own, so registering a hook or replacing a tensor on it touches no original.
_TABLES = tuple(name for name, value in vars(nn.Module()).items() if isinstance(value, dict | set))


def isolated_copy(
    model: nn.Module,
    device: str | torch.device | None = None,
    memory_format: torch.memory_format | None = None,
) -> nn.Module:
    """A structural copy of `model` for inference and input gradients.

    model: the caller's module; nothing of it is changed.
    device: where the copy's tensors live (None: where they are); tensors already there are
        shared, not copied.
    memory_format: a layout for 4-D tensors (e.g. `torch.channels_last`, which oneDNN runs
        convolutions fastest in on the CPU); None keeps each tensor's layout.

    Every module of the copy is a new object of the same class, in eval mode, whose
    parameters are new `nn.Parameter`s with `requires_grad=False` over the same (or moved)
    storage. A tensor or module shared by several owners stays shared in the copy. Hooks
    registered on the original before the call are kept (they are part of what the model
    computes); hooks registered on the copy never reach the original. Attributes that are not
    parameters, buffers or registered submodules (config values, a plain list of modules) are
    shared as they are.
    """
    target = torch.device(device) if device is not None else None
    modules: dict[int, nn.Module] = {}
    tensors: dict[int, torch.Tensor] = {}

    def placed(tensor: torch.Tensor, parameter: bool) -> torch.Tensor:
        key = id(tensor)
        if key not in tensors:
            data = place(tensor.detach() if parameter else tensor, target, memory_format)
            tensors[key] = nn.Parameter(data, requires_grad=False) if parameter else data
        return tensors[key]

    def copied(module: nn.Module) -> nn.Module:
        key = id(module)
        if key in modules:
            return modules[key]
        # object.__new__: some classes (fx's GraphModule) make a new class in __new__
        clone = object.__new__(type(module))
        modules[key] = clone
        state = dict(module.__dict__)
        for name in _TABLES:
            if name in state:
                state[name] = copy.copy(state[name])
        state["training"] = False
        clone.__dict__.update(state)
        for name, param in module._parameters.items():
            clone._parameters[name] = None if param is None else placed(param, True)
        for name, buffer in module._buffers.items():
            clone._buffers[name] = None if buffer is None else placed(buffer, False)
        for name, child in module._modules.items():
            clone._modules[name] = None if child is None else copied(child)
        return clone

    return copied(model)


def place(
    tensor: torch.Tensor,
    device: torch.device | None,
    memory_format: torch.memory_format | None,
) -> torch.Tensor:
    """`tensor` on `device` and, when it is 4-D, in `memory_format`; itself when it already is."""
    moved = tensor if device is None or same_device(tensor.device, device) else tensor.to(device)
    if memory_format is not None and moved.dim() == 4:
        moved = moved.to(memory_format=memory_format)
    return moved


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether two device names mean the same device (`cuda` is the current CUDA device)."""
    if a.type != b.type:
        return False
    if a.type == "cuda":
        current = torch.cuda.current_device() if torch.cuda.is_available() else 0
        return (a.index if a.index is not None else current) == (
            b.index if b.index is not None else current
        )
    return a.index == b.index or a.index is None or b.index is None
