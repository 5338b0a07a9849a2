"""Small atlases of the lab CNN shared by the atlas tests: quick settings, a saved run folder,
and a comparison of two atlases' shard files."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from actmax.atlas import AtlasSettings, open_data
from actmax.cli import cli
from actmax.lab.checkpoint import save_model
from actmax.lab.models import build_model

LAYERS = "l1,l3,l5"  # channels of a 28x28 map, of a 7x7 map, and the logits: 35 units
IMAGES = 1024
QUICK = AtlasSettings(seeds=2, iterations=12, block=8, chunk=256, batch=128)


CLI_ARGS = (
    "--layers", LAYERS, "--seeds", "2", "--iterations", "12", "--limit", str(IMAGES),
    "--units-per-shard", "8", "--images-per-shard", "256",
)  # fmt: skip


def lab_model():
    return build_model("lab_cnn", seed=0)


@functools.cache
def mnist_images() -> np.ndarray:
    """The first IMAGES test digits, read once per test session."""
    return open_data("mnist", IMAGES).images


@dataclass(frozen=True)
class CliAtlas:
    out: Path
    exit_code: int
    output: str


_CLI_RUNS: dict[str, CliAtlas] = {}


def cli_atlas(tmp_path_factory, *extra: str) -> CliAtlas:
    """`actmax atlas` of a saved lab CNN with quick settings, run once per test session."""
    key = " ".join(extra)
    if key not in _CLI_RUNS:
        base = tmp_path_factory.getbasetemp() / "atlas-cli"
        out = base / f"site{len(_CLI_RUNS)}"
        args = ["atlas", str(run_folder(base)), *CLI_ARGS, "--out", str(out), *extra]
        result = CliRunner().invoke(cli, args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        _CLI_RUNS[key] = CliAtlas(out, result.exit_code, result.output)
    return _CLI_RUNS[key]


def run_folder(root: Path) -> Path:
    folder = root / "run"
    if not (folder / "model.json").exists():
        root.mkdir(parents=True, exist_ok=True)
        save_model(lab_model(), folder, "lab_cnn")
    return folder


def shard_files(out: Path) -> dict[str, Path]:
    return {path.name: path for path in sorted((out / "shards").glob("*.npz"))}


def assert_same_shards(a: Path, b: Path) -> None:
    """Every shard file of atlas `a` equals `b`'s, array for array, bit for bit."""
    left, right = shard_files(a), shard_files(b)
    assert left.keys() == right.keys() and left
    for name in left:
        with np.load(left[name]) as x, np.load(right[name]) as y:
            assert x.files == y.files, name
            for key in x.files:
                assert x[key].dtype == y[key].dtype, (name, key)
                assert np.array_equal(x[key], y[key]), f"{name}: {key} differs"
