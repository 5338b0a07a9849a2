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


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _classes(classes: Sequence[int]) -> str:
    return _join([str(c) for c in classes])


def training(m: dict) -> Paragraphs:
    t = m["training"]
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
        f"of the 10,000 test digits correctly (test loss {t['test_loss']:.4f}); {trend}. "
        f"It misreads {t['misclassified']['count']} digits; the most frequent confusion is a "
        f"true {true} read as {pred} ({int(off[true, pred])} times)."
    ]


def softmax(m: dict) -> Paragraphs:
    s = m["softmax"]["summary"]
    k = m["softmax"]["count"]
    pushed = s["mean_other_logit"] < s["linear_mean_other_logit"]
    lower = s["target_logit"] < s["linear_target_logit"]
    text = [
        f"Maximized through the softmax, the {k} images reach a mean target probability of "
        f"{s['probability']:.3f}. The probability only measures the target against the others: "
        f"their target logit averages {s['target_logit']:.2f}, against "
        f"{s['linear_target_logit']:.2f} for the same optimization on the logit, and the other "
        f"nine logits average {s['mean_other_logit']:.2f} against "
        f"{s['linear_mean_other_logit']:.2f}."
    ]
    gap_soft = s["target_logit"] - s["mean_other_logit"]
    gap_lin = s["linear_target_logit"] - s["linear_mean_other_logit"]
    if pushed and lower:
        text.append(
            "So what the softmax objective raises is the gap between the target and the others "
            f"({gap_soft:.2f} against {gap_lin:.2f} under logit maximization), and it gets much of "
            "that gap by pushing the other classes down rather than by drawing more of the "
            "target: a softmax output depends on every logit, so its gradient points as much away "
            "from the other classes as towards its own."
        )
    elif pushed:
        text.append(
            "The other logits end lower than under logit maximization, the mark of an objective "
            "that can be met by suppressing the competition; on this run the target logit still "
            "ended as high."
        )
    else:
        text.append(
            "On this run the softmax images did not push the other logits below the logit "
            "images' level; the difference lies in the target logit alone."
        )
    if s["probability"] >= 0.9:
        text.append(
            "The probability saturates near 1, where its gradient vanishes: the optimization "
            "stops improving the image long before the logit is as high as it can go. Maximizing "
            "the logit has neither problem, which is why the lab swaps the softmax for a linear "
            "activation."
        )
    else:
        text.append(
            f"Even the probability stays at {s['probability']:.2f} on average: the gradient of "
            "a softmax output is scaled by p(1 - p) and shared out among all the classes, so the "
            "same number of steps gets much less done than on the logit, which is why the lab "
            "swaps the softmax for a linear activation."
        )
    text.append(
        f"The independent classifier recognizes {s['recognized']} of {k} softmax images as their "
        f"class (mean confidence {s['confidence']:.2f})."
    )
    return text


def tv_sweep(m: dict) -> Paragraphs:
    sweep = m["tv_sweep"]
    rows = sweep["rows"]
    first, last = rows[0], rows[-1]
    c = sweep["class"]
    peak = max(rows, key=lambda r: r["confidence"])
    return [
        f"For output {c}, raising tv_weight from {first['tv_weight']:g} to {last['tv_weight']:g} "
        f"moves its logit from {first['logit']:.2f} ({first['activation']:.2f}x the best real "
        f"{c}) to {last['logit']:.2f} ({last['activation']:.2f}x), and the plausibility from "
        f"{first['plausibility']:.3f} to {last['plausibility']:.3f}. The independent classifier "
        f"is most confident that the image is a {c} at tv_weight {peak['tv_weight']:g} "
        f"({peak['confidence']:.2f}). Total variation penalizes differences between neighbouring "
        "pixels: more of it trades activation for smooth, stroke-like images."
    ]


