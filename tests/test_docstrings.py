"""Every public function, class and method of the core documents every one of its parameters.

The public API is `actmax.__all__` and the `__all__` of each public module below. A parameter
counts as documented when its docstring (Google style, as the API reference renders it) has an
entry for it under `Args:` (or `Attributes:` for the fields of a dataclass).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import types

from api_helpers import PUBLIC_MODULES, public_objects

SECTIONS = (
    "Args",
    "Arguments",
    "Parameters",
    "Attributes",
    "Keyword Args",
    "Keyword Arguments",
    "Other Parameters",
)
_SECTION = re.compile(rf"^({'|'.join(SECTIONS)}):\s*$")
_ENTRY = re.compile(r"^\*{0,2}(\w+)(\s*\([^)]*\))?\s*:")


def documented_names(doc: str | None) -> set[str]:
    """The names that have an entry in the docstring's parameter sections (Google style)."""
    names: set[str] = set()
    if not doc:
        return names
    lines = inspect.cleandoc(doc).splitlines()
    i = 0
    while i < len(lines):
        if not _SECTION.match(lines[i]):
            i += 1
            continue
        i += 1
        indent = None
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
            line = lines[i]
            if line.strip():
                width = len(line) - len(line.lstrip())
                indent = width if indent is None else indent
                match = _ENTRY.match(line.strip())
                if width == indent and match:
                    names.add(match.group(1))
            i += 1
    return names


def test_the_parser_reads_google_style_sections():
    doc = """Summary.

    Args:
        model: the model,
            over two lines: not an entry.
        x (int): typed.
        **options: keywords.

    Returns:
        nothing: not a parameter.
    """
    assert documented_names(doc) == {"model", "x", "options"}


def parameters(function) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    return [name for name in signature.parameters if name not in ("self", "cls")]


def _own_init(cls: type):
    """The class's `__init__` when actmax defines it (its own or a dataclass's), else None."""
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            return klass.__init__ if klass.__module__.startswith("actmax") else None
    return None


def _methods(cls: type):
    """Public methods that actmax classes define, as the class resolves them."""
    seen = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("actmax"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            if isinstance(value, types.FunctionType | staticmethod | classmethod):
                seen.add(name)
                yield name, getattr(cls, name)


def missing_parameters(path: str, obj) -> list[str]:
    """What a function or class (its own `__init__` and public methods) leaves undocumented."""
    if inspect.isfunction(obj):
        checks = [(path, obj, inspect.getdoc(obj))]
    else:
        checks = []
        init = _own_init(obj)
        if init is not None:
            doc = inspect.getdoc(obj) or ""
            if init.__doc__ is not None:  # not a dataclass's: its own docstring counts too
                doc += "\n\n" + (inspect.getdoc(init) or "")
            checks.append((path, init, doc))
        for name, method in _methods(obj):
            checks.append((f"{path}.{name}", method, inspect.getdoc(method)))
    missing = []
    for where, function, doc in checks:
        if not doc:
            missing.append(f"{where}: no docstring")
            continue
        absent = [p for p in parameters(function) if p not in documented_names(doc)]
        if absent:
            missing.append(f"{where}: {', '.join(absent)}")
    return missing


def test_a_missing_parameter_is_found():
    def partly(model, images, *, seed=0):
        """Explain.

        Args:
            model: the model.
            images: the images.
        """

    class Part:
        """A part.

        Args:
            weight: how much.
        """

        def __init__(self, weight, name):
            pass

        def penalty(self, x):
            return x

    assert missing_parameters("partly", partly) == ["partly: seed"]
    Part.__module__ = "actmax.example"
    assert missing_parameters("Part", Part) == ["Part: name", "Part.penalty: no docstring"]


def test_every_public_module_has_all():
    for name in PUBLIC_MODULES:
        assert isinstance(getattr(importlib.import_module(name), "__all__", None), list), name


def test_the_walk_finds_the_public_api():
    found = public_objects()
    for name in ("actmax.visualize", "actmax.param.Fourier", "actmax.adapters.load"):
        assert name in found
    assert len(found) > 80


def test_every_public_parameter_is_documented():
    missing = [
        line
        for path, obj in sorted(public_objects().items())
        for line in missing_parameters(path, obj)
    ]
    assert not missing, "parameters without an entry in their docstring:\n" + "\n".join(missing)
