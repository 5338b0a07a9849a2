"""The report's written reading, built sentence by sentence from one run's measured numbers.

Every function takes the run's `metrics` (as written to `metrics.json`) and returns paragraphs;
which sentence is said depends on the numbers (which tv_weight wins, which pairs merge), so two
runs that measure differently read differently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Paragraphs = list[str]

# A pair "merges" when its one image keeps at least this share of both single-class logits.
MERGE_SHARE = 0.75


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _names(m: dict) -> list[str]:
    """The class names of the run's data set ("0".."9" for MNIST)."""
    return m["dataset"]["class_names"]


def _item(m: dict, plural: bool = False) -> str:
    """What one example of the data set is called: "digit", "article"."""
    return m["dataset"]["items" if plural else "item"]


def _a(word: str) -> str:
    """The word with its indefinite article: "a 7", "an 8", "an Ankle boot"."""
    return f"{'an' if word[:1].lower() in 'aeiou8' else 'a'} {word}"


def _classes(m: dict, classes: Sequence[int]) -> str:
    return _join([_names(m)[c] for c in classes])


def training(m: dict) -> Paragraphs:
    t = m["training"]
    names, items = _names(m), _item(m, plural=True)
    cm = np.asarray(t["confusion_matrix"])
    off = cm.copy()
    np.fill_diagonal(off, 0)
    true, pred = np.unravel_index(int(off.argmax()), off.shape)
    history = t["history"]
    gap = history["val_loss"][-1] - history["loss"][-1]
    trend = (
        "the test loss stays close to the training loss, so the small network does not overfit"
        if gap < 0.05
        else f"the test loss ends {gap:.3f} above the training loss: the network starts to overfit"
    )
    return [
        f"After {len(history['loss'])} epochs the lab CNN classifies {_pct(t['test_accuracy'])} "
        f"of the {int(cm.sum()):,} test {items} correctly (test loss {t['test_loss']:.4f}); "
        f"{trend}. It misreads {t['misclassified']['count']} {items}; the most frequent "
        f"confusion is a true {names[true]} read as {_a(names[pred])} ({int(off[true, pred])} "
        "times)."
    ]


def _softmax_recipe(name: str, s: dict, k: int) -> str:
    text = (
        f"{name}: maximized through the softmax, the {k} images reach a mean target probability "
        f"of {s['probability']:.3f} with a target logit of {s['target_logit']:.2f} on average; "
        f"the same optimization of the logit reaches {s['linear_target_logit']:.2f} "
        f"(probability {s['linear_probability']:.3f}). "
    )
    share = s["share_from_others"]
    if share is None or s["margin_gain"] <= 0:
        text += (
            "From a mid-grey start the softmax images did not widen the target's margin at all: "
            "the objective gave the optimizer nothing to climb."
        )
    elif share > 0.5:
        text += (
            f"From a mid-grey start they widened the target's margin by {s['margin_gain']:.2f}, "
            f"{_pct(share)} of it by pushing the other classes down (their log-sum-exp changed by "
            f"{s['others_change']:+.2f}, the target by {s['target_gain']:+.2f}): the probability "
            "rose by suppressing the competition, not by drawing more of the target."
        )
    else:
        text += (
            f"From a mid-grey start they widened the target's margin by {s['margin_gain']:.2f}, "
            f"mostly by raising the target ({s['target_gain']:+.2f}; the others' log-sum-exp "
            f"changed by {s['others_change']:+.2f}), but far less than the logit objective "
            f"({s['linear_margin_gain']:.2f})."
        )
    if s["probability"] >= 0.9:
        text += (
            " The probability saturates near 1, where its gradient vanishes: the image stops "
            "improving long before its logit is as high as it can go."
        )
    else:
        text += (
            f" The probability stays at {s['probability']:.2f}: it can never exceed 1 and its "
            "gradient is scaled by p(1 - p), so against the same regularizer it achieves far less "
            "than the unbounded logit."
        )
    text += (
        f" The independent classifier recognizes {s['recognized']} of {k} of these images "
        f"(mean confidence {s['confidence']:.2f})."
    )
    return text


def softmax(m: dict) -> Paragraphs:
    sm = m["softmax"]
    text = [_softmax_recipe(name, sm[name]["summary"], sm["count"]) for name in sm["order"]]
    text.append(
        "A softmax output depends on every logit, so maximizing it can be done by lowering the "
        "others as well as by raising its own, and it saturates; the logit has neither problem, "
        "which is why the lab swaps the softmax for a linear activation."
    )
    return text


