"""The lab report's pieces: the tv_weight rule, the written reading, the page and its figures."""

import struct
import zlib

import numpy as np
import pytest

from actmax.lab.experiments import choose_tv_weight, receptive_field
from actmax.lab.report import png_size
from actmax.plots.grid import DPI, image_grid


def summary(recognized, confidence, plausibility, min_activation):
    return {
        "recognized": recognized,
        "confidence": confidence,
        "plausibility": plausibility,
        "min_activation": min_activation,
    }


def test_rule_prefers_recognition_among_strong_enough_images():
    tvs = [0.5, 1, 2, 4]
    summaries = [
        summary(6, 0.6, 0.7, 1.8),
        summary(9, 0.8, 0.7, 1.4),
        summary(10, 0.7, 0.6, 1.1),
        summary(10, 0.95, 0.9, 0.8),  # the most realistic, but too weak: not eligible
    ]
    assert choose_tv_weight(tvs, summaries) == (2.0, [0.5, 1.0, 2.0])


def test_rule_breaks_ties_by_confidence_then_plausibility():
    summaries = [summary(10, 0.8, 0.5, 1.2), summary(10, 0.8, 0.6, 1.2), summary(10, 0.7, 0.9, 2)]
    assert choose_tv_weight([1, 2, 4], summaries)[0] == 2.0


def test_rule_falls_back_to_the_strongest_weakest_class():
    summaries = [summary(10, 0.9, 0.9, 0.5), summary(3, 0.2, 0.2, 0.9)]
    assert choose_tv_weight([1, 2], summaries) == (2.0, [])


def test_receptive_fields_of_the_lab_cnn(lab_model):
    sizes = {name: receptive_field(lab_model, name) for name in ("l1", "l2", "l3", "l4")}
    assert sizes == {"l1": 5, "l2": 14, "l3": 24, "l4": 28}


def _png(width, height):
    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_png_size_reads_the_header():
    assert png_size(_png(37, 11)) == (37, 11)
    with pytest.raises(ValueError):
        png_size(b"GIF89a" + b"\x00" * 30)


def test_image_grid_places_every_image_pixel_for_pixel():
    images = np.zeros((3, 4, 4))
    images[1, 0, 0] = 1.0
    fig = image_grid(images, titles=["a", "b", "c"], captions=["x", "y\nz", "w"], size=40)
    fig.canvas.draw()
    canvas = np.asarray(fig.axes[0].images[0].get_array())
    w, h = fig.get_size_inches() * DPI
    assert canvas.shape[:2] == (round(h), round(w))
    white = np.all(canvas > 0.99, axis=2)
    black = np.all(canvas < 0.01, axis=2)
    assert black.sum() == 3 * 40 * 40 - 10 * 10  # three images, one white 10x10 block
    assert white.sum() > 0
