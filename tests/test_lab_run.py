"""`actmax lab --quick` end to end: the run folder, every report section, every metric."""

import json
import re

import numpy as np
import pytest
import torch
from lab_helpers import quick_run
from markupsafe import escape

from actmax.cli import main
from actmax.lab.checkpoint import load_model
from actmax.lab.data import load_mnist

SECTIONS = (
    "part1",
    "softmax",
    "tv-sweep",
    "tv-choice",
    "classes",
    "pairs",
    "layers",
    "recipes",
    "attribution",
    "reading",
    "measures",
)
QUICK_TVS = {"actmax": [50.0, 400.0, 1600.0], "keras-vis": [0.5, 4.0, 16.0]}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    result = quick_run(tmp_path_factory)
    assert result.exit_code == 0, result.output
    return result


def test_run_folder_holds_report_metrics_figures_and_model(run):
    names = {p.name for p in run.out.iterdir()}
    assert {"report.html", "metrics.json", "figures", "model.safetensors", "model.json"} <= names
    figures = run.metrics["files"]["figures"]
    assert len(figures) >= 17
    for figure in figures:
        assert (run.out / figure).stat().st_size > 1000
    assert f"report: {run.report}" in run.output
    assert not [p for p in run.out.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_report_has_every_section_and_embeds_every_figure(run):
    html = run.report.read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html, section
    figures = run.metrics["files"]["figures"]
    assert html.count('src="data:image/png;base64,') == len(figures)
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    m = run.metrics
    assert f"{100 * m['training']['test_accuracy']:.2f}%" in html
    assert f"{m['tv_choice']['chosen']:.3f} (chosen)" in html
    for paragraph in m["reading"]["answers"]:
        assert str(escape(paragraph)) in html


def test_part1_numbers_match_the_saved_model(run):
    t = run.metrics["training"]
    assert t["epochs"] == 1 and all(len(v) == 1 for v in t["history"].values())
    cm = np.asarray(t["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10000
    assert t["misclassified"]["count"] == 10000 - np.trace(cm)
    data = load_mnist()
    model = load_model(run.out)
    with torch.no_grad():
        predicted = model.logits(torch.from_numpy(data.x_test)).argmax(1).numpy()
    assert (predicted == data.y_test).mean() == pytest.approx(t["test_accuracy"])
    for row in t["misclassified"]["shown"]:
        assert predicted[row["index"]] == row["predicted"] != data.y_test[row["index"]]


def test_part2_metrics_cover_every_experiment(run):
    m = run.metrics
    assert m["settings"]["quick"] and m["settings"]["recipe"] == "actmax"
    for name in ("actmax", "keras-vis"):
        rows = m["softmax"][name]["rows"]
        assert [r["class"] for r in rows] == list(range(10))
        for r in rows:
            assert 0 <= r["probability"] <= 1 and r["max_other_logit"] >= r["mean_other_logit"]
            # the margin identity: gain in margin = target gain - change of the others' LSE
            assert r["margin_gain"] == pytest.approx(r["target_gain"] - r["others_change"])
    for name, tvs in QUICK_TVS.items():
        sweep = m["tv_sweep"]["recipes"][name]
        assert sweep["tv_weights"] == tvs
        assert [r["tv_weight"] for r in sweep["rows"]] == tvs
        assert all(r["target"] == 0 for r in sweep["rows"])
        c = m["tv_choice"]["recipes"][name]
        assert c["chosen"] in tvs and [r["tv_weight"] for r in c["per_tv"]] == tvs
        assert set(c["eligible"]) <= set(tvs)
        eligible = [r for r in c["per_tv"] if r["min_activation"] >= 1]
        assert [r["tv_weight"] for r in eligible] == c["eligible"]
    choice = m["tv_choice"]
    assert choice["chosen"] == choice["recipes"]["actmax"]["chosen"]
    assert choice["lab_summary"]["tv_weight"] == 0.5 and choice["lab_recipe"] == "keras-vis"
    classes = m["classes"]
    assert classes["tv_weight"] == choice["chosen"]
    assert [r["target"] for r in classes["rows"]] == list(range(10))
    assert classes["summary"]["recognized"] == sum(r["agreement"] for r in classes["rows"])
    pairs = {tuple(r["classes"]): r for r in m["pairs"]["rows"]}
    assert set(pairs) == {(1, 7), (4, 9), (0, 1), (7, 8)}
    assert pairs[(1, 7)]["kind"] == "similar" and pairs[(0, 1)]["kind"] == "different"
    for r in pairs.values():
        single_a = r["singles"][0]["logits"][0]
        if single_a > 0:
            assert r["retained"][0] == pytest.approx(r["pair"]["logits"][0] / single_a)
        else:  # no share of a logit the single image did not raise above 0
            assert r["retained"][0] is None
        # a - b pulls the two logits apart one way, b - a the other way
        a_minus_b, b_minus_a = r["a_minus_b"]["logits"], r["b_minus_a"]["logits"]
        assert a_minus_b[0] - a_minus_b[1] > b_minus_a[0] - b_minus_a[1]
    layers = {r["layer"]: r for r in m["layers"]["rows"]}
    assert {k: v["units"] for k, v in layers.items()} == {"l1": 9, "l2": 9, "l3": 16, "l4": 25}
    assert {k: v["receptive_field"] for k, v in layers.items()} == {
        "l1": 5,
        "l2": 14,
        "l3": 24,
        "l4": 28,
    }
    for r in layers.values():
        assert len(r["activations"]) == r["units"] and r["dead"] <= r["units"]
        assert all(v >= 0 for v in r["activations"])  # responses after the ReLU
    entries = m["recipes"]["entries"]
    assert m["recipes"]["order"] == ["lab", "actmax", "keras-vis"]
    assert (entries["lab"]["recipe"], entries["lab"]["tv_weight"]) == ("keras-vis", 0.5)
    for key in m["recipes"]["order"]:
        assert len(entries[key]["rows"]) == 10 and entries[key]["iterations"] == 30
    assert entries["keras-vis"]["tv_weight"] == choice["recipes"]["keras-vis"]["chosen"]
    assert m["acceptance"]["tv_weight"] == choice["chosen"]
    assert len(m["attribution"]["rows"]) == 7
    assert sum(r["true"] != r["predicted"] for r in m["attribution"]["rows"]) == 4
    assert all(m["reading"][k] for k in ("softmax", "tv_choice", "pairs", "answers"))


def test_measures_are_consistent(run):
    m = run.metrics
    best = m["references"]["best_real_logit"]
    for r in m["classes"]["rows"]:
        assert r["activation"] == pytest.approx(r["logit"] / best[r["target"]])
        assert r["agreement"] == (r["judge_prediction"] == r["target"])
        assert 0 <= r["confidence"] <= 1 and 0 <= r["plausibility"] <= 1 + 1e-9


def test_same_seed_gives_the_same_numbers_and_reuses_the_model(run, tmp_path_factory):
    again_out = run.out.parent / "again"
    again_out.mkdir()
    (again_out / "old.txt").write_text("replaced by --overwrite")
    again = quick_run(tmp_path_factory, "again", "--overwrite")
    assert again.exit_code == 0, again.output
    assert not (again_out / "old.txt").exists()
    assert again.metrics["timing"]["model_reused"] and again.metrics["timing"]["judge_reused"]

    def numbers(metrics):
        return {k: v for k, v in metrics.items() if k not in ("timing", "reading")}

    assert numbers(again.metrics) == numbers(run.metrics)
    strip = re.compile(r"\d+\.\d+ s\b")
    assert strip.sub("", " ".join(sum(again.metrics["reading"].values(), []))) == strip.sub(
        "", " ".join(sum(run.metrics["reading"].values(), []))
    )


def test_an_existing_folder_is_never_overwritten_silently(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code = main(["lab", "--quick", "--out", str(out), "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (out / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "cache").exists()  # refused before any work


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tv-weights", "0.5,abc"], "--tv-weights must be numbers"),
        (["--pairs", "1+1"], "two different classes"),
        (["--pairs", "17"], "pairs are written like 1+7"),
        (["--classes", "3,12"], "classes must be numbers 0..9"),
        (["--dataset", "cifar"], "Invalid value for '--dataset'"),
        (["--recipe", "lucid"], "Invalid value for '--recipe'"),
        (["--device", "abacus"], "unknown device 'abacus'"),
    ],
)
def test_bad_options_give_one_line(tmp_path, capsys, args, message):
    code = main(["lab", "--out", str(tmp_path / "run"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_metrics_json_is_strict_json(run):
    text = (run.out / "metrics.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
