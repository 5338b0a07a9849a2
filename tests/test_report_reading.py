"""The report's written reading and page, built from a real quick run's metrics."""

import copy

import pytest
from lab_helpers import quick_run

from actmax.lab.reading import reading
from actmax.lab.report import EmbeddedFigure, render_report


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    run = quick_run(tmp_path_factory)
    assert run.exit_code == 0, run.output
    return run.metrics


def test_reading_follows_the_tv_choice(metrics):
    m = copy.deepcopy(metrics)
    lab = m["tv_choice"]["recipes"]["keras-vis"]
    lab["chosen"] = 0.5
    assert "agrees with the lab's eyeballed choice of 0.5" in " ".join(reading(m)["tv_choice"])
    lab["chosen"] = 16.0
    lab["chosen_summary"] = dict(lab["per_tv"][-1])
    text = " ".join(reading(m)["tv_choice"])
    assert "the lab's eyeballed 0.5 gives" in text and "the measured 16 is" in text
    assert "keras-vis: tv_weight 16," in text


def test_reading_says_which_pairs_merge(metrics):
    m = copy.deepcopy(metrics)
    for row in m["pairs"]["rows"]:
        row["retained"] = [0.9, 0.95] if row["kind"] == "similar" else [0.3, 0.6]
    text = " ".join(reading(m)["pairs"])
    assert "Pairs that merge into one image (1+7 and 4+9)" in text
    assert "(0+1 and 7+8) need features that exclude each other" in text
    answers = " ".join(reading(m)["answers"])
    assert "keep on average 90.0% of the weaker" in answers and "different shapes" in answers
    for row in m["pairs"]["rows"]:
        row["retained"] = [0.2, 0.3]
    assert "No pair merges" in " ".join(reading(m)["pairs"])


def test_reading_quotes_the_numbers_of_the_run(metrics):
    text = reading(metrics)
    s = metrics["classes"]["summary"]
    assert f"recognizes {s['recognized']} of {s['count']} images" in " ".join(text["classes"])
    p = metrics["softmax"]["keras-vis"]["summary"]["probability"]
    assert (
        f"keras-vis: maximized through the softmax, the 10 images reach a mean target "
        f"probability of {p:.3f}" in " ".join(text["softmax"])
    )


def test_report_escapes_text_and_fills_every_figure(metrics, tmp_path):
    m = copy.deepcopy(metrics)
    text = reading(m)
    text["answers"] = ["<script>alert(1)</script>"]
    figures = {
        name.split("/")[-1][:-4]: EmbeddedFigure("data:image/png;base64,AAAA", name, 10, 10)
        for name in m["files"]["figures"]
    }
    html = render_report(m, figures, text)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert html.count("data:image/png;base64,AAAA") == len(figures)
