"""The API reference (docs/reference/*.md) shows every public function and class of the core.

Each page names what it shows with mkdocstrings' `::: identifier` blocks: a module block shows
the module's `__all__` (the site renders with `filters: public`) unless its options say
`members: false` or list the members; any other block shows that one object.
"""

from __future__ import annotations

import importlib
import re
import types
from pathlib import Path

from api_helpers import public_objects

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference"
_BLOCK = re.compile(r"^::: ([\w.]+)\n((?:[ \t]+.*\n|\n(?=[ \t]))*)", re.MULTILINE)


def resolve(identifier: str):
    """The object behind a dotted path: the longest importable module, then attributes."""
    parts = identifier.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(identifier)


def shown_objects() -> set[int]:
    """The ids of every object the reference pages render."""
    shown: set[int] = set()
    for page in sorted(REFERENCE.glob("*.md")):
        for identifier, options in _BLOCK.findall(page.read_text(encoding="utf-8")):
            if identifier == "mkdocs-click":
                continue
            obj = resolve(identifier)
            shown.add(id(obj))
            if not isinstance(obj, types.ModuleType) or "members: false" in options:
                continue
            listed = re.search(r"members: \[([^\]]*)\]", options)
            names = [n.strip() for n in listed.group(1).split(",")] if listed else obj.__all__
            shown.update(id(getattr(obj, name)) for name in names)
    return shown


def test_blocks_are_found_with_their_options():
    page = "::: a.b\n    options:\n      members: [x, y]\n\n::: c\n"
    assert _BLOCK.findall(page) == [("a.b", "    options:\n      members: [x, y]\n"), ("c", "")]


def test_every_public_function_and_class_is_in_the_reference():
    shown = shown_objects()
    missing = [path for path, obj in sorted(public_objects().items()) if id(obj) not in shown]
    assert not missing, "not in docs/reference: " + ", ".join(missing)