def tv_sweep(m: dict) -> Paragraphs:
    sweep = m["tv_sweep"]
    c = _names(m)[sweep["class"]]
    text = []
    for name in sweep["order"]:
        rows = sweep["recipes"][name]["rows"]
        first, last = rows[0], rows[-1]
        peak = max(rows, key=lambda r: r["confidence"])
        text.append(
            f"{name}: raising tv_weight from {first['tv_weight']:g} to {last['tv_weight']:g} moves "
            f"the logit of {c} from {first['logit']:.2f} ({first['activation']:.2f}x the best real "
            f"{c}) to {last['logit']:.2f} ({last['activation']:.2f}x) and the plausibility from "
            f"{first['plausibility']:.3f} to {last['plausibility']:.3f}; the independent "
            f"classifier is most confident that the image is {_a(c)} at tv_weight "
            f"{peak['tv_weight']:g} ({peak['confidence']:.2f})."
        )
    text.append(
        "Total variation penalizes differences between neighbouring pixels: more of it trades "
        "activation for smoother images, and too much of it leaves too little of the target."
    )
    return text


def _choice_sentence(name: str, c: dict, item: str) -> str:
    s = c["chosen_summary"]
    text = (
        f"{name}: tv_weight {c['chosen']:g}, where the independent classifier recognizes "
        f"{s['recognized']} of {s['count']} class images (mean confidence {s['confidence']:.3f}), "
        f"the mean plausibility is {s['plausibility']:.3f} and the weakest class reaches "
        f"{s['min_activation']:.2f}x the logit of its best real {item}."
    )
    if not c["eligible"]:
        text += (
            f" No tv_weight kept every class at or above its best real {item}, so the rule fell "
            "back to the strongest weakest class."
        )
    return text


def tv_choice(m: dict) -> Paragraphs:
    ch = m["tv_choice"]
    text = [_choice_sentence(name, ch["recipes"][name], _item(m)) for name in ch["order"]]
    lab, lab_tv = ch.get("lab_summary"), ch["lab_choice"]
    measured = ch["recipes"][ch["lab_recipe"]]
    n = measured["chosen_summary"]["count"]
    if lab is None:
        text.append(f"The lab's eyeballed {lab_tv:g} was not part of the {ch['lab_recipe']} sweep.")
    elif measured["chosen"] == lab_tv:
        text.append(
            f"For {ch['lab_recipe']}, the lab's algorithm, the measurement agrees with the lab's "
            f"eyeballed choice of {lab_tv:g}."
        )
    else:
        chosen = measured["chosen_summary"]
        dconf = chosen["confidence"] - lab["confidence"]
        dact = chosen["min_activation"] - lab["min_activation"]
        text.append(
            f"For {ch['lab_recipe']}, the lab's algorithm, the lab's eyeballed {lab_tv:g} gives "
            f"{lab['recognized']} of {n} recognized (confidence {lab['confidence']:.3f}, "
            f"plausibility {lab['plausibility']:.3f}, weakest activation "
            f"{lab['min_activation']:.2f}x); the measured {measured['chosen']:g} is "
            f"{abs(dconf):.3f} {'higher' if dconf > 0 else 'lower'} in confidence and "
            f"{abs(dact):.2f}x {'stronger' if dact > 0 else 'weaker'} in its weakest class."
        )
    lows = [ch["recipes"][name]["plausibility_range"][0] for name in ch["order"]]
    highs = [ch["recipes"][name]["plausibility_range"][1] for name in ch["order"]]
    low, high, real = min(lows), max(highs), ch["real_plausibility"]
    if high - low < 0.05:
        text.append(
            f"Plausibility moves only between {low:.3f} and {high:.3f} over the sweeps (real "
            f"{_item(m, True)} score {real:.3f} against their class): in the lab CNN's own "
            "features every "
            "visualization resembles its class, so this measure barely separates the tv_weights "
            "and the choice rests on the independent classifier and the activation."
        )
    else:
        text.append(
            f"Plausibility ranges from {low:.3f} to {high:.3f} over the sweeps, against "
            f"{real:.3f} for real {_item(m, True)}."
        )
    return text


