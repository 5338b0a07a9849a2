import numpy as np
import pytest
from PIL import Image

from actmax.cli import main
from actmax.lab.checkpoint import save_model
from actmax.lab.models import build_model

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def run_dir(tmp_path):
    return save_model(build_model("lab_cnn", seed=0), tmp_path / "run", "lab_cnn")


def test_saliency_writes_a_figure_for_a_test_digit(run_dir, tmp_path, capsys):
    out = tmp_path / "sal.png"
    args = ["saliency", str(run_dir), "--image", "3", "--target", "0", "--method", "guided"]
    assert main([*args, "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG
    said = capsys.readouterr().out
    assert "guided saliency for class 0" in said and "MNIST test digit #3, label 0" in said


def test_smoothgrad_options(run_dir, tmp_path, capsys):
    out = tmp_path / "smooth.png"
    args = ["saliency", str(run_dir), "--image", "0", "--method", "smoothgrad", "--samples", "3"]
    assert main([*args, "--noise", "0.1", "--out", str(out)]) == 0
    assert out.exists()


def test_cam_reports_the_layer_and_explains_the_predicted_class(run_dir, tmp_path, capsys):
    out = tmp_path / "cam.png"
    assert main(["cam", str(run_dir), "--image", "7", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Grad-CAM on layer l3_mp for class" in said and "predicted" in said
    out2 = tmp_path / "campp.pdf"
    args = ["cam", str(run_dir), "--image", "7", "--layer", "l3", "--plus-plus", "--target", "2"]
    assert main([*args, "--out", str(out2)]) == 0
    assert "Grad-CAM++ on layer l3 for class 2" in capsys.readouterr().out
    assert out2.read_bytes()[:4] == b"%PDF"


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_an_image_file_is_converted_to_the_model_input(run_dir, tmp_path, capsys, mode):
    picture = tmp_path / "digit.png"
    rng = np.random.default_rng(0)
    shape = (40, 30) if mode == "L" else (40, 30, 3)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(picture)
    out = tmp_path / "file.png"
    assert main(["cam", str(run_dir), "--image", str(picture), "--out", str(out)]) == 0
    assert "digit.png" in capsys.readouterr().out and out.exists()


def test_an_existing_out_is_kept_unless_overwrite(run_dir, tmp_path, capsys):
    out = tmp_path / "taken.png"
    out.write_bytes(b"mine")
    args = ["saliency", str(run_dir), "--image", "1", "--out", str(out)]
    assert main(args) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"
    assert main([*args, "--overwrite"]) == 0
    assert out.read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["saliency", "{run}", "--image", "10000"], "the MNIST test set has images 0..9999"),
        (["saliency", "{run}", "--image", "-1"], "has images 0..9999"),
        (["saliency", "{run}", "--image", "nothere.png"], "no such image file"),
        (["saliency", "{run}", "--image", "{bad}"], "not a readable image"),
        (["saliency", "{run}", "--image", "1", "--target", "10"], "out of range for l5:pre"),
        (["saliency", "{run}", "--image", "1", "--method", "lime"], "'lime' is not one of"),
        (["cam", "{run}", "--image", "1", "--layer", "l4"], "'l4' has output shape (25,)"),
        (["cam", "{run}", "--image", "1", "--layer", "l9"], "no layer named 'l9'"),
        (["cam", "{tmp}/empty", "--image", "1"], "no model file or folder at"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_dir, tmp_path, capsys, args, message):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    fill = {"run": str(run_dir), "bad": str(bad), "tmp": str(tmp_path)}
    out = tmp_path / "x.png"
    assert main([a.format(**fill) for a in args] + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_unsupported_out_format(run_dir, tmp_path, capsys):
    assert main(["cam", str(run_dir), "--image", "1", "--out", str(tmp_path / "x.docx")]) == 2
    assert "cannot write .docx" in capsys.readouterr().err


def test_an_index_picks_from_the_test_set_the_run_was_trained_on(run_dir, tmp_path, capsys):
    (run_dir / "config.json").write_text('{"dataset": "fashion-mnist"}')
    out = tmp_path / "fashion.png"
    assert main(["cam", str(run_dir), "--image", "0", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    # the first Fashion-MNIST test image is an ankle boot
    assert "Fashion-MNIST test article #0, label Ankle boot" in said
