"""The guides' examples run as they are shown: every file in docs/examples, in one folder.

The guides include these files (`--8<-- "name"`), so the code a reader sees is the code that
runs here; the strict docs build (`make docs`) fails on an include whose file is missing.
"""

from __future__ import annotations

import re
import runpy
import shlex
from pathlib import Path

import pytest

from actmax.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
GUIDES = sorted((ROOT / "docs").rglob("*.md"))
PYTHON = sorted(p.name for p in EXAMPLES.glob("*.py"))
SHELL = sorted(p.name for p in EXAMPLES.glob("*.sh"))
# what a shell example reads, written by a Python example first
NEEDS = {"own_cli.sh": "own_files.py"}
_done: set[str] = set()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One working folder for every example, as a reader running them in turn would have."""
    return tmp_path_factory.mktemp("examples")


def run_python(name: str, folder: Path, monkeypatch) -> None:
    if name in _done:
        return
    monkeypatch.chdir(folder)
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    _done.add(name)


def commands(script: str) -> list[list[str]]:
    """The command lines of a shell example (comments dropped, continuations joined)."""
    text = re.sub(r"\\\n", " ", script)
    lines = [line.strip() for line in text.splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def test_every_example_is_shown_in_a_guide():
    included = set()
    for guide in GUIDES:
        included |= set(re.findall(r'--8<-- "([^"]+)"', guide.read_text(encoding="utf-8")))
    assert PYTHON and SHELL
    assert set(PYTHON + SHELL) <= included, sorted(set(PYTHON + SHELL) - included)


def test_shell_examples_are_actmax_commands():
    assert commands("# a comment\nactmax cam m.pt2 \\\n  --out 'a b.png'\n\n") == [
        ["actmax", "cam", "m.pt2", "--out", "a b.png"]
    ]
    for name in SHELL:
        for argv in commands((EXAMPLES / name).read_text(encoding="utf-8")):
            assert argv[0] == "actmax", f"{name}: {shlex.join(argv)}"


@pytest.mark.parametrize("name", PYTHON)
def test_python_example_runs(name, folder, monkeypatch):
    run_python(name, folder, monkeypatch)


@pytest.mark.parametrize("name", SHELL)
def test_shell_example_runs(name, folder, monkeypatch, capsys):
    if name in NEEDS:
        run_python(NEEDS[name], folder, monkeypatch)
    monkeypatch.chdir(folder)
    for argv in commands((EXAMPLES / name).read_text(encoding="utf-8")):
        code = main(argv[1:])
        assert code == 0, f"{shlex.join(argv)}: exit {code}\n{capsys.readouterr().err}"
        assert Path(argv[argv.index("--out") + 1]).stat().st_size > 1000