def classes(m: dict) -> Paragraphs:
    cl = m["classes"]
    names, item = _names(m), _item(m)
    s = cl["summary"]
    rows = cl["rows"]
    missed = [r for r in rows if not r["agreement"]]
    weakest = min(rows, key=lambda r: r["activation"])
    below = [r["target"] for r in rows if r["activation"] < 1]
    text = [
        f"At tv_weight {cl['tv_weight']:g} the independent classifier recognizes "
        f"{s['recognized']} of {s['count']} images as their class (mean confidence "
        f"{s['confidence']:.3f})."
    ]
    if missed:
        text.append(
            "It reads "
            + _join(
                [f"the {names[r['target']]} as {_a(names[r['judge_prediction']])}" for r in missed]
            )
            + "."
        )
    if below:
        text.append(
            f"Classes {_classes(m, below)} stay below the logit of their best real {item}; the "
            f"weakest is {names[weakest['target']]} at {weakest['activation']:.2f}x."
        )
    else:
        text.append(
            f"Every image drives its logit at least as high as the best real test {item} of its "
            f"class (weakest: {names[weakest['target']]} at {weakest['activation']:.2f}x, mean "
            f"{s['activation']:.2f}x)."
        )
    return text


def _merge_share(row: dict) -> float:
    """The smaller share of a single-class logit the joint image keeps (a single image whose
    logit is not positive gives no share, and counts as nothing kept)."""
    shares = [v for v in row["retained"] if v is not None]
    return min(shares) if len(shares) == 2 else 0.0


def pairs(m: dict) -> Paragraphs:
    rows = m["pairs"]["rows"]
    names = _names(m)
    text = []
    merged = [r for r in rows if _merge_share(r) >= MERGE_SHARE]
    split = [r for r in rows if _merge_share(r) < MERGE_SHARE]
    for r in rows:
        a, b = (names[c] for c in r["classes"])
        ra, rb = r["retained"]
        pred = names[r["pair"]["judge_prediction"]]
        verdict = "one shape serves both" if _merge_share(r) >= MERGE_SHARE else "a compromise"
        text.append(
            f"{a}+{b}: the joint image keeps {_pct(ra)} of the single-{a} logit and {_pct(rb)} of "
            f"the single-{b} logit ({verdict}); the independent classifier calls it {_a(pred)}. "
            f"{a}-{b} drives {a} to {r['a_minus_b']['logits'][0]:.2f} and {b} to "
            f"{r['a_minus_b']['logits'][1]:.2f}; {b}-{a} drives {b} to "
            f"{r['b_minus_a']['logits'][1]:.2f} and {a} to {r['b_minus_a']['logits'][0]:.2f}."
        )
    if merged and split:
        text.append(
            f"Pairs that merge into one image ({_join([_name(m, r) for r in merged])}) share "
            f"{m['dataset']['parts']} the network uses for both classes; pairs that do not "
            f"({_join([_name(m, r) for r in split])}) need features that exclude each other, so "
            "the image has to compromise. The contrasts show what separates the two classes of a "
            f"pair: the {m['dataset']['parts']} that raise one logit while lowering the other."
        )
    elif merged:
        text.append(
            "Every pair merges: the network can draw all of them in one image with little loss, "
            "so even different-looking classes share features at this capacity."
        )
    else:
        text.append(
            "No pair merges: each joint image gives up a large share of both logits, the "
            "classes' features compete for the same pixels."
        )
    return text


def _name(m: dict, row: dict) -> str:
    a, b = (_names(m)[c] for c in row["classes"])
    return f"{a}+{b}"


def layers(m: dict) -> Paragraphs:
    item = _item(m)
    text = []
    for r in m["layers"]["rows"]:
        dead, both, n = r["dead"], r["dead_and_silent"], r["units"]
        if not dead:
            part = f"all {n} units respond"
        else:
            part = f"{dead} of {n} stay at zero even when maximized"
            if both == dead:
                part += f" and never fire on a real {item} either: dead ReLUs, capacity left unused"
            elif both:
                part += f" ({both} of them never fire on a real {item} either: dead ReLUs)"
            else:
                part += (
                    f", though they do fire on real {_item(m, True)}: the optimization found no "
                    "gradient"
                )
        rel = r["mean_relative"]
        who = "the others" if dead else "they"
        versus = f"; {who} reach {rel:.1f}x their best response to a real {item}" if rel else ""
        text.append(f"{r['layer']}: {part}{versus}.")
    sizes = [
        f"{r['layer']} {r['receptive_field']}x{r['receptive_field']}" for r in m["layers"]["rows"]
    ]
    h, w = m["dataset"]["image_size"]
    text.append(
        f"A unit sees a square of the input ({_join(sizes)} pixels of the {h}x{w} image). A "
        "filter is maximized through the mean of its whole map, so a filter that sees a small "
        "patch is driven highest by repeating its pattern all over the image, while a unit that "
        f"sees the whole image is shown as one larger composition, like a whole {item}."
    )
    return text


