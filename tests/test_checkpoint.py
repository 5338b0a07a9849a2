import pytest
import torch

from actmax.errors import ActmaxError
from actmax.lab.checkpoint import load_model, save_model


def test_round_trip_gives_identical_predictions(lab_model, tmp_path):
    save_model(lab_model, tmp_path, "lab_cnn")
    loaded = load_model(tmp_path)
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(lab_model.eval()(x), loaded(x))


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ActmaxError, match="holds no model"):
        load_model(tmp_path)
    with pytest.raises(ActmaxError, match="no such run folder"):
        load_model(tmp_path / "absent")


def test_corrupt_weights_are_a_clear_error(lab_model, tmp_path):
    save_model(lab_model, tmp_path, "lab_cnn")
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(ActmaxError, match="corrupt"):
        load_model(tmp_path)


def test_saved_files_are_readable_by_others(lab_model, tmp_path):
    save_model(lab_model, tmp_path, "lab_cnn")
    assert (tmp_path / "model.json").stat().st_mode & 0o044 == 0o044