def tv_choice(m: dict) -> Paragraphs:
    ch = m["tv_choice"]
    chosen, lab = ch["chosen_summary"], ch.get("lab_summary")
    n = chosen["count"]
    text = [
        f"Rule: {ch['rule']}",
        f"Chosen: tv_weight {ch['chosen']:g}. There the independent classifier recognizes "
        f"{chosen['recognized']} of {n} class images (mean confidence {chosen['confidence']:.3f}), "
        f"the mean plausibility is {chosen['plausibility']:.3f} and the weakest class reaches "
        f"{chosen['min_activation']:.2f}x the logit of its best real digit.",
    ]
    if not ch["eligible"]:
        text.append(
            "No tv_weight kept every class at or above its best real digit, so the rule fell "
            "back to the strongest weakest class."
        )
    if lab is None:
        text.append(f"The lab's eyeballed {ch['lab_choice']:g} was not part of this sweep.")
    elif ch["chosen"] == ch["lab_choice"]:
        text.append(
            f"The measurement agrees with the lab's eyeballed choice of {ch['lab_choice']:g}."
        )
    else:
        dconf = chosen["confidence"] - lab["confidence"]
        dplaus = chosen["plausibility"] - lab["plausibility"]
        better = "higher" if dconf > 0 else "lower"
        text.append(
            f"The lab's eyeballed {ch['lab_choice']:g} gives {lab['recognized']} of {n} recognized "
            f"(confidence {lab['confidence']:.3f}, plausibility {lab['plausibility']:.3f}, weakest "
            f"activation {lab['min_activation']:.2f}x): the measured choice is {abs(dconf):.3f} "
            f"{better} in confidence and {dplaus:+.3f} in plausibility."
        )
    return text


def classes(m: dict) -> Paragraphs:
    cl = m["classes"]
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
            + _join([f"the {r['target']} as a {r['judge_prediction']}" for r in missed])
            + "."
        )
    if below:
        text.append(
            f"Classes {_classes(below)} stay below the logit of their best real digit; the "
            f"weakest is {weakest['target']} at {weakest['activation']:.2f}x."
        )
    else:
        text.append(
            "Every image drives its logit at least as high as the best real test digit of its "
            f"class (weakest: {weakest['target']} at {weakest['activation']:.2f}x, mean "
            f"{s['activation']:.2f}x)."
        )
    return text


def _merge_share(row: dict) -> float:
    return min(row["retained"])


