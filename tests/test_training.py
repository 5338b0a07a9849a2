import json

import numpy as np
import pytest
import torch
from torch import nn
from training_helpers import small_mnist

from actmax.errors import ActmaxError
from actmax.lab.checkpoint import load_model
from actmax.lab.models import build_model
from actmax.lab.runs import RunFolder, find_run, load_state
from actmax.lab.training import (
    KerasRMSprop,
    TrainConfig,
    fit,
    train,
    training_logits,
)


def _keras_rmsprop_reference(p0, grads, lr, rho, eps):
    """Keras 3's RMSprop.update_step written out in numpy (float64)."""
    p, v = np.array(p0, dtype=np.float64), np.zeros_like(p0, dtype=np.float64)
    for g in grads:
        g = np.asarray(g, dtype=np.float64)
        v = rho * v + (1 - rho) * g**2
        p = p - lr * g / np.sqrt(v + eps)
    return p


def test_rmsprop_reproduces_keras_docstring_example():
    # keras.optimizers.RMSprop(learning_rate=0.1) on loss = var**2 / 2 from 10.0 gives 9.683772
    var = torch.tensor(10.0, requires_grad=True)
    opt = KerasRMSprop([var], lr=0.1)
    (var**2 / 2).backward()
    opt.step()
    assert var.item() == pytest.approx(9.683772, abs=1e-6)


def test_rmsprop_matches_hand_computed_keras_updates():
    p0 = np.array([0.5, -1.0, 2.0, 0.0], dtype=np.float32)
    # large, moderate and tiny gradients: the tiny ones expose where epsilon goes
    grads = [[1.0, -0.01, 1e-5, 3e-4], [0.5, 0.02, -2e-5, 1e-4], [-2.0, 0.0, 1e-5, -3e-4]]
    param = torch.tensor(p0, requires_grad=True)
    opt = KerasRMSprop([param])  # Keras' defaults
    for g in grads:
        param.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
    expected = _keras_rmsprop_reference(p0, grads, lr=1e-3, rho=0.9, eps=1e-7)
    np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-6, atol=1e-9)

    # torch's RMSprop puts epsilon outside the root: same for big gradients, far off for tiny ones
    other = torch.tensor(p0, requires_grad=True)
    torch_opt = torch.optim.RMSprop([other], lr=1e-3, alpha=0.9, eps=1e-7)
    for g in grads:
        other.grad = torch.tensor(g, dtype=torch.float32)
        torch_opt.step()
    moved_keras = np.abs(expected - p0)
    moved_torch = np.abs(other.detach().numpy() - p0)
    assert moved_torch[0] == pytest.approx(moved_keras[0], rel=1e-4)
    assert moved_torch[2] > 5 * moved_keras[2]


def test_lab_settings_are_the_keras_defaults():
    config = TrainConfig()
    assert (config.epochs, config.batch_size) == (10, 128)
    assert (config.learning_rate, config.rho, config.epsilon) == (1e-3, 0.9, 1e-7)
    group = KerasRMSprop([torch.zeros(1, requires_grad=True)]).param_groups[0]
    assert (group["lr"], group["rho"], group["epsilon"]) == (1e-3, 0.9, 1e-7)


def test_config_key_is_stable_and_tracks_every_setting():
    config = TrainConfig()
    assert config.key() == TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))).key()
    keys = {config.key()}
    for change in ({"seed": 1}, {"epochs": 9}, {"batch_size": 64}, {"learning_rate": 2e-3}):
        keys.add(config.replace(**change).key())
    assert len(keys) == 5


@pytest.mark.parametrize(
    "bad", [{"epochs": 0}, {"batch_size": -1}, {"seed": -3}, {"architecture": "vgg"}]
)
def test_nonsensical_settings_are_refused(bad):
    with pytest.raises(ActmaxError):
        TrainConfig(**bad)
    with pytest.raises(ActmaxError, match="unknown training settings"):
        TrainConfig.from_dict({"epoch": 3})


def test_fast_training_forward_equals_the_model_exactly(lab_model):
    x = torch.rand(16, 1, 28, 28)
    fast = training_logits(lab_model)
    out_fast = fast(x)
    grads_fast = torch.autograd.grad(out_fast.sum(), list(lab_model.parameters()))
    out_ref = lab_model.logits(x)
    grads_ref = torch.autograd.grad(out_ref.sum(), list(lab_model.parameters()))
    assert torch.equal(out_fast, out_ref)
    assert all(torch.equal(a, b) for a, b in zip(grads_fast, grads_ref, strict=True))
    lab_model.l2.activation = nn.Tanh()  # no longer ReLU: the plain path must be used
    assert torch.equal(training_logits(lab_model)(x), lab_model.logits(x))


def _fit_small(seed: int, epochs: int = 2, **kwargs):
    data = small_mnist(512, 256)
    model = build_model("lab_cnn", seed=seed)
    history = fit(
        model,
        data.x_train,
        data.y_train,
        epochs=epochs,
        batch_size=64,
        validation_data=(data.x_test, data.y_test),
        seed=seed,
        progress=False,
        **kwargs,
    )
    return model, history


