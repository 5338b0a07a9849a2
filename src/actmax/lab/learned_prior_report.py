"""The learned prior's part of the report: its figures and its written reading.

Every sentence is built from the run's `metrics["learned_prior"]`, so what it says (which
targets are met, how much activation the prior gives up) follows the numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..plots.grid import image_grid
from . import plots
from .experiments import Images
from .figures import measure_caption

Paragraphs = list[str]
MEASURES = ("confidence", "realism", "activation")


def figure_jobs(images: dict[str, Images], metrics: dict) -> dict[str, Callable]:
    """Name -> a function drawing that figure."""
    lp = metrics["learned_prior"]
    names = metrics["dataset"]["class_names"]
    classes = list(metrics["settings"]["classes"])
    pixel, learned = images["classes"], images["prior:classes"]

    def classes_figure():
        both = np.concatenate([pixel.images, learned.images])
        caps = [
            measure_caption(block.measures, i, names)
            for block in (pixel, learned)
            for i in range(len(block.measures))
        ]
        titles = [names[c] for c in classes] * 2
        labels = [
            f"pixel prior\n{lp['pixel_recipe']}, tv {lp['pixel_tv_weight']:g}",
            f"learned prior\nVAE decoder, w {lp['chosen_weight']:g}",
        ]
        return image_grid(both, titles, caps, cols=len(classes), row_labels=labels)

    def pairs_figure():
        pix, lea = images["prior:pixel_pairs"], images["prior:pairs"]
        rows, titles, caps = [], [], []
        for i, p in enumerate(lp["pairs"]):
            a, b = p["classes"]
            for source, block in (("pixel", pix), ("learned", lea)):
                for j, kind in enumerate(("a_plus_b", "a_minus_b", "b_minus_a")):
                    r = p[source][kind]
                    rows.append(block.images[3 * i + j])
                    sign = {"a_plus_b": "+", "a_minus_b": "−", "b_minus_a": "−"}[kind]
                    first, second = (b, a) if kind == "b_minus_a" else (a, b)
                    titles.append(f"{source}: {names[first]} {sign} {names[second]}")
                    mark = names[r["judge_prediction"]]
                    caps.append(
                        f"{names[a]}: {r['logits'][0]:.1f}  {names[b]}: {r['logits'][1]:.1f}\n"
                        f"judge {mark}\nrealism {r['realism']:.2f}"
                    )
        return image_grid(np.stack(rows), titles, caps, cols=6)

    def measures_figure():
        rows = lp["rows"]
        return plots.recipe_measures(
            [names[c] for c in classes],
            {
                f"pixel prior (tv {lp['pixel_tv_weight']:g})": {
                    k: [r["pixel"][k] for r in rows]
                    for k in ("confidence", "realism", "activation")
                },
                f"learned prior (w {lp['chosen_weight']:g})": {
                    k: [r[k] for r in rows] for k in ("confidence", "realism", "activation")
                },
            },
        )

    return {
        "prior_classes": classes_figure,
        "prior_pairs": pairs_figure,
        "prior_measures": measures_figure,
    }


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def reading(m: dict) -> Paragraphs:
    """What the learned prior shows, what it hides, and the trade-off in numbers."""
    lp = m["learned_prior"]
    names, item, items = m["dataset"]["class_names"], m["dataset"]["item"], m["dataset"]["items"]
    s, p, t, to = lp["summary"], lp["pixel_summary"], lp["targets"], lp["trade_off"]
    n = s["count"]
    rows = lp["rows"]
    text = [
        f"Through the VAE's decoder (latent penalty {lp['chosen_weight']:g}, chosen by the rule; "
        f"best of {lp['starts']} starts per image), the independent classifier recognizes "
        f"{s['recognized']} of {n} class images with a mean confidence of {s['confidence']:.4f}, "
        f"against {p['recognized']} of {n} ({p['confidence']:.4f}) for the pixel prior. Their "
        f"mean realism is {s['realism']:.2f}, and {s['within_real_range']} of {n} lie within "
        f"the range of the real test {items} of their class; the pixel prior's images score "
        f"{p['realism']:.2f}, {p['within_real_range']} of {n} within that range."
    ]
    outside = [r for r in rows if not r["within_real_range"]]
    if outside:
        above = [r for r in outside if r["realism"] > r["real_realism_range"][1]]
        below = [r for r in outside if r["realism"] < r["real_realism_range"][0]]
        parts = []
        if above:
            parts.append(
                "above the most real test "
                f"{item} of its class for {', '.join(names[r['target']] for r in above)} (the "
                "decoder's smooth drawings are more likely under the VAE than any real one)"
            )
        if below:
            parts.append(f"below the least real for {', '.join(names[r['target']] for r in below)}")
        text.append("The learned prior's realism lies " + " and ".join(parts) + ".")
    weak = [r for r in rows if r["activation"] < 1]
    if weak:
        text.append(
            "Not every image reaches the best real "
            f"{item} of its class: "
            + ", ".join(f"{names[r['target']]} at {r['activation']:.2f}x" for r in weak)
            + f" (weakest {s['min_activation']:.2f}x, mean {s['activation']:.2f}x)."
        )
    else:
        text.append(
            f"Every image drives its logit at least as high as the best real {item} of its class "
            f"(weakest {s['min_activation']:.2f}x, mean {s['activation']:.2f}x)."
        )
    text.append(
        f"The trade-off: the learned prior keeps on average {_pct(to['activation_kept_mean'])} "
        f"of the pixel prior's activation (as little as {_pct(to['activation_kept_min'])} for "
        f"one class), giving up {to['logit_given_up_mean']:.1f} logit units per class on "
        f"average, for a realism {to['realism_gain_mean']:+.2f} higher."
    )
    text.append(
        f"What it hides: these images look like {items} because the decoder can draw nothing "
        f"else. It learned from the training set alone, so whatever the lab CNN responds to that "
        f"no training {item} shows (the strokes and textures the pixel prior exaggerates) is out "
        "of its reach: the learned prior shows the most network-pleasing "
        f"{item} the generator can draw, not what the network looks for. Its realism and the "
        "judge's verdict say more about the generator than about the lab CNN; the realism "
        "score is, moreover, the same VAE's, so its images are at home there by construction "
        "(the judge is the independent check)."
    )
    pairs = lp["pairs"]
    joint = [q for q in pairs if q["learned"]["a_plus_b"]["judge_prediction"] in q["classes"]]
    text.append(
        f"Pairs: the judge reads {len(joint)} of {len(pairs)} learned-prior a+b images as one of "
        "their two classes; "
        + "; ".join(
            f"{names[q['classes'][0]]}+{names[q['classes'][1]]}: logits "
            f"{q['learned']['a_plus_b']['logits'][0]:.1f} and "
            f"{q['learned']['a_plus_b']['logits'][1]:.1f} (pixel prior "
            f"{q['pixel']['a_plus_b']['logits'][0]:.1f} and "
            f"{q['pixel']['a_plus_b']['logits'][1]:.1f})"
            for q in pairs
        )
        + "."
    )
    verdict = [
        ("recognized by the judge", t["all_recognized"]),
        (f"mean confidence >= 0.99 ({t['mean_confidence']:.4f})", t["confident"]),
        (f"every logit at least the best real {item}'s", t["all_at_least_best_real"]),
        (f"every realism within the real {items}' range", t["all_within_real_range"]),
    ]
    text.append(
        "Targets: "
        + "; ".join(f"{what}: {'met' if ok else 'not met'}" for what, ok in verdict)
        + "."
    )
    return text