def recipes(m: dict) -> Paragraphs:
    rec = m["recipes"]
    entries = [rec["entries"][key] for key in rec["order"]]
    parts = []
    for e in entries:
        s = e["summary"]
        parts.append(
            f"{e['label']} ({e['tv_weight']:g}, {e['iterations']} iterations): {s['recognized']} "
            f"of {s['count']} recognized, mean confidence {s['confidence']:.3f}, plausibility "
            f"{s['plausibility']:.3f}, activation {s['activation']:.2f}x (weakest "
            f"{s['min_activation']:.2f}x)"
        )
    text = ["; ".join(parts) + "."]
    unbounded = [e for e in entries if e["input_span"][0] < -0.01 or e["input_span"][1] > 1.01]
    for e in unbounded:
        lo, hi = e["input_span"]
        text.append(
            f"{e['label']}: the optimized inputs span {lo:.2f} to {hi:.2f}, outside the [0, 1] "
            f"of a real image; on them the logits average {e['optimized_logit']:.2f}, but what "
            "is shown (and measured here) is their contrast stretch back into [0, 1]."
        )
    chance = 1 / max(len(m["settings"]["classes"]), 1)
    best = max(entries, key=lambda e: (e["summary"]["recognized"], e["summary"]["confidence"]))
    text.append(
        f"The independent classifier recognizes the images of {best['label']} best; "
        f"guessing would recognize about {_pct(chance)}."
    )
    acc = m["acceptance"]
    item = _item(m)
    verdict = {
        (True, True): "every class image is recognized and every one drives its logit at least "
        f"as high as the best real {item} of its class",
        (True, False): "every class image is recognized, but not every one drives its logit as "
        f"high as the best real {item} of its class",
        (False, True): "every class image drives its logit at least as high as the best real "
        f"{item}, but not every one is recognized",
        (False, False): "neither every class image is recognized nor does every one reach the "
        f"best real {item}'s logit",
    }[acc["all_recognized"], acc["all_at_least_best_real"]]
    text.append(f"With actmax's recipe at tv_weight {acc['tv_weight']:g}, {verdict}.")
    return text


