"""The public API of the core, as the docstring and reference tests walk it."""

from __future__ import annotations

import importlib
import inspect
import types

PUBLIC_MODULES = (
    "actmax",
    "actmax.adapters",
    "actmax.attribution",
    "actmax.compat.keras",
    "actmax.compat.keras.activations",
    "actmax.compat.vis",
    "actmax.compat.vis.backend",
    "actmax.compat.vis.backprop_modifiers",
    "actmax.compat.vis.callbacks",
    "actmax.compat.vis.grad_modifiers",
    "actmax.compat.vis.graph",
    "actmax.compat.vis.input_modifiers",
    "actmax.compat.vis.losses",
    "actmax.compat.vis.optimizer",
    "actmax.compat.vis.regularizers",
    "actmax.compat.vis.utils",
    "actmax.compat.vis.utils.utils",
    "actmax.compat.vis.visualization",
    "actmax.engine",
    "actmax.generator_prior",
    "actmax.objectives",
    "actmax.optimizers",
    "actmax.param",
    "actmax.recipes",
    "actmax.regularizers",
    "actmax.result",
    "actmax.transforms",
)


def public_objects() -> dict[str, object]:
    """Every public function and class, by one of its public names."""
    found: dict[int, tuple[str, object]] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                assert obj.__name__ in PUBLIC_MODULES, f"{module_name}.{name} is not listed here"
            elif inspect.isfunction(obj) or inspect.isclass(obj):
                found.setdefault(id(obj), (f"{module_name}.{name}", obj))
    return dict(found.values())
