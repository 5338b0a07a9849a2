import matplotlib
import numpy as np
import pytest
import torch

from actmax.attribution import colorize, overlay, overlay_heatmap
from actmax.errors import ActmaxError
from actmax.io import save_figure
from actmax.plots.attribution import (
    plot_attribution,
    plot_attribution_grid,
    plot_true_vs_predicted,
)


def test_overlay_is_keras_vis_blend():
    a = np.array([[200, 100]], dtype=np.uint8)
    b = np.array([[0, 51]], dtype=np.uint8)
    out = overlay(a, b, alpha=0.25)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[50, 63]])  # 200*.25 + 0; 25 + 38.25 -> astype truncates
    floats = overlay(np.full((2, 2, 3), 1.0), np.zeros((2, 2, 3)), 0.3)
    np.testing.assert_allclose(floats, 0.3)
    np.testing.assert_array_equal(overlay(a, b), (a * 0.5 + b * 0.5).astype(np.uint8))


@pytest.mark.parametrize(
    ("a", "b", "alpha", "message"),
    [
        (np.zeros((2, 2)), np.zeros((2, 2)), 1.5, r"`alpha` needs to be between \[0, 1\]"),
        (np.zeros((2, 2)), np.zeros((2, 2)), -0.1, "alpha"),
        (np.zeros((2, 2)), np.zeros((2, 3)), 0.5, "must have the same shapes"),
    ],
)
def test_overlay_raises_value_error_like_keras_vis(a, b, alpha, message):
    with pytest.raises(ValueError, match=message):
        overlay(a, b, alpha)


def test_colorize_uses_the_matplotlib_map():
    heat = np.array([[0.0, 0.5], [1.0, 2.0]])
    rgb = colorize(heat, "viridis")
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.float32
    cmap = matplotlib.colormaps["viridis"]
    np.testing.assert_allclose(rgb[0, 1], cmap(0.5)[:3], rtol=1e-6)
    np.testing.assert_allclose(rgb[1, 1], cmap(1.0)[:3], rtol=1e-6)  # clipped to 1
    with pytest.raises(ActmaxError, match="unknown colour map 'nope'"):
        colorize(heat, "nope")


@pytest.mark.parametrize("layout", ["hw", "chw", "hwc"])
def test_overlay_heatmap_on_grayscale_images(layout):
    gray = np.random.default_rng(0).random((5, 7)).astype(np.float32)
    image = {"hw": gray, "chw": gray[None], "hwc": gray[..., None]}[layout]
    heat = np.linspace(0, 1, 35).reshape(5, 7)
    out = overlay_heatmap(image, heat, cmap="jet", alpha=0.4)
    assert out.shape == (5, 7, 3) and out.dtype == np.float32
    expected = 0.4 * colorize(heat, "jet") + 0.6 * np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)
    grayscale_rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(overlay_heatmap(image, heat, alpha=0.0), grayscale_rgb)
    np.testing.assert_allclose(overlay_heatmap(image, heat, alpha=1.0), colorize(heat))


def test_overlay_heatmap_on_colour_uint8_and_batches():
    rgb = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    heat = np.random.default_rng(2).random((4, 6))
    out = overlay_heatmap(rgb, heat, alpha=0.5)
    assert out.dtype == np.uint8 and out.shape == (4, 6, 3)
    expected = 0.5 * colorize(heat) + 0.5 * rgb / 255.0
    np.testing.assert_allclose(out, np.round(expected * 255), atol=1)
    channels_first = overlay_heatmap(np.moveaxis(rgb, -1, 0), heat, alpha=0.5)
    np.testing.assert_array_equal(channels_first, out)
    batch = overlay_heatmap(np.stack([rgb, rgb]), np.stack([heat, heat * 0]), alpha=0.5)
    assert batch.shape == (2, 4, 6, 3)
    np.testing.assert_array_equal(batch[0], out)


@pytest.mark.parametrize(
    ("image", "heat", "message"),
    [
        (np.zeros((5, 5)), np.zeros((4, 4)), "does not fit a 4x4 heat map"),
        (np.zeros((2, 4, 4)), np.zeros((4, 4)), "does not fit"),
        (np.zeros((3, 4, 4)), np.zeros((2, 4, 4)), "2 heat maps need a batch of 2 images"),
        (np.zeros((4, 4)), np.zeros(4), r"\(H, W\) or \(N, H, W\)"),
    ],
)
def test_overlay_heatmap_bad_shapes(image, heat, message):
    with pytest.raises(ActmaxError, match=message):
        overlay_heatmap(image, heat)


def test_plot_attribution_draws_image_heatmap_overlay(tmp_path):
    fig = plot_attribution(np.random.rand(1, 28, 28), np.random.rand(28, 28), title="digit")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["image", "heat map", "overlay"]
    path = save_figure(fig, tmp_path / "row.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_true_vs_predicted_grid(lab_model, tmp_path):
    images = torch.rand(3, 1, 28, 28)
    predicted = lab_model(images).argmax(1).tolist()
    labels = [predicted[0], (predicted[1] + 1) % 10, predicted[2]]
    fig = plot_true_vs_predicted(lab_model, images, labels, methods=("vanilla", "gradcam"))
    assert len(fig.axes) == 3 * 5  # image + 2 methods x (true, predicted)
    ylabels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert ylabels[1] == f"label {labels[1]} · pred {predicted[1]}"
    colors = [ax.yaxis.label.get_color() for ax in fig.axes if ax.get_ylabel()]
    assert colors == ["black", "red", "black"]
    save_figure(fig, tmp_path / "grid.png")


def test_plot_attribution_grid_checks_shapes():
    with pytest.raises(ActmaxError, match=r"maps\['a'\] must be \(N=2, H, W\)"):
        plot_attribution_grid(np.zeros((2, 1, 4, 4)), {"a": np.zeros((3, 4, 4))})
