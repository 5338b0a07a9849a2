"""Every command takes any model file, its input flags, and images of any size."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import actmax.attribution
import actmax.engine
from actmax.cli import main

SHAPE = (3, 10, 14)
PNG = b"\x89PNG\r\n\x1a\n"


class Rgb(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same RGB model as .pt2 and as .onnx (one with a fixed, one with a free image size)."""
    torch.manual_seed(0)
    model = Rgb().eval()
    folder = tmp_path_factory.mktemp("models")
    x = torch.rand(2, *SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = {0: torch.export.Dim("batch")}
        torch.export.save(
            torch.export.export(model, (x,), dynamic_shapes=(batch,)), folder / "m.pt2"
        )
        for name, axes in (("m.onnx", {0: "n"}), ("free.onnx", {0: "n", 2: "h", 3: "w"})):
            torch.onnx.export(
                model, (x,), str(folder / name), dynamo=False, input_names=["x"],
                output_names=["y"], dynamic_axes={"x": axes, "y": {0: "n"}},
            )  # fmt: skip
    return folder


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("name", ["m.pt2", "m.onnx"])
def test_visualize_saliency_and_cam_run_on_a_model_file(files, photo, tmp_path, capsys, name):
    model = str(files / name)
    norm = ["--mean", "0.5,0.4,0.3", "--std", "0.2,0.2,0.2"]
    out = tmp_path / "grid.png"
    argv = ["visualize", model, "--units", "0-2", "--iterations", "2", *norm, "--out", str(out)]
    assert main(argv) == 0
    assert "3 images" in capsys.readouterr().out and out.read_bytes()[:8] == PNG
    for command in (["saliency", "--method", "guided"], ["cam"]):
        out = tmp_path / f"{command[0]}.png"
        argv = [command[0], model, *command[1:], "--image", str(photo), *norm, "--out", str(out)]
        assert main(argv) == 0
        said = capsys.readouterr().out
        assert "photo.jpg (resized from 64x48 to 14x10)" in said and "predicted" in said
        assert out.read_bytes()[:8] == PNG


def test_a_model_that_does_not_say_its_input_shape_takes_the_flag(files, photo, tmp_path, capsys):
    model, out = str(files / "free.onnx"), tmp_path / "cam.png"
    assert main(["cam", model, "--image", str(photo), "--out", str(out)]) == 2
    assert "give --input-shape C,H,W" in capsys.readouterr().err
    argv = ["cam", model, "--image", str(photo), "--input-shape", "3,24,32", "--out", str(out)]
    assert main(argv) == 0
    assert "resized from 64x48 to 32x24" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras' save
def test_a_keras_file_runs_in_every_command(photo, tmp_path, capsys):
    from keras_lab import keras, layers

    inputs = keras.Input((10, 14, 3))
    h = layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = layers.GlobalAveragePooling2D(name="pool")(h)
    model = keras.Model(inputs, layers.Dense(5, activation="softmax", name="probs")(h))
    path = tmp_path / "m.keras"
    model.save(path)
    out = tmp_path / "k.png"
    argv = ["visualize", str(path), "--units", "1", "--iterations", "2", "--out", str(out)]
    assert main(argv) == 0
    assert main(["cam", str(path), "--image", str(photo), "--out", str(tmp_path / "c.png")]) == 0
    said = capsys.readouterr().out
    assert "Grad-CAM on layer conv for class" in said


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--device", "gpu"], "unknown device 'gpu'"),
        (["--out", "{tmp}/grid.xyz"], "cannot write .xyz"),
        (["--gif", "{tmp}/a.png"], "must end in .gif"),
        (["--input-shape", "3,x"], "is not a list of numbers"),
        (["--mean", "0.5,0.5"], "Normalize has statistics for 2 channels, but the input has 3"),
        (["--layer", "conv.weight"], "no layer named 'conv.weight'"),
    ],
)
def test_bad_flags_fail_in_one_line_before_any_work(files, tmp_path, capsys, monkeypatch, flags,
                                                    message):  # fmt: skip
    def no_work(*_args, **_kwargs):
        raise AssertionError("the optimization ran")

    if "--mean" not in flags and "--layer" not in flags:
        monkeypatch.setattr(actmax.engine, "visualize", no_work)
    flags = [f.format(tmp=tmp_path) for f in flags]
    out = ["--out", str(tmp_path / "grid.png")] if "--out" not in flags else []
    argv = ["visualize", str(files / "m.pt2"), "--iterations", "2", *flags, *out]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "corrupt" not in err
    assert not (tmp_path / "grid.png").exists() and not (tmp_path / "grid.xyz").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("command", ["visualize", "saliency", "cam"])
def test_cuda_without_cuda_is_one_line_and_exit_2(files, tmp_path, capsys, monkeypatch, command):
    monkeypatch.setattr(actmax.attribution, "explain", lambda *a, **k: pytest.fail("ran"))
    extra = ["--image", "1"] if command != "visualize" else []
    argv = [command, str(files / "m.pt2"), *extra, "--device", "cuda"]
    assert main([*argv, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA" in err and "use cpu" in err


@pytest.fixture(scope="module")
def generator_file(tmp_path_factory):
    """A generator of SHAPE images from 6-d codes, exported with a fixed code shape."""
    torch.manual_seed(1)
    generator = nn.Sequential(
        nn.Linear(6, int(np.prod(SHAPE))), nn.Sigmoid(), nn.Unflatten(1, SHAPE)
    )
    path = tmp_path_factory.mktemp("generator") / "g.pt2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(
            generator.eval(), (torch.randn(2, 6),), dynamic_shapes=({0: torch.export.Dim("n")},)
        )
        torch.export.save(program, path)
    return path


def test_visualize_searches_through_a_generator_file(files, generator_file, tmp_path, capsys):
    out = tmp_path / "prior.png"
    argv = ["visualize", str(files / "m.pt2"), "--prior", str(generator_file), "--units", "0-2",
            "--iterations", "3", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "3 images" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.format == "PNG"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--prior", "cifar"], "'cifar' is neither a data set (mnist, fashion-mnist) nor"),
        (["--prior", "mnist", "--tv-weight", "2", "--jitter", "1"], "drop --tv-weight, --jitter"),
        (["--prior", "mnist", "--recipe", "keras-vis"], "--prior replaces the recipe; drop"),
    ],
)
def test_a_bad_prior_is_one_line_before_any_work(files, tmp_path, capsys, flags, message):
    out = tmp_path / "x.png"
    argv = ["visualize", str(files / "m.pt2"), *flags, "--iterations", "2", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()
