"""keras-vis' own test suite, run against `actmax.compat` with only its imports changed.

Source: the `tests/` folder of keras-vis (https://github.com/raghakot/keras-vis, MIT licence,
copyright (c) 2016 Raghavendra Kotikalapudi), as of its master branch (commit 90ae556, 2020).
Its files are not copied into this repository: point `KERAS_VIS_SRC` at a keras-vis checkout,

    git clone https://github.com/raghakot/keras-vis /tmp/keras-vis
    KERAS_VIS_SRC=/tmp/keras-vis .venv/bin/python -m pytest tests/keras_vis_upstream

and each of its test files is copied to a temporary folder with its imports rewritten
(`imports.py`: `vis...` -> `actmax.compat.vis...`, and the Keras 2 modules whose names changed in
Keras 3 -> `actmax.compat.keras...`; nothing else changes, line for line), then run by pytest in
a fresh process, once per flavour of `actmax.compat.vis`. Without `KERAS_VIS_SRC` the test is
skipped.

Every upstream test passes with the "master" flavour. With the default "fork" flavour (the
keras-vis the lab installs) the saliency tests below fail, as they fail against that fork
itself: they expect master's float (H, W) map and its `keepdims` option, and the fork returns
jet-coloured (H, W, 3) RGB maps and has no `keepdims`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from imports import changed_lines, rewrite

SALIENCY = "vis/visualization/test_saliency.py::"
FORK_DIFFERS = {
    SALIENCY + "test_visualize_saliency": "the fork's map is RGB (28, 28, 3), not (28, 28)",
    SALIENCY + "test_visualize_saliency_with_unkeepdims": "the fork has no keepdims",
    SALIENCY + "test_visualize_saliency_with_losses": "the fork's map is RGB (28, 28, 3)",
    SALIENCY + "test_visualize_saliency_with_losses_with_unkeepdims": "the fork has no keepdims",
    SALIENCY + "test_for_issues_135": "the fork has no keepdims",
}


def upstream_tests() -> Path:
    source = os.environ.get("KERAS_VIS_SRC")
    if not source:
        pytest.skip("set KERAS_VIS_SRC to a keras-vis checkout to run its own tests on actmax")
    tests = Path(source) / "tests"
    if not tests.is_dir():
        pytest.fail(f"KERAS_VIS_SRC={source} has no tests/ folder")
    return tests


@pytest.fixture(scope="module")
def rewritten():
    """The rewritten tests, in a folder of their own (not pytest's numbered temporary folders,
    which another pytest session of the same user may clean away meanwhile)."""
    tests = upstream_tests()
    with tempfile.TemporaryDirectory(prefix="keras_vis_tests.") as folder:
        yield _rewrite_all(tests, Path(folder))


def _rewrite_all(tests: Path, out: Path) -> Path:
    for path in sorted(tests.rglob("*.py")):
        source = path.read_text()
        new = rewrite(source)
        for old_line, new_line in changed_lines(source, new):
            assert old_line.lstrip().startswith(("import ", "from ")), old_line
            assert new_line.lstrip().startswith(("import ", "from ")), new_line
        target = out / path.relative_to(tests)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(new)
    return out


def run(folder: Path, flavour: str) -> tuple[dict[str, str], str]:
    """Each upstream test's outcome ("passed", "failed" or "skipped"), and pytest's output."""
    report = folder / f"report-{flavour}.xml"
    env = dict(os.environ, ACTMAX_KERAS_VIS=flavour, KERAS_BACKEND="torch")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    command += ["--rootdir", str(folder), f"--junitxml={report}", str(folder)]
    done = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    output = (done.stdout + done.stderr)[-4000:]
    assert report.exists(), output
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        state = "passed"
        if case.find("failure") is not None or case.find("error") is not None:
            state = "failed"
        elif case.find("skipped") is not None:
            state = "skipped"
        outcomes[f"{path}::{case.get('name')}"] = state
    return outcomes, output


def test_every_upstream_test_passes_with_masters_flavour(rewritten):
    outcomes, output = run(rewritten, "master")
    assert outcomes, "no upstream tests ran"
    assert {k: v for k, v in outcomes.items() if v != "passed"} == {}, output


def test_with_the_forks_flavour_only_masters_saliency_expectations_differ(rewritten):
    outcomes, output = run(rewritten, "fork")
    failed = {k for k, v in outcomes.items() if v != "passed"}
    assert failed == set(FORK_DIFFERS) & set(outcomes), output
