"""`actmax atlas` from the command line: a site from a run folder, and one-line errors."""

import re
import sys

import pytest
from atlas_helpers import CLI_ARGS, cli_atlas, run_folder

from actmax.cli import main


def test_the_command_writes_a_site_and_a_summary(tmp_path_factory):
    run = cli_atlas(tmp_path_factory)
    assert run.exit_code == 0, run.output
    summary = r"atlas: 35 units in [\d.]+ s \([\d.]+ units/s\) on this process"
    assert re.search(summary, run.output), run.output
    assert (run.out / "index.html").exists()
    assert len(list((run.out / "units" / "l5").glob("*.html"))) == 10
    assert len(list((run.out / "images").rglob("*.png"))) == 35 * (2 + 18)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layers", "l1,nope"], "no layer named 'nope'"),
        (["--data", "missing.npy"], "no such data set or file"),
        (["--images-per-shard", "300"], "must be a multiple of the forward batch (256)"),
        (["--ray", "auto", "--threads", "0"], "Invalid value for '--threads'"),
        (["--workers", "4"], "add --ray auto"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    folder = run_folder(tmp_path)
    code = main(["atlas", str(folder), *CLI_ARGS, "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_a_missing_model_and_an_existing_site_are_refused(tmp_path_factory, tmp_path, capsys):
    assert main(["atlas", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "no model file or folder at" in capsys.readouterr().err
    run = cli_atlas(tmp_path_factory)
    folder = run_folder(tmp_path_factory.getbasetemp() / "atlas-cli")
    assert main(["atlas", str(folder), *CLI_ARGS, "--out", str(run.out)]) == 2
    assert "already holds an atlas: pass --resume" in capsys.readouterr().err
    # resuming a finished atlas runs no shard and writes the site again
    assert main(["atlas", str(folder), *CLI_ARGS, "--out", str(run.out), "--resume"]) == 0
    assert "0 shards run" in capsys.readouterr().out


def test_ray_missing_is_one_line_that_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    folder = run_folder(tmp_path)
    code = main(["atlas", str(folder), *CLI_ARGS, "--out", str(tmp_path / "o"), "--ray", "auto"])
    assert code == 2
    assert "pip install 'actmax[ray]'" in capsys.readouterr().err
