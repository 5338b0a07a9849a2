"""The whole lab, end to end: the trained lab CNN (trained once, then reused), its independent
judge, every experiment, the figures, `metrics.json` and `report.html` in one run folder.

The run folder is assembled beside its destination and moved into place at the end, so a run
that fails or is interrupted leaves no half-written folder, and an existing folder is replaced
only when asked to (`overwrite=True`).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ActmaxError
from ..io import write_json
from .checkpoint import load_model, save_model
from .data import DATASETS, Dataset, load_dataset
from .experiments import LabSettings, run_experiments
from .figures import figure_jobs, save_figures
from .folders import share_like_new_files, staged_cache_entry
from .reading import reading
from .realism import JUDGE_TARGETS, JudgeConfig, RealismMeter, load_or_train_judge
from .report import REPORT, write_report
from .training import resolve_device

DEFAULT_CACHE = Path("runs") / "cache"
METRICS = "metrics.json"
MODEL_FILES = ("model.safetensors", "model.json")
MISCLASSIFIED_SHOWN = 10
ATTRIBUTION_IMAGES = (3, 4)  # correctly classified, misclassified
QUICK_SUBSET = 3000
REAL_UNITS = 2000  # test images that set the yardstick of the units inside
MEASURED_ON = (
    "the display image in [0, 1]: for actmax's recipe the optimized input itself, for keras-vis' "
    "its contrast stretch of the optimized input, which is what the lab plots"
)


def quick_settings(settings: LabSettings, keep: Collection[str] = ()) -> LabSettings:
    """A demo in seconds: 1 epoch on 3,000 images, 30 steps, three tv_weights per recipe.

    Fields named in `keep` (the ones a user set explicitly) are left as they are.
    """
    reduced = {"epochs": 1, "iterations": 30}
    changes = {k: v for k, v in reduced.items() if k not in keep}
    return replace(settings, quick=True, train_subset=QUICK_SUBSET, **changes)


def quick_judge(dataset: str = "mnist") -> JudgeConfig:
    return JudgeConfig(epochs=1, train_subset=QUICK_SUBSET, dataset=dataset)


@dataclass
class LabRun:
    path: Path
    report: Path
    metrics: dict


Log = Callable[[str], None]


def _subset(data: Dataset, n: int | None) -> Dataset:
    if n is None:
        return data
    return replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])


def trained_model(
    settings: LabSettings, data: Dataset, cache_root: Path, progress: bool, log: Log
) -> tuple[nn.Module, dict, bool]:
    """The lab CNN for these settings: from the cache, or trained now and cached.

    Returns the model, the training run's metrics and whether it was reused.
    """
    from .training import TrainConfig, train

    config = TrainConfig(epochs=settings.epochs, seed=settings.seed, dataset=settings.dataset)
    name = f"lab_cnn-{settings.dataset}-{config.key()[:12]}"
    if settings.train_subset:
        name += f"-first{settings.train_subset}"
    folder = cache_root / name
    device = torch.device(settings.device)
    if all((folder / f).exists() for f in (METRICS, *MODEL_FILES)):
        log(f"model: reusing {folder}")
        metrics = json.loads((folder / METRICS).read_text(encoding="utf-8"))
        return load_model(folder, device=device), metrics, True
    log(f"model: training the lab CNN ({settings.epochs} epochs), cached in {folder}")
    with staged_cache_entry(folder, METRICS) as staging:
        result = train(
            config,
            staging,
            data=_subset(data, settings.train_subset),
            progress=progress,
            device=device,
        )
    return result.model.to(device).eval(), result.metrics, False


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def part1(train_metrics: dict, probs: np.ndarray, data: Dataset) -> tuple[dict, np.ndarray]:
    """Part 1's numbers, and the most confidently misclassified test images to show."""
    predicted = probs.argmax(1)
    wrong = np.flatnonzero(predicted != data.y_test)
    confident = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")]
    shown = confident[:MISCLASSIFIED_SHOWN]
    history = {
        k: train_metrics["history"][k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")
    }
    return (
        {
            "epochs": len(history["loss"]),
            "history": history,
            "test_loss": float(train_metrics["test"]["loss"]),
            "test_accuracy": float(train_metrics["test"]["accuracy"]),
            "confusion_matrix": train_metrics["confusion_matrix"],
            "misclassified": {
                "count": int(len(wrong)),
                "shown": [
                    {
                        "index": int(i),
                        "true": int(data.y_test[i]),
                        "predicted": int(predicted[i]),
                        "probability": float(probs[i, predicted[i]]),
                    }
                    for i in shown
                ],
            },
            "train_seconds": float(sum(train_metrics["history"].get("seconds", []))),
        },
        data.x_test[shown],
    )


def attribution(model: nn.Module, probs: np.ndarray, data: Dataset) -> tuple[dict, Callable]:
    """Saliency and Grad-CAM for a few test images, right and wrong, true and predicted class."""
    from ..attribution import grad_cam, rank_correlation, saliency
    from ..plots.attribution import plot_attribution_grid

    right_n, wrong_n = ATTRIBUTION_IMAGES
    predicted = probs.argmax(1)
    right = [
        int(np.flatnonzero((predicted == data.y_test) & (data.y_test == c))[0])
        for c in range(right_n)
    ]
    wrong = np.flatnonzero(predicted != data.y_test)
    wrong = [
        int(i) for i in wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")][:wrong_n]
    ]
    index = right + wrong
    x = data.x_test[index]
    true = data.y_test[index].tolist()
    pred = predicted[index].tolist()
    maps = {
        "saliency\ntrue class": saliency(model, x, true).maps,
        "saliency\npredicted": saliency(model, x, pred).maps,
    }
    cam_true, cam_pred = grad_cam(model, x, true), grad_cam(model, x, pred)
    maps["Grad-CAM\ntrue class"] = cam_true.maps
    maps["Grad-CAM\npredicted"] = cam_pred.maps
    sal_rho = rank_correlation(maps["saliency\ntrue class"], maps["saliency\npredicted"])
    cam_rho = rank_correlation(cam_true.maps, cam_pred.maps)
    rows = [
        {
            "index": i,
            "true": t,
            "predicted": p,
            "probability": float(probs[i, p]),
            "saliency_rank_correlation": float(sal_rho[k]),
            "gradcam_rank_correlation": float(cam_rho[k]),
        }
        for k, (i, t, p) in enumerate(zip(index, true, pred, strict=True))
    ]
    names = data.class_names
    labels = [f"#{i}\n{names[t]} → {names[p]}" for i, t, p in zip(index, true, pred, strict=True)]
    colors = ["black" if t == p else "red" for t, p in zip(true, pred, strict=True)]

    def draw():
        return plot_attribution_grid(x, maps, row_labels=labels, row_colors=colors)

    return {"gradcam_layer": cam_true.layer, "rows": rows}, draw


def dataset_record(data: Dataset) -> dict:
    """What the report says about the data: its name, its classes and what one example is."""
    info = DATASETS[data.name]
    return {
        "name": info.name,
        "title": info.title,
        "source": data.source,
        "class_names": list(info.class_names),
        "item": info.item,
        "items": info.items,
        "parts": info.parts,
        "test_count": int(len(data.x_test)),
        "image_size": list(data.x_test.shape[2:]),
    }


def _clean(value):
    """JSON without NaN: non-finite floats become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse to touch a user's existing file or folder unless `overwrite` says so."""
    if out.exists() and not out.is_dir():
        raise ActmaxError(f"{out} is a file; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ActmaxError(f"{out} already exists and is not empty; pass --overwrite to replace it")


@contextmanager
def _staged(out: Path, overwrite: bool) -> Iterator[Path]:
    """A fresh folder beside `out` that replaces it in one step when the block succeeds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield staging
        share_like_new_files(staging)
        check_out_dir(out, overwrite)  # again: something may have appeared meanwhile
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.replaced-{os.getpid()}")
            out.rename(old)
        staging.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_lab(
    settings: LabSettings,
    out: str | os.PathLike,
    *,
    cache_root: str | os.PathLike = DEFAULT_CACHE,
    overwrite: bool = False,
    progress: bool = True,
    log: Log | None = None,
    data: Dataset | None = None,
) -> LabRun:
    """Run the whole lab and write `out/` (report.html, metrics.json, figures/, the model)."""
    import actmax

    began = time.perf_counter()
    log = log or (lambda message: None)
    out, cache_root = Path(out), Path(cache_root)
    check_out_dir(out, overwrite)
    torch.manual_seed(settings.seed)
    # One device for everything, resolved once ("auto"/None: CUDA when there is one).
    try:
        device = resolve_device(settings.device)
    except RuntimeError as exc:  # torch's own word for a device string it does not know
        raise ActmaxError(f"unknown device {settings.device!r}: {exc}") from None
    settings = replace(settings, device=str(device))
    timing: dict[str, float] = {}

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        timing[stage] = now - since
        return now

    t = time.perf_counter()
    data = data or load_dataset(settings.dataset)
    if data.name != settings.dataset:
        raise ActmaxError(f"the lab was asked for {settings.dataset} but given {data.name}")
    model, train_metrics, model_reused = trained_model(settings, data, cache_root, progress, log)
    t = lap("model", t)
    judge_config = (
        quick_judge(settings.dataset) if settings.quick else JudgeConfig(dataset=settings.dataset)
    )
    judge = load_or_train_judge(data, cache_root, judge_config, progress)
    log(
        f"judge: {'reused' if judge.reused else 'trained'}, "
        f"{100 * judge.test_accuracy:.2f}% on the test set"
    )
    device = next(model.parameters()).device
    meter = RealismMeter(model, judge.model.to(device), data.x_test, data.y_test)
    t = lap("judge", t)

    results = run_experiments(model, meter, settings, data.x_test[:REAL_UNITS], progress=progress)
    t = lap("visualize", t)

    probs = _softmax(meter.test_logits)
    training, wrong_images = part1(train_metrics, probs, data)
    attribution_metrics, attribution_figure = attribution(model, probs, data)
    t = lap("attribution", t)

    with _staged(out, overwrite) as staging:
        metrics = {
            "format": "actmax-lab/1",
            "actmax_version": actmax.__version__,
            "settings": {
                **asdict(settings),
                "other_recipe": settings.other_recipe,
                "model_key": train_metrics.get("key", ""),
                "judge_key": judge.config.key,
                "measured_on": MEASURED_ON,
            },
            "environment": {
                "device": str(device),
                "torch": torch.__version__,
                "python": platform.python_version(),
                "threads": torch.get_num_threads(),
            },
            "dataset": dataset_record(data),
            "training": training,
            "judge": {
                **judge.record(),
                "target_accuracy": JUDGE_TARGETS[settings.dataset],
            },
            "references": meter.references(),
            **results.metrics,
            "attribution": attribution_metrics,
            "files": {"report": REPORT, "metrics": METRICS, "model": MODEL_FILES[0]},
        }
        jobs = figure_jobs(results, metrics, wrong_images)
        jobs["attribution"] = attribution_figure
        figures = save_figures(jobs, staging, progress)
        metrics["files"]["figures"] = [p.relative_to(staging).as_posix() for p in figures.values()]
        save_model(model, staging, "lab_cnn")
        t = lap("figures", t)
        timing["total"] = time.perf_counter() - began
        metrics["timing"] = {
            "model_reused": model_reused,
            "judge_reused": judge.reused,
            "stages_s": timing,
            "total_s": timing["total"],
        }
        metrics = _clean(metrics)
        text = reading(metrics)
        metrics["reading"] = text
        write_json(staging / METRICS, metrics)
        write_report(staging, metrics, figures, text)
    return LabRun(out, out / REPORT, metrics)
