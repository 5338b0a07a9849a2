"""The core/application split is enforced by import-linter; every module is on one side."""

import pkgutil
from pathlib import Path

import tomllib

import actmax

APPLICATIONS = {"atlas", "lab", "cli"}
ENTRY = {"__main__"}  # `python -m actmax`, the command line's entry point


def test_every_top_level_module_is_core_or_an_application():
    config = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    core = next(c for c in contracts if c["type"] == "forbidden")
    listed = {name.removeprefix("actmax.") for name in core["source_modules"]}
    assert {f"actmax.{a}" for a in APPLICATIONS} == set(core["forbidden_modules"])
    modules = {m.name for m in pkgutil.iter_modules(actmax.__path__)}
    unplaced = modules - listed - APPLICATIONS - ENTRY
    assert not unplaced, f"add {sorted(unplaced)} to the core contract in pyproject.toml"
