"""Every figure of the lab report, drawn from a run's images and metrics and saved as PNG."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..plots.grid import image_grid
from . import plots
from .experiments import Images, LabResults
from .realism import Measures
from .training_plots import plot_confusion_matrix, plot_training_curves

FIGURES = "figures"


def measure_caption(m: Measures, i: int, names: Sequence[str]) -> str:
    mark = "✓" if m.agreement[i] else "✗"
    return (
        f"logit {m.logit[i]:.1f} ({m.activation[i]:.2f}x)\n"
        f"judge {names[m.judge_prediction[i]]} {mark} {m.confidence[i]:.2f}\n"
        f"plaus. {m.plausibility[i]:.3f}"
    )


def _measured_grid(block: Images, titles: list[str], names: Sequence[str], cols: int | None = None):
    m = block.measures
    captions = [measure_caption(m, i, names) for i in range(len(m))]
    return image_grid(block.images, titles, captions, cols=cols or min(len(m), 10))


def _cols(n: int) -> int:
    return n if n <= 10 else (8 if n % 8 == 0 else 9)


def figure_jobs(
    results: LabResults, metrics: dict, misclassified_images: np.ndarray
) -> dict[str, Callable]:
    """Name -> a function drawing that figure; the caller saves them (and shows progress)."""
    img = results.images
    m = metrics
    classes = list(m["settings"]["classes"])
    names = m["dataset"]["class_names"]
    item = m["dataset"]["item"]
    jobs: dict[str, Callable] = {}
    t = m["training"]
    jobs["training_curves"] = lambda: plot_training_curves(t["history"])
    jobs["confusion_matrix"] = lambda: plot_confusion_matrix(
        np.asarray(t["confusion_matrix"]), names
    )

    def misclassified():
        shown = t["misclassified"]["shown"]
        return image_grid(
            misclassified_images,
            [f"true {names[r['true']]}\n→ {names[r['predicted']]}" for r in shown],
            [f"p = {r['probability']:.3f}\ntest #{r['index']}" for r in shown],
            cols=10,
        )

    jobs["misclassified"] = misclassified

    for name in m["softmax"]["order"]:

        def softmax(name=name):
            soft, lin = img[f"softmax:{name}"], img[f"linear:{name}"]
            caps = []
            for block in (soft, lin):
                z = block.logits
                p = np.exp(z - z.max(1, keepdims=True))
                p /= p.sum(1, keepdims=True)
                for i, c in enumerate(classes):
                    other = np.delete(z[i], c).max()
                    caps.append(f"p {p[i, c]:.3f}\nlogit {z[i, c]:.1f}\nmax other {other:.1f}")
            titles = [f"output {names[c]}" for c in classes] * 2
            labels = [f"{name}\nsoftmax", f"{name}\nlogit"]
            images = np.concatenate([soft.images, lin.images])
            return image_grid(images, titles, caps, cols=len(classes), row_labels=labels)

        def softmax_evidence(name=name):
            rows = m["softmax"][name]["rows"]
            return plots.softmax_evidence(
                [r["probability"] for r in rows],
                img[f"softmax:{name}"].logits,
                img[f"linear:{name}"].logits,
                classes,
                names,
            )

        jobs[f"softmax_{name}"] = softmax
        jobs[f"softmax_evidence_{name}"] = softmax_evidence
    for name in m["tv_sweep"]["order"]:
        tvs = m["tv_sweep"]["recipes"][name]["tv_weights"]
        choice = m["tv_choice"]["recipes"][name]
        lab = m["tv_choice"]["lab_choice"] if name == m["tv_choice"]["lab_recipe"] else None

        def sweep(name=name, tvs=tvs):
            titles = [f"{name}, tv {tv:g}" for tv in tvs]
            return _measured_grid(img[f"sweep_target:{name}"], titles, names, cols=len(tvs))

        def choice_plot(tvs=tvs, choice=choice, lab=lab, name=name):
            return plots.tv_choice(
                tvs, choice["per_tv"], choice["chosen"], lab, recipe=name, item=item
            )

        def every(name=name, tvs=tvs):
            block = img[f"sweep_all:{name}"]
            mm = block.measures
            titles = [f"tv {tv:g} · {names[c]}" for tv in tvs for c in classes]
            caps = [
                f"{mm.activation[i]:.2f}x {'✓' if mm.agreement[i] else '✗'}" for i in range(len(mm))
            ]
            return image_grid(block.images, titles, caps, cols=len(classes), size=84)

        jobs[f"tv_sweep_{name}"] = sweep
        jobs[f"tv_choice_{name}"] = choice_plot
        jobs[f"tv_all_{name}"] = every
    jobs["classes"] = lambda: _measured_grid(
        img["classes"], [f"output {names[c]}" for c in classes], names
    )

    def pairs():
        images, titles, caps = [], [], []
        for row in m["pairs"]["rows"]:
            a, b = row["classes"]
            block = img[f"pair:{a}:{b}"]
            images.append(block.images)
            na, nb = names[a], names[b]
            for i, name in enumerate(
                [f"{na} alone", f"{nb} alone", f"{na} + {nb}", f"{na} − {nb}", f"{nb} − {na}"]
            ):
                titles.append(name)
                caps.append(
                    f"logit {na}: {block.logits[i, a]:.1f}\nlogit {nb}: {block.logits[i, b]:.1f}"
                )
        return image_grid(np.concatenate(images), titles, caps, cols=5)

    jobs["pairs"] = pairs
    for row in m["layers"]["rows"]:
        layer = row["layer"]

        def layer_figure(layer=layer, row=row):
            block = img[f"layer:{layer}"]
            n = row["units"]
            titles = [f"{layer} {'filter' if row['spatial'] else 'unit'} {i}" for i in range(n)]
            caps = [
                f"{v:.2f}" + (f" ({r:.1f}x)" if r is not None else " (silent)")
                for v, r in zip(row["activations"], row["relative"], strict=True)
            ]
            return image_grid(block.images, titles, caps, cols=_cols(n))

        jobs[f"layer_{layer}"] = layer_figure

    entries = m["recipes"]["entries"]
    order = m["recipes"]["order"]

    def recipes():
        images = np.concatenate([img[f"recipe:{key}"].images for key in order])
        titles = [f"output {names[c]}" for _ in order for c in classes]
        labels = [f"{entries[key]['recipe']}\ntv {entries[key]['tv_weight']:g}" for key in order]
        caps = [
            measure_caption(img[f"recipe:{key}"].measures, i, names)
            for key in order
            for i in range(len(classes))
        ]
        return image_grid(images, titles, caps, cols=len(classes), row_labels=labels)

    jobs["recipes"] = recipes
    jobs["recipe_measures"] = lambda: plots.recipe_measures(
        [names[c] for c in classes],
        {
            f"{entries[key]['recipe']}, tv {entries[key]['tv_weight']:g}": {
                k: [r[k] for r in entries[key]["rows"]]
                for k in ("confidence", "plausibility", "activation")
            }
            for key in order
        },
    )
    return jobs


def save_figures(
    jobs: dict[str, Callable], folder: Path, progress: bool = False
) -> dict[str, Path]:
    """Draw and save every figure as `folder/figures/<name>.png`."""
    from tqdm.auto import tqdm

    paths = {}
    for name, draw in tqdm(jobs.items(), desc="figures", unit="fig", disable=not progress):
        paths[name] = plots.save(draw(), Path(folder) / FIGURES / f"{name}.png")
    return paths
