import json

import pytest
import torch
from fashion_helpers import small_fashion
from training_helpers import small_mnist

import actmax.lab.training
from actmax.cli import main
from actmax.lab.checkpoint import load_model
from actmax.lab.training import TrainConfig


@pytest.fixture
def small_data(monkeypatch):
    """`actmax train` on a slice of MNIST, so a whole run takes a second or two."""
    monkeypatch.setattr(
        actmax.lab.training, "load_dataset", lambda name, path=None: small_mnist(512, 256)
    )


def _fails_with_one_line(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert match in err, err
    return err


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--epochs", "0"], "Invalid value for '--epochs'"),
        (["--batch-size", "-1"], "Invalid value for '--batch-size'"),
        (["--seed", "-2"], "Invalid value for '--seed'"),
        (["--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_nonsensical_flags(capsys, tmp_path, flags, match):
    _fails_with_one_line(capsys, ["train", "--out", str(tmp_path / "run"), *flags], match)
    assert not (tmp_path / "run").exists()


def test_missing_data_file(capsys, tmp_path):
    missing = tmp_path / "absent.npz"
    _fails_with_one_line(capsys, ["train", "--data", str(missing)], "MNIST file not found")


def test_corrupt_data_file(capsys, tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    out = tmp_path / "run"
    _fails_with_one_line(capsys, ["train", "--data", str(bad), "--out", str(out)], "not a readable")
    assert not out.exists()  # nothing is left behind that would block the next try


def test_unwritable_output_folder(capsys, tmp_path, small_data):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    _fails_with_one_line(capsys, ["train", "--out", str(blocker / "run")], "cannot write to")
    _fails_with_one_line(capsys, ["train", "--out", str(blocker)], "it is a file")


def test_existing_run_folder_is_not_overwritten(capsys, tmp_path, small_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"someone else's model")
    _fails_with_one_line(capsys, ["train", "--out", str(out)], "pass --resume")
    assert (out / "model.safetensors").read_bytes() == b"someone else's model"


def test_resume_needs_a_run_to_resume(capsys, tmp_path):
    _fails_with_one_line(
        capsys, ["train", "--out", str(tmp_path / "none"), "--resume"], "nothing to resume"
    )


def test_corrupt_checkpoint_on_resume(capsys, tmp_path, small_data):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    (out / "checkpoint.safetensors").write_bytes(b"\x00" * 64)
    _fails_with_one_line(
        capsys, ["train", "--epochs", "2", "--out", str(out), "--resume"], "not a readable"
    )


def test_resume_with_other_settings_is_refused(capsys, tmp_path, small_data):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    _fails_with_one_line(
        capsys, ["train", "--out", str(out), "--resume", "--seed", "7"], "other settings"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu(capsys, tmp_path):
    _fails_with_one_line(
        capsys, ["train", "--device", "cuda", "--out", str(tmp_path / "r")], "no CUDA device"
    )


def test_train_writes_a_complete_run_and_resume_continues_it(capsys, tmp_path, small_data):
    out = tmp_path / "run"
    argv = ["train", "--epochs", "2", "--batch-size", "64", "--seed", "4", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Test accuracy:" in printed and "true\\pred" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["epochs"] == 2 and metrics["seed"] == 4
    assert {"loss.png", "accuracy.png", "confusion_matrix.png"} <= {p.name for p in out.iterdir()}

    # the same run, stopped after one epoch and resumed from the command line, ends the same
    cut = tmp_path / "cut"
    assert main([*argv[:-1], str(cut), "--epochs", "1", "--quiet"]) == 0
    assert main(["train", "--out", str(cut), "--resume", "--epochs", "2", "--quiet"]) == 0
    whole, resumed = load_model(out), load_model(cut)
    for name, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    resumed_metrics = json.loads((cut / "metrics.json").read_text())
    assert resumed_metrics["history"]["val_loss"] == metrics["history"]["val_loss"]


def test_an_unknown_device_is_a_clear_error():
    import pytest

    from actmax.errors import ActmaxError
    from actmax.lab.training import resolve_device

    with pytest.raises(ActmaxError, match="unknown device 'abacus'"):
        resolve_device("abacus")


def test_train_on_fashion_mnist_names_its_classes(capsys, tmp_path, monkeypatch):
    small = small_fashion(512, 256)
    asked = []

    def load(name, path=None):
        asked.append((name, path))
        return small

    monkeypatch.setattr(actmax.lab.training, "load_dataset", load)
    out = tmp_path / "run"
    argv = ["train", "--dataset", "fashion-mnist", "--epochs", "1", "--out", str(out)]
    assert main(argv) == 0
    assert asked == [("fashion-mnist", None)]
    printed = capsys.readouterr().out
    assert "Ankle boot" in printed and "T-shirt/top" in printed  # both tables name the classes
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["dataset"] == "fashion-mnist"
    assert metrics["data"]["class_names"][9] == "Ankle boot"
    assert sum(map(sum, metrics["confusion_matrix"])) == 256
    mnist_key = TrainConfig(epochs=1).key()
    assert metrics["key"] == TrainConfig(epochs=1, dataset="fashion-mnist").key() != mnist_key
    assert load_model(out)(torch.from_numpy(small.x_test[:3])).shape == (3, 10)


def test_unknown_dataset_and_wrong_data_path(capsys, tmp_path):
    _fails_with_one_line(capsys, ["train", "--dataset", "cifar"], "Invalid value for '--dataset'")
    folder = tmp_path / "empty"
    folder.mkdir()
    argv = ["train", "--dataset", "fashion-mnist", "--data", str(folder), "--out", str(tmp_path)]
    err = _fails_with_one_line(capsys, argv, "lacks train-images-idx3-ubyte.gz")
    assert "apt-get install dataset-fashion-mnist" in err
    _fails_with_one_line(capsys, ["train", "--data", str(folder)], "is a folder")
