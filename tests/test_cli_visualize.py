import pytest
from engine_helpers import one_thread  # noqa: F401
from PIL import Image

from actmax.cli import main
from actmax.cli.visualize import parse_units
from actmax.lab.checkpoint import save_model
from actmax.lab.models import build_model


@pytest.fixture
def run_folder(tmp_path):
    return save_model(build_model("lab_cnn", seed=0), tmp_path / "run", "lab_cnn")


def test_unit_specs():
    assert parse_units("0-3") == [[0], [1], [2], [3]]
    assert parse_units("1,7") == [[1], [7]]
    assert parse_units("1+7, 4+9,2") == [[1, 7], [4, 9], [2]]


def test_visualize_writes_a_grid(run_folder, tmp_path, capsys):
    out = tmp_path / "grid.png"
    gif = tmp_path / "grid.gif"
    argv = [
        "visualize", str(run_folder), "--layer", "l5", "--units", "0-2,1+7",
        "--tv-weight", "0.5", "--iterations", "3", "--out", str(out), "--gif", str(gif),
    ]  # fmt: skip
    assert main(argv) == 0
    assert "4 images" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 400
    with Image.open(gif) as image:
        assert image.n_frames == 4
    # an existing file is not replaced unless asked
    assert main(argv) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite", "--recipe", "keras-vis", "--softmax"]) == 0


def test_layer_by_index_and_channels(run_folder, tmp_path):
    out = tmp_path / "l1.png"
    assert main(["visualize", str(run_folder), "--layer", "1", "--units", "0-8",
                 "--iterations", "2", "--out", str(out)]) == 0  # fmt: skip
    assert out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--units", "1-x"], "is not a unit"),
        (["--units", "5-2"], "empty range"),
        (["--units", "10"], "out of range for l5:pre: it has 10 units"),
        (["--layer", "l9"], "no layer named 'l9'; the layers are: l0, l1"),
        (["--layer", "l2.cnv"], "close matches: l2.conv"),
        (["--recipe", "lucid"], "Invalid value for '--recipe'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_folder, tmp_path, capsys, args, message):
    out = tmp_path / "x.png"
    code = main(["visualize", str(run_folder), *args, "--iterations", "2", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_missing_run_folder(tmp_path, capsys):
    code = main(["visualize", str(tmp_path / "nope"), "--out", str(tmp_path / "x.png")])
    assert code == 2
    assert "no model file or folder at" in capsys.readouterr().err