def pairs(m: dict) -> Paragraphs:
    rows = m["pairs"]["rows"]
    text = []
    merged = [r for r in rows if _merge_share(r) >= MERGE_SHARE]
    split = [r for r in rows if _merge_share(r) < MERGE_SHARE]
    for r in rows:
        a, b = r["classes"]
        ra, rb = r["retained"]
        pred = r["pair"]["judge_prediction"]
        verdict = "one shape serves both" if _merge_share(r) >= MERGE_SHARE else "a compromise"
        text.append(
            f"{a}+{b}: the joint image keeps {_pct(ra)} of the single-{a} logit and {_pct(rb)} of "
            f"the single-{b} logit ({verdict}); the independent classifier calls it a {pred}. "
            f"{a}-{b} drives {a} to {r['a_minus_b']['logits'][0]:.2f} and {b} to "
            f"{r['a_minus_b']['logits'][1]:.2f}; {b}-{a} drives {b} to "
            f"{r['b_minus_a']['logits'][1]:.2f} and {a} to {r['b_minus_a']['logits'][0]:.2f}."
        )
    if merged and split:
        text.append(
            f"Pairs that merge into one image ({_join([_name(r) for r in merged])}) share "
            f"strokes the network uses for both classes; pairs that do not "
            f"({_join([_name(r) for r in split])}) need features that exclude each other, so the "
            "image has to compromise. The contrasts show what separates the two classes of a pair: "
            "the strokes that raise one logit while lowering the other."
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


def _name(row: dict) -> str:
    a, b = row["classes"]
    return f"{a}+{b}"


def layers(m: dict) -> Paragraphs:
    text = []
    for r in m["layers"]["rows"]:
        dead = r["dead"]
        part = (
            f"{dead} of {r['units']} cannot be activated at all (a dead ReLU: no input turns "
            "them on)"
            if dead
            else f"all {r['units']} respond"
        )
        text.append(
            f"{r['layer']}: {part}; the strongest reaches {r['max']:.2f}, the mean {r['mean']:.2f}."
        )
    sizes = [
        f"{r['layer']} {r['receptive_field']}x{r['receptive_field']}" for r in m["layers"]["rows"]
    ]
    text.append(
        f"A unit sees a square of the input ({_join(sizes)} pixels of the 28x28 image). A filter "
        "is maximized through the mean of its whole map, so a filter that sees a small patch "
        "is driven highest by repeating its pattern all over the image, while a unit that sees "
        "the whole image is shown as one larger, digit-like composition."
    )
    return text


def recipes(m: dict) -> Paragraphs:
    rec = m["recipes"]
    names = rec["order"]
    parts = []
    for name in names:
        s = rec[name]["summary"]
        parts.append(
            f"{name} (tv_weight {rec[name]['tv_weight']:g}, {rec[name]['iterations']} iterations): "
            f"{s['recognized']} of {s['count']} recognized, mean confidence {s['confidence']:.3f}, "
            f"plausibility {s['plausibility']:.3f}, activation {s['activation']:.2f}x (weakest "
            f"{s['min_activation']:.2f}x)"
        )
    a, b = (rec[n]["summary"] for n in names)
    chance = 1 / len(m["settings"]["classes"]) if m["settings"]["classes"] else 0.1
    text = ["; ".join(parts) + "."]
    best = names[0] if a["confidence"] >= b["confidence"] else names[1]
    text.append(
        f"The independent classifier finds {best}'s images the more digit-like. Chance would be "
        f"about {_pct(chance)} agreement."
    )
    return text


def answers(m: dict) -> Paragraphs:
    """The lab's questions, answered with this run's numbers."""
    ch = m["tv_choice"]
    cl = m["classes"]["summary"]
    rows = m["pairs"]["rows"]
    text = [
        f"Which tv_weight? {ch['chosen']:g}, by measurement: {ch['rule']} The images it gives are "
        f"recognized {cl['recognized']} of {cl['count']} times by a classifier that never saw the "
        f"lab CNN, at {cl['activation']:.2f}x the best real digit's logit on average.",
    ]
    similar = [r for r in rows if r.get("kind") == "similar"]
    different = [r for r in rows if r.get("kind") == "different"]
    if similar and different:
        sim = float(np.mean([_merge_share(r) for r in similar]))
        dif = float(np.mean([_merge_share(r) for r in different]))
        relation = "more" if sim > dif else "less"
        text.append(
            f"Two outputs at once: similar shapes ({_join([_name(r) for r in similar])}) keep on "
            f"average {_pct(sim)} of the weaker single-class logit, different shapes "
            f"({_join([_name(r) for r in different])}) {_pct(dif)}; similar classes merge "
            f"{relation} easily, as their shared strokes can serve both outputs."
        )
    layer_rows = m["layers"]["rows"]
    dead = sum(r["dead"] for r in layer_rows)
    units = sum(r["units"] for r in layer_rows)
    rec = m["recipes"]
    conf = {n: rec[n]["summary"]["recognized"] for n in rec["order"]}
    text.append(
        "How activation maximization helps: it asks the network what it is looking for, without "
        "any data. The class images show the strokes each logit rewards, the pairs and contrasts "
        "show which features classes share and which separate them, and the filters show the "
        "vocabulary the layers build digits from"
        + (
            f" ({dead} of {units} units never fire: capacity the network does not use)."
            if dead
            else "."
        )
    )
    count = cl["count"]
    recognized = _join([f"{v} of {count} times ({n})" for n, v in conf.items()])
    text.append(
        "Its limits, in this run's numbers: an image can drive a logit far beyond any real digit "
        f"and still not look like one: the recipes' images are recognized {recognized}; the result "
        "depends on the regularizer and its weight (the tv sweep), on the optimizer and on the "
        "seed; one image shows one optimum of a unit, not everything the unit responds to; and "
        "for units inside the network there is no ground truth to compare with."
    )
    return text


def attribution(m: dict) -> Paragraphs:
    rows = m["attribution"]["rows"]
    wrong = [r for r in rows if r["true"] != r["predicted"]]
    if not wrong:
        return ["Every digit shown is classified correctly, so true and predicted maps coincide."]
    sal = float(np.mean([r["saliency_rank_correlation"] for r in wrong]))
    cam = float(np.mean([r["gradcam_rank_correlation"] for r in wrong]))
    return [
        f"For the {len(wrong)} misclassified digits, the maps for the true and the predicted class "
        f"have a mean rank correlation of {sal:.2f} (saliency) and {cam:.2f} (Grad-CAM, layer "
        f"{m['attribution']['gradcam_layer']}): "
        + (
            "the two explanations point at largely the same pixels, so the mistake comes from "
            "how the evidence is weighed, not from looking elsewhere."
            if min(sal, cam) >= 0.5
            else "the network finds its evidence for the wrong class in other strokes than the "
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