def test_short_real_training_learns():
    data = small_mnist(2048, 512)
    model = build_model("lab_cnn", seed=0)
    history = fit(
        model,
        data.x_train,
        data.y_train,
        epochs=3,
        batch_size=64,
        validation_data=(data.x_test, data.y_test),
        progress=False,
    )
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert history["val_accuracy"][-1] > 0.75  # chance is 0.10
    assert len(history["seconds"]) == 3


def test_same_seed_same_weights_bit_for_bit():
    first, history_a = _fit_small(seed=3)
    second, history_b = _fit_small(seed=3)
    other, _ = _fit_small(seed=4)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert history_a["loss"] == history_b["loss"]
    assert not torch.equal(first.l1.conv.weight, other.l1.conv.weight)


def test_fit_trains_any_model_with_a_seeded_augmentation():
    data = small_mnist(512, 128)
    calls = []

    def shift(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        calls.append(len(batch))
        dx = int(torch.randint(-2, 3, (1,), generator=generator))
        return torch.roll(batch, shifts=dx, dims=3)

    def run():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
        history = fit(
            model,
            data.x_train,
            data.y_train,
            epochs=3,
            batch_size=100,
            optimizer=KerasRMSprop(model.parameters(), lr=3e-3),
            augment=shift,
            validation_data=(data.x_test, data.y_test),
            seed=5,
            progress=False,
        )
        return model, history

    model_a, history_a = run()
    model_b, _ = run()
    assert calls[:6] == [100, 100, 100, 100, 100, 12]  # the last batch is smaller, as in Keras
    assert history_a["val_accuracy"][-1] > 0.6
    assert torch.equal(model_a[1].weight, model_b[1].weight)


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path):
    data = small_mnist(512, 256)
    config = TrainConfig(epochs=3, batch_size=64, seed=1)
    whole = train(config, tmp_path / "whole", data=data, progress=False)

    def interrupt_after_first_epoch(state):
        if state.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            config,
            tmp_path / "cut",
            data=data,
            progress=False,
            on_epoch_end=interrupt_after_first_epoch,
        )
    state, _ = load_state(tmp_path / "cut" / "checkpoint.safetensors")
    assert state.epoch == 1
    assert not (tmp_path / "cut" / "metrics.json").exists()

    resumed = train(config, tmp_path / "cut", data=data, progress=False, resume=True)
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert resumed.history[key] == whole.history[key]
    assert resumed.test.accuracy == whole.test.accuracy


def test_resume_can_extend_a_finished_run(tmp_path):
    data = small_mnist(512, 256)
    config = TrainConfig(epochs=2, batch_size=64, seed=2)
    whole = train(config, tmp_path / "whole", data=data, progress=False)
    train(config.replace(epochs=1), tmp_path / "short", data=data, progress=False)
    longer = train(config, tmp_path / "short", data=data, progress=False, resume=True)
    assert torch.equal(longer.model.l1.conv.weight, whole.model.l1.conv.weight)
    with pytest.raises(ActmaxError, match="other settings"):
        train(config.replace(seed=9), tmp_path / "short", data=data, resume=True)


def test_a_run_folder_holds_model_metrics_and_figures(tmp_path):
    data = small_mnist(512, 300)
    result = train(
        TrainConfig(epochs=2, batch_size=128), tmp_path / "run", data=data, progress=False
    )
    folder = tmp_path / "run"
    metrics = json.loads((folder / "metrics.json").read_text())
    cm = np.array(metrics["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 300
    assert metrics["test"]["accuracy"] == pytest.approx(np.trace(cm) / 300)
    assert metrics["test"]["accuracy"] == pytest.approx(metrics["history"]["val_accuracy"][-1])
    assert len(metrics["history"]["loss"]) == 2 and len(metrics["precision"]) == 10
    assert metrics["seed"] == 0 and metrics["config"]["batch_size"] == 128
    assert metrics["key"] == TrainConfig(epochs=2, batch_size=128).key()
    assert metrics["timing"]["train_seconds"] > 0
    for name in ("loss.png", "accuracy.png", "confusion_matrix.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = load_model(folder)
    x = torch.from_numpy(data.x_test[:20])
    with torch.no_grad():
        assert torch.equal(loaded(x), result.model(x))
    assert find_run(tmp_path, metrics["key"]).path == folder
    assert find_run(tmp_path, TrainConfig(seed=5).key()) is None


def test_an_existing_run_folder_is_never_overwritten(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ActmaxError, match="not empty"):
        train(TrainConfig(epochs=1), folder, data=small_mnist(128, 64), progress=False)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "mine"


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    run = RunFolder.create(tmp_path / "run", {"key": "x", "config": TrainConfig().to_dict()})
    run.checkpoint_file.write_bytes(b"not a checkpoint")
    with pytest.raises(ActmaxError, match="not a readable actmax checkpoint"):
        train(TrainConfig(), run.path, data=small_mnist(128, 64), resume=True, progress=False)
