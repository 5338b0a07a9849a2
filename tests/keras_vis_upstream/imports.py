"""The one change keras-vis' own tests need to run on actmax: their imports.

Each import of keras-vis (`vis...`) becomes the same import from `actmax.compat.vis`, and each
import of a Keras 2 module whose names Keras 3 changed becomes `actmax.compat.keras`'s module of
the same name. Only import statements change, on the lines they were on.
"""

from __future__ import annotations

import ast

VIS = ("vis", "actmax.compat.vis")
# Keras 2 modules keras-vis' tests use whose names changed in Keras 3 (see their docstrings)
KERAS = {
    f"keras.{name}": f"actmax.compat.keras.{name}"
    for name in ("backend", "models", "initializers", "layers")
}


def module_for(name: str) -> str:
    """The module an import of `name` reads after the rewrite."""
    if name == VIS[0] or name.startswith(VIS[0] + "."):
        return VIS[1] + name[len(VIS[0]) :]
    for old, new in KERAS.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return name


def _alias(alias: ast.alias) -> str:
    return alias.name if alias.asname is None else f"{alias.name} as {alias.asname}"


def _statement(node: ast.stmt) -> str | None:
    """The rewritten statement, or None when it stays as it is."""
    if isinstance(node, ast.Import):
        names = [
            ast.alias(module_for(a.name), a.asname or (a.name if "." in a.name else None))
            for a in node.names
        ]
        if all(module_for(a.name) == a.name for a in node.names):
            return None
        parts = []
        for old, new in zip(node.names, names, strict=True):
            if new.name == old.name:
                parts.append(f"import {_alias(old)}")
            elif old.asname is None and "." in old.name:
                raise ValueError(f"cannot rewrite `import {old.name}` without an alias")
            else:
                parts.append(f"import {new.name} as {old.asname or old.name}")
        return "; ".join(parts)
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if node.module == "keras":  # from keras import backend as K
            moved = [a for a in node.names if f"keras.{a.name}" in KERAS]
            kept = [a for a in node.names if f"keras.{a.name}" not in KERAS]
            if not moved:
                return None
            parts = [f"from actmax.compat.keras import {', '.join(map(_alias, moved))}"]
            if kept:
                parts.append(f"from keras import {', '.join(map(_alias, kept))}")
            return "; ".join(parts)
        module = module_for(node.module)
        if module == node.module:
            return None
        return f"from {module} import {', '.join(map(_alias, node.names))}"
    return None


def rewrite(source: str) -> str:
    """`source` with its imports moved to actmax's compatible modules."""
    lines = source.splitlines(keepends=True)
    for node in sorted(ast.walk(ast.parse(source)), key=lambda n: -getattr(n, "lineno", 0)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        new = _statement(node)
        if new is None:
            continue
        first, last = node.lineno - 1, node.end_lineno - 1
        indent = lines[first][: node.col_offset]
        tail = lines[last][node.end_col_offset :]
        lines[first : last + 1] = [indent + new + tail]
    return "".join(lines)


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """The (old, new) pairs of lines that differ; the line count never changes."""
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new), "a rewrite changed the number of lines"
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]