def answers(m: dict) -> Paragraphs:
    """The lab's questions, answered with this run's numbers."""
    ch = m["tv_choice"]
    cl = m["classes"]["summary"]
    rows = m["pairs"]["rows"]
    item, items = _item(m), _item(m, plural=True)
    text = [
        f"Which tv_weight? For {ch['recipe']}'s recipe {ch['chosen']:g}, by measurement: "
        f"{ch['rule']} The images it gives are recognized {cl['recognized']} of {cl['count']} "
        f"times by a classifier that never saw the lab CNN, at {cl['activation']:.2f}x the best "
        f"real {item}'s logit on average.",
    ]
    lab_measured = ch["recipes"][ch["lab_recipe"]]["chosen"]
    text[0] += (
        f" With the lab's own algorithm ({ch['lab_recipe']}) the same rule picks "
        f"{lab_measured:g}, where the lab picked {ch['lab_choice']:g} by eye."
    )
    similar = [r for r in rows if r.get("kind") == "similar"]
    different = [r for r in rows if r.get("kind") == "different"]
    if similar and different:
        sim = float(np.mean([_merge_share(r) for r in similar]))
        dif = float(np.mean([_merge_share(r) for r in different]))
        relation = "more" if sim > dif else "less"
        text.append(
            f"Two outputs at once: similar shapes ({_join([_name(m, r) for r in similar])}) keep "
            f"on average {_pct(sim)} of the weaker single-class logit, different shapes "
            f"({_join([_name(m, r) for r in different])}) {_pct(dif)}; similar classes merge "
            f"{relation} easily, as their shared {m['dataset']['parts']} can serve both outputs."
        )
    layer_rows = m["layers"]["rows"]
    unused = sum(r["dead_and_silent"] for r in layer_rows)
    units = sum(r["units"] for r in layer_rows)
    text.append(
        "How activation maximization helps: it asks the network what it is looking for, without "
        f"any data. The class images show the {m['dataset']['parts']} each logit rewards, the "
        "pairs and contrasts show which features classes share and which separate them, and the "
        f"filters show the vocabulary the layers build {items} from"
        + (
            f"; it also finds units that nothing turns on ({unused} of {units}), capacity the "
            "network does not use."
            if unused
            else "."
        )
    )
    rec = m["recipes"]
    entries = [rec["entries"][key] for key in rec["order"]]
    best_real = float(np.mean(m["references"]["best_real_logit"]))
    strongest = max(entries, key=lambda e: e["optimized_logit"])
    s = strongest["summary"]
    limits = [
        f"the optimized inputs of {strongest['label']} ({strongest['tv_weight']:g}) drive the "
        f"logits to {strongest['optimized_logit']:.1f} on average, "
        f"{strongest['optimized_logit'] / best_real:.1f}x the best real {items}', yet their images "
        f"are recognized {s['recognized']} of {s['count']} times: a high activation does not "
        "make a realistic image"
    ]
    tvs = m["tv_choice"]["recipes"][m["tv_choice"]["recipe"]]["per_tv"]
    lo, hi = min(tvs, key=lambda r: r["activation"]), max(tvs, key=lambda r: r["activation"])
    limits.append(
        f"the picture depends on the regularizer: over the tv sweep the mean activation ranges "
        f"from {lo['activation']:.2f}x (tv_weight {lo['tv_weight']:g}) to {hi['activation']:.2f}x "
        f"(tv_weight {hi['tv_weight']:g}), and on the optimizer (the two recipes)"
    )
    limits.append(
        "one image shows one optimum of a unit, not everything the unit responds to, and for the "
        "units inside the network there is no ground truth to compare with"
    )
    text.append("Its limits, in this run's numbers: " + "; ".join(limits) + ".")
    return text


def _mean(values) -> float | None:
    """The mean of the values that exist (a constant map has no rank correlation)."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def attribution(m: dict) -> Paragraphs:
    rows = m["attribution"]["rows"]
    item, items = _item(m), _item(m, plural=True)
    wrong = [r for r in rows if r["true"] != r["predicted"]]
    if not wrong:
        return [f"Every {item} shown is classified correctly, so true and predicted maps coincide."]
    sal = _mean(r["saliency_rank_correlation"] for r in wrong)
    cam = _mean(r["gradcam_rank_correlation"] for r in wrong)
    known = [v for v in (sal, cam) if v is not None]
    if not known:
        return [f"The maps of the misclassified {items} are flat, so they cannot be compared."]

    def show(v):
        return "n/a (a flat map)" if v is None else f"{v:.2f}"

    same = min(known) >= 0.5
    return [
        f"For the {len(wrong)} misclassified {items}, the maps for the true and the predicted "
        f"class have a mean rank correlation of {show(sal)} (saliency) and {show(cam)} "
        f"(Grad-CAM, layer {m['attribution']['gradcam_layer']}): "
        + (
            "the two explanations point at largely the same pixels, so the mistake comes from "
            "how the evidence is weighed, not from looking elsewhere."
            if same
            else "the network finds its evidence for the wrong class in other places than the "
            "evidence for the right one."
        )
    ]


SECTIONS = {
    "training": training,
    "softmax": softmax,
    "tv_sweep": tv_sweep,
    "tv_choice": tv_choice,
    "classes": classes,
    "pairs": pairs,
    "layers": layers,
    "recipes": recipes,
    "attribution": attribution,
    "answers": answers,
}


def reading(metrics: dict) -> dict[str, Paragraphs]:
    """Every section's paragraphs, keyed as the report's sections."""
    return {name: fn(metrics) for name, fn in SECTIONS.items() if _has(metrics, name)}


def _has(metrics: dict, name: str) -> bool:
    needs = {"answers": ("tv_choice", "classes", "pairs", "layers", "recipes")}.get(name, (name,))
    return all(key in metrics for key in needs)
