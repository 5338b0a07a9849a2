"""Quick lab runs shared by the lab's end-to-end tests: each one runs once per test session."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from actmax.cli import cli

_RUNS: dict[str, QuickRun] = {}


@dataclass(frozen=True)
class QuickRun:
    out: Path
    cache: Path
    exit_code: int
    output: str
    metrics: dict

    @property
    def report(self) -> Path:
        return self.out / "report.html"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def quick_run(tmp_path_factory, name: str = "first", *extra: str) -> QuickRun:
    """`actmax lab --quick` into `<session tmp>/lab/<name>`, with a cache shared by all runs."""
    if name not in _RUNS:
        base = tmp_path_factory.getbasetemp() / "lab"
        out, cache = base / name, base / "cache"
        code, output = run_cli("lab", "--quick", "--out", str(out), "--cache", str(cache), *extra)
        metrics = json.loads((out / "metrics.json").read_text()) if code == 0 else {}
        _RUNS[name] = QuickRun(out, cache, code, output, metrics)
    return _RUNS[name]
