"""The lab's yardsticks: augmentation, the independent judge and the realism measures."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from actmax.errors import ActmaxError
from actmax.lab.checkpoint import load_model
from actmax.lab.data import load_mnist
from actmax.lab.models import Dense, build_model
from actmax.lab.realism import (
    JudgeCNN,
    JudgeConfig,
    RandomAffine,
    RealismMeter,
    affine,
    load_or_train_judge,
)


def test_affine_identity_returns_the_image():
    x = torch.rand(3, 1, 28, 28)
    out = affine(x, torch.zeros(3), torch.ones(3), torch.zeros(3, 2))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_affine_shift_moves_content_by_whole_pixels():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 10, 12] = 1.0
    out = affine(x, torch.zeros(1), torch.ones(1), torch.tensor([[2.0, -1.0]]))
    assert out[0, 0, 9, 14] == pytest.approx(1.0, abs=1e-5)
    assert out.sum() == pytest.approx(1.0, abs=1e-5)


def test_affine_quarter_turn_is_a_rotation_of_the_grid():
    x = torch.rand(1, 1, 28, 28)
    out = affine(x, torch.tensor([math.pi / 2]), torch.ones(1), torch.zeros(1, 2))
    rotated = torch.rot90(x, k=1, dims=(2, 3))
    assert (
        min((out - rotated).abs().max(), (out - torch.rot90(x, k=-1, dims=(2, 3))).abs().max())
        < 1e-4
    )


def test_random_affine_is_seeded_and_light():
    x = load_mnist().x_test[:64]
    x = torch.from_numpy(x)
    aug = RandomAffine()
    a = aug(x, torch.Generator().manual_seed(3))
    b = aug(x, torch.Generator().manual_seed(3))
    c = aug(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1 + 1e-6
    # Light: ink is moved, not destroyed.
    ratio = a.sum((1, 2, 3)) / x.sum((1, 2, 3))
    assert float(ratio.min()) > 0.7 and float(ratio.max()) < 1.3


class ToyLab(nn.Module):
    """Features are the 4 pixels of a 2x2 image; logits are a fixed linear map of them."""

    input_shape = (1, 2, 2)

    def __init__(self):
        super().__init__()
        self.feat = nn.Flatten()
        self.head = Dense(4, 3, activation="softmax")
        with torch.no_grad():
            self.head.linear.weight.copy_(
                torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 1.0]])
            )
            self.head.linear.bias.zero_()

    def logits(self, x):
        return self.head.linear(self.feat(x))

    def forward(self, x):
        return self.head(self.feat(x))


class FixedJudge(nn.Module):
    """Judges by the same linear map, so its answers are known."""

    def __init__(self, toy):
        super().__init__()
        self.toy = toy

    def forward(self, x):
        return self.toy.logits(x) * 5


def mean_intensity(images: torch.Tensor) -> np.ndarray:
    """A stand-in realism score whose values are known."""
    return images.flatten(1).mean(1).double().numpy()


@pytest.fixture
def toy_meter():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(30, 1, 2, 2)).astype(np.float32)
    y = np.arange(30) % 3
    toy = ToyLab()
    return RealismMeter(toy, FixedJudge(toy), x, y, mean_intensity, feature_layer="feat"), x, y


def test_best_real_digit_scores_activation_one(toy_meter):
    meter, x, y = toy_meter
    logits = ToyLab().logits(torch.from_numpy(x)).detach().numpy()
    for c in range(3):
        rows = np.flatnonzero(y == c)
        best = rows[np.argmax(logits[rows, c])]
        assert meter.best_logit[c] == pytest.approx(logits[best, c])
        m = meter.measure(torch.from_numpy(x[best]), [c])
        assert m.activation[0] == pytest.approx(1.0)


def test_realism_is_the_given_score_and_real_images_set_its_yardsticks(toy_meter):
    meter, x, y = toy_meter
    probe = torch.tensor([[[[0.9, 0.1], [0.3, 0.0]]], [[[0.0, 0.2], [0.7, 0.7]]]])
    m = meter.measure(probe, [0, 2])
    np.testing.assert_allclose(m.realism, [0.325, 0.4], rtol=1e-6)
    real = x.reshape(len(x), -1).mean(1)
    for c in range(3):
        assert meter.real_realism[c] == pytest.approx(np.median(real[y == c]), rel=1e-6)
        assert meter.realism_range[c].tolist() == pytest.approx(
            [real[y == c].min(), real[y == c].max()], rel=1e-6
        )
    assert m.summary()["realism"] == pytest.approx(0.3625)
    assert m.summary()["min_realism"] == pytest.approx(0.325)


def test_class_similarity_is_the_cosine_of_mean_unit_features(toy_meter):
    meter, x, y = toy_meter
    unit = x.reshape(len(x), -1) / np.linalg.norm(x.reshape(len(x), -1), axis=1, keepdims=True)
    a, b = unit[y == 0].mean(0), unit[y == 2].mean(0)
    expected = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert meter.class_similarity(0, 2) == pytest.approx(expected, rel=1e-5)


def test_judge_agreement_and_confidence(toy_meter):
    meter, _, _ = toy_meter
    probe = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    m = meter.measure(probe.repeat(2, 1, 1, 1), [0, 1])
    expected = torch.softmax(torch.tensor([5.0, 0.0, 0.0]), 0)
    assert m.agreement.tolist() == [True, False]
    assert m.judge_prediction.tolist() == [0, 0]
    assert m.confidence[0] == pytest.approx(float(expected[0]), rel=1e-6)
    assert m.confidence[1] == pytest.approx(float(expected[1]), rel=1e-6)
    summary = m.summary()
    assert summary["recognized"] == 1 and summary["agreement"] == 0.5


def test_measure_rejects_bad_targets(toy_meter):
    meter, _, _ = toy_meter
    with pytest.raises(ActmaxError, match="targets"):
        meter.measure(torch.zeros(1, 1, 2, 2), [3])
    with pytest.raises(ActmaxError, match="2 images but 1 targets"):
        meter.measure(torch.zeros(2, 1, 2, 2), [0])


def test_meter_on_the_lab_cnn_shapes(lab_model):
    data = load_mnist()
    judge = build_model("judge_cnn", seed=5)
    meter = RealismMeter(lab_model, judge, data.x_test[:500], data.y_test[:500], mean_intensity)
    m = meter.measure(torch.rand(4, 1, 28, 28), [0, 3, 7, 9])
    assert len(m) == 4 and m.realism.shape == (4,)
    assert np.all((m.confidence >= 0) & (m.confidence <= 1))
    assert len(m.rows()) == 4 and set(m.select([1, 2]).target) == {3, 7}


def test_judge_differs_from_the_lab_cnn():
    judge = JudgeCNN()
    kernels = {m.kernel_size for m in judge.modules() if isinstance(m, nn.Conv2d)}
    assert kernels == {(3, 3)}
    assert not any(isinstance(m, nn.MaxPool2d) for m in judge.modules())


def test_judge_trains_caches_and_reloads(tmp_path):
    data = load_mnist()
    config = JudgeConfig(epochs=2, train_subset=4000, seed=2)
    first = load_or_train_judge(data, tmp_path, config)
    assert not first.reused and first.test_accuracy > 0.85
    folder = tmp_path / f"judge-{config.key}"
    assert (folder / "model.safetensors").exists() and (folder / "judge.json").exists()
    again = load_or_train_judge(data, tmp_path, config)
    assert again.reused and again.test_accuracy == first.test_accuracy
    reloaded = load_model(folder).state_dict().values()
    for a, b in zip(first.model.state_dict().values(), reloaded, strict=True):
        assert torch.equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging left behind


def test_judge_key_tracks_every_setting():
    assert JudgeConfig().key == JudgeConfig().key
    assert JudgeConfig(seed=2).key != JudgeConfig().key
    assert JudgeConfig(augment=RandomAffine(max_shift=1)).key != JudgeConfig().key
