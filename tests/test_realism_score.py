"""The realism score's properties, each a test: high on held-out real digits; low on noise, flat
images, keras-vis' class images and adversarial-looking images; falling at every step of growing
corruption. The VAE and the lab CNN are trained small (seconds), so the margins checked here are
those of a weaker score than the lab's."""

import math

import numpy as np
import pytest
import torch
from engine_helpers import one_thread, train_lab_cnn  # noqa: F401
from training_helpers import mnist

from actmax.lab.realism_probes import (
    adversarial_images,
    blur_mix,
    constant_images,
    gaussian_blur,
    keras_vis_images,
    noise_images,
    noisy,
)
from actmax.lab.realism_score import RealismScore, real_range
from actmax.lab.vae import DenseVAE, VAEConfig, elbo, load_or_train_vae, train_vae

REAL = 1000  # held-out test digits: the last ones, never seen in training


@pytest.fixture(scope="module")
def score():
    data = mnist()
    vae = train_vae(data.x_train, data.x_test[:500], VAEConfig(epochs=3, train_subset=12_000))
    return RealismScore(vae.model)


@pytest.fixture(scope="module")
def real(score):
    x = torch.from_numpy(mnist().x_test[-REAL:])
    return x, score(x)


@pytest.fixture(scope="module")
def lab_cnn():
    model, _, _ = train_lab_cnn()
    return model


def below_every_real(score, real, images):
    _, real_scores = real
    s = score(images)
    return s.max(), real_scores.min()


def test_real_digits_score_high_and_alike(real):
    _, s = real
    assert np.all(s > 0)
    # Real digits cluster: the lowest is within a factor 3 of the median.
    assert s.min() > np.median(s) / 3


def test_noise_scores_below_every_real_digit(score, real):
    top, lowest_real = below_every_real(score, real, noise_images(100, (1, 28, 28), seed=3))
    assert top < lowest_real


def test_flat_images_score_below_every_real_digit_the_empty_canvas_too(score, real):
    s = score(constant_images((1, 28, 28)))
    _, real_scores = real
    assert s.max() < real_scores.min()
    # The black image is MNIST's own background, and the plain ELBO ranks it above every digit.
    black = elbo(score.vae, torch.zeros(1, 1, 28, 28))[0]
    assert black > np.median(elbo(score.vae, real[0]))
    assert s[0] < real_scores.min()


def test_keras_vis_class_images_score_below_every_real_digit(score, real, lab_cnn):
    images = keras_vis_images(lab_cnn, iterations=100)
    top, lowest_real = below_every_real(score, real, images)
    assert top < lowest_real


def test_adversarial_images_score_below_every_real_digit(score, real, lab_cnn):
    data = mnist()
    images = adversarial_images(lab_cnn, torch.from_numpy(data.x_test[:10]), data.y_test[:10])
    top, lowest_real = below_every_real(score, real, images)
    assert top < lowest_real


@pytest.mark.parametrize(
    "corrupt, levels",
    [
        (lambda x, t: noisy(x, t, seed=1), (0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)),
        (blur_mix, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
    ],
    ids=["noise", "blur"],
)
def test_realism_falls_at_every_step_of_corruption(score, real, corrupt, levels):
    x = real[0][:200]
    curves = np.stack([score(corrupt(x, t)) for t in levels])
    assert np.all(np.diff(curves.mean(1)) < 0), curves.mean(1)
    each = np.all(np.diff(curves, axis=0) < 0, axis=0).mean()
    assert each >= 0.95, f"{each:.0%} of the images fall at every step"


def test_known_answer_with_a_vae_that_knows_nothing():
    # Zero weights: z ~ N(0, 1) exactly (KL 0) and every pixel has probability 1/2, so the
    # code of any image is 784 ln 2 nats, whatever the draws of z.
    vae = DenseVAE(latent=4, hidden=(8,))
    for p in vae.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(5, 1, 28, 28)
    s = RealismScore(vae)
    np.testing.assert_allclose(s.code(x), 784 * math.log(2), rtol=1e-6)
    ink = x.flatten(1).sum(1).double().numpy()
    np.testing.assert_allclose(s(x), (ink + 1) / (784 * math.log(2)), rtol=1e-6)
    # Outside [0, 1] the image is clipped first.
    np.testing.assert_allclose(s(x * 3 - 1), s((x * 3 - 1).clamp(0, 1)))


def test_score_is_seeded(score):
    x = torch.from_numpy(mnist().x_test[:50])
    a, b = score(x), score(x)
    np.testing.assert_array_equal(a, b)
    other = RealismScore(score.vae, seed=1)(x)
    assert not np.array_equal(a, other)
    np.testing.assert_allclose(a, other, rtol=0.15)  # four draws of z: a spread of a few %


def test_real_range_quantiles():
    r = real_range(np.arange(101.0))
    assert r == {"q0": 0.0, "q1": 1.0, "q50": 50.0, "q99": 99.0, "q100": 100.0}


def test_blur_keeps_a_flat_image_inside_and_noise_zero_is_identity():
    x = torch.full((1, 1, 28, 28), 0.5)
    blurred = gaussian_blur(x)
    assert torch.allclose(blurred[..., 8:20, 8:20], x[..., 8:20, 8:20], atol=1e-6)
    assert torch.equal(noisy(x, 0.0), x) and torch.equal(blur_mix(x, 0.0), x)


def test_vae_training_is_seeded_and_cached(tmp_path):
    data = mnist()
    config = VAEConfig(epochs=1, train_subset=512, batch_size=128)
    first = load_or_train_vae(data.x_train, data.x_test[:100], tmp_path, config)
    assert not first.reused
    folder = tmp_path / f"vae-{config.key}"
    assert {"model.safetensors", "model.json", "vae.json"} <= {p.name for p in folder.iterdir()}
    again = load_or_train_vae(data.x_train, data.x_test[:100], tmp_path, config)
    assert again.reused and again.test_elbo == first.test_elbo
    z = torch.randn(3, config.latent)
    with torch.no_grad():
        torch.testing.assert_close(again.model(z), first.model(z))
    retrained = train_vae(data.x_train, data.x_test[:100], config)
    for a, b in zip(
        retrained.model.state_dict().values(), first.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert VAEConfig(seed=3).key != VAEConfig().key


def test_on_fashion_mnist_the_canvas_score_ranks_noise_low_and_falls_with_corruption():
    from fashion_helpers import fashion_mnist

    from actmax.lab.realism_score import CONTENT

    data = fashion_mnist()
    assert CONTENT["fashion-mnist"] == "pixels"
    config = VAEConfig(epochs=3, train_subset=12_000, dataset="fashion-mnist")
    vae = train_vae(data.x_train, data.x_test[:500], config)
    score = RealismScore(vae.model, content="pixels")
    real = score(torch.from_numpy(data.x_test[-REAL:]))
    assert score(noise_images(100, (1, 28, 28), seed=3)).max() < real.min()
    # The canvas score orders images as the ELBO does.
    x = torch.from_numpy(data.x_test[:50])
    np.testing.assert_array_equal(np.argsort(score(x)), np.argsort(elbo(score.vae, x)))
    base = torch.from_numpy(data.x_test[-200:])
    for corrupt, levels in (
        (lambda t: noisy(base, t, seed=1), (0.0, 0.1, 0.2, 0.4, 0.7, 1.0)),
        (lambda t: blur_mix(base, t), (0.0, 0.25, 0.5, 0.75, 1.0)),
    ):
        means = np.array([score(corrupt(t)).mean() for t in levels])
        assert np.all(np.diff(means) < 0), means
