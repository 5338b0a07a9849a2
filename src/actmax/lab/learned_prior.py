"""The learned image prior: each class logit (and each pair) maximized in the latent space of the
VAE's decoder, image = G(z), beside the pixel prior's images (total variation and an Lp norm on
the pixels themselves).

The latent code starts from the prior, N(0, I), and is kept near it by `LatentPrior`, a penalty
of half the mean square of z. Each image is optimized from several random codes (`starts`) and
the start whose logit goes highest is kept: the choice uses only the lab CNN's objective, never
the judge or the realism score, which then measure the kept image. The penalty's weight is
chosen by `RULE`, from a sweep, as the tv_weight is for the pixel prior.

What the prior hides: the decoder can draw only what the training set shows, so its images look
like the data whatever the lab CNN responds to; the report puts numbers on what that costs in
activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..engine import visualize
from ..objectives import Objective, logit
from ..parallel import cpu_threads
from ..param import Latent
from ..recipes import ACTMAX
from ..regularizers import LatentPrior
from .experiments import VISUALIZE_THREADS, Images, LabSettings
from .realism import Measures, RealismMeter

LATENT_WEIGHTS = (1.0, 2.0, 4.0, 8.0)
QUICK_WEIGHTS = (2.0,)
# actmax's optimizer (Adam, its step decaying along a half cosine) with the penalty's weight as
# given: the pixel recipe scales its weights by the objective's gradient on the image, which on
# a generator's image makes the latent penalty vanish.
LATENT_RECIPE = replace(ACTMAX, name="actmax, latent", relative_weights=False)
STARTS = 6
QUICK_STARTS = 2
RULE = (
    "the strongest latent penalty at which every class image still drives its logit at least as "
    "high as the best real test {item} of its class (activation >= 1); if none does, the one "
    "with the strongest weakest class"
)


@dataclass
class PriorResults:
    metrics: dict = field(default_factory=dict)
    images: dict[str, Images] = field(default_factory=dict)


def _optimize(
    model: nn.Module,
    generator: nn.Module,
    objectives: Sequence[Objective],
    weights: Sequence[float],
    starts: int,
    settings: LabSettings,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every objective at every weight from `starts` codes, in one engine call. Returns the
    display images (W, K, S, H, W, C), the objective values (W, K, S) and the codes' norms
    |z| (the prior's typical norm is the square root of the latent size)."""
    rows = [(w, k, s) for w in weights for k in range(len(objectives)) for s in range(starts)]
    latent = int(generator.latent)
    with cpu_threads(VISUALIZE_THREADS):
        result = visualize(
            model,
            [objectives[k] for _, k, _ in rows],
            recipe=LATENT_RECIPE,
            param=Latent(generator, (latent,)),
            regularizers=[LatentPrior([w for w, _, _ in rows])],
            transforms=[],
            iterations=settings.iterations,
            seed=[settings.seed + s for _, _, s in rows],
            device=settings.device,
            progress=progress,
        )
    shape = (len(weights), len(objectives), starts)
    images = np.asarray(result.images).reshape(*shape, *result.images.shape[1:])
    values = np.asarray(result.activations, dtype=np.float64).reshape(shape)
    # The code's norm from the recorded penalty, 0.5 * mean(z**2), at the last step.
    norms = np.sqrt(2 * latent * np.asarray(result.history["latent"][-1], dtype=np.float64))
    norms = norms.reshape(shape)
    return images, values, norms


def _best_start(
    images: np.ndarray, values: np.ndarray, norms: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per weight and objective, the start whose objective went highest."""
    best = values.argmax(-1)
    take = np.take_along_axis
    return (
        take(images, best[..., None, None, None, None], axis=2)[:, :, 0],
        take(values, best[..., None], axis=2)[..., 0],
        take(norms, best[..., None], axis=2)[..., 0],
    )


def _as_block(images: np.ndarray, objective: np.ndarray, titles: list[str]) -> Images:
    return Images(images=images, titles=titles, objective=objective)


def within_real_range(meter: RealismMeter, m: Measures) -> np.ndarray:
    """Whether each image's realism lies between the least and the most real test image of its
    target class."""
    low, high = meter.realism_range[m.target, 0], meter.realism_range[m.target, 1]
    return (m.realism >= low) & (m.realism <= high)


def choose_weight(weights: Sequence[float], summaries: Sequence[dict]) -> float:
    """Apply `RULE` to per-weight summaries."""
    strong = [w for w, s in zip(weights, summaries, strict=True) if s["min_activation"] >= 1]
    if strong:
        return float(max(strong))
    return float(max(zip(weights, summaries, strict=True), key=lambda e: e[1]["min_activation"])[0])


def _summary(meter: RealismMeter, m: Measures, norms: np.ndarray) -> dict:
    inside = within_real_range(meter, m)
    return {
        **m.summary(),
        "within_real_range": int(inside.sum()),
        "latent_norm": float(norms.mean()),
    }


def _pair_rows(
    meter: RealismMeter, pairs: Sequence[tuple[int, int]], images: np.ndarray, logits: np.ndarray
) -> list[dict]:
    """Per pair: a+b, a-b, b-a (3 rows each, in order) with both logits, the judge's verdict and
    the realism score."""
    x = displayed_batch(images)
    judged = meter.judge(x)
    realism = np.asarray(meter.realism(x), dtype=np.float64)
    rows = []
    for i, (a, b) in enumerate(pairs):
        kinds = {}
        for j, kind in enumerate(("a_plus_b", "a_minus_b", "b_minus_a")):
            r = 3 * i + j
            kinds[kind] = {
                "logits": [float(logits[r, a]), float(logits[r, b])],
                "activation": [
                    float(logits[r, a] / meter.best_logit[a]),
                    float(logits[r, b] / meter.best_logit[b]),
                ],
                "judge_prediction": int(judged[r].argmax()),
                "judge_probabilities": [float(judged[r, a]), float(judged[r, b])],
                "realism": float(realism[r]),
            }
        rows.append({"classes": [a, b], **kinds})
    return rows


def _logits(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.logits(x.to(device)).cpu().numpy().astype(np.float64)


def run_learned_prior(
    model: nn.Module,
    generator: nn.Module,
    meter: RealismMeter,
    settings: LabSettings,
    pixel: dict,
    pixel_images: dict[str, Images],
    item: str = "image",
    progress: bool = False,
) -> PriorResults:
    """Maximize every class and pair through `generator` and compare with the pixel prior.

    `pixel`: the lab's metrics (its "classes" section gives the pixel prior's class images at
    the chosen tv_weight); `pixel_images`: the lab's images ("classes", "pair:a:b").
    """
    classes = list(settings.classes)
    weights = QUICK_WEIGHTS if settings.quick else LATENT_WEIGHTS
    starts = QUICK_STARTS if settings.quick else STARTS
    out = PriorResults()

    # The class images at every weight, and the weight.
    objectives = [logit(c).named(f"{c}") for c in classes]
    images, values, norms = _best_start(
        *_optimize(model, generator, objectives, weights, starts, settings, progress)
    )
    measured, summaries = [], []
    for w in range(len(weights)):
        block = _as_block(images[w], values[w], [str(c) for c in classes])
        block.measures = meter.measure(block.batch(), classes)
        block.logits = _logits(model, block.batch())
        measured.append(block)
        summaries.append(
            dict(latent_weight=weights[w], **_summary(meter, block.measures, norms[w]))
        )
    chosen = choose_weight(weights, summaries)
    k = list(weights).index(chosen)
    learned = measured[k]

    # The pairs and their contrasts at that weight.
    pair_objectives = []
    for a, b in settings.pairs:
        pair_objectives += [
            (logit(a) + logit(b)).named(f"{a}+{b}"),
            (logit(a) - logit(b)).named(f"{a}-{b}"),
            (logit(b) - logit(a)).named(f"{b}-{a}"),
        ]
    pair_images, pair_values, _ = _best_start(
        *_optimize(model, generator, pair_objectives, [chosen], starts, settings, progress)
    )
    pair_images = pair_images[0]
    learned_pairs = _pair_rows(
        meter, settings.pairs, pair_images, _logits(model, displayed_batch(pair_images))
    )

    pixel_pairs_images = np.concatenate(
        [pixel_images[f"pair:{a}:{b}"].images[2:5] for a, b in settings.pairs]
    )
    pixel_pairs = _pair_rows(
        meter,
        settings.pairs,
        pixel_pairs_images,
        _logits(model, displayed_batch(pixel_pairs_images)),
    )

    # Metrics: the learned prior beside the pixel prior.
    pixel_block = pixel_images["classes"]
    pm, lm = pixel_block.measures, learned.measures
    inside = within_real_range(meter, lm)
    rows = []
    for i, c in enumerate(classes):
        rows.append(
            {
                **lm.rows()[i],
                "latent_norm": float(norms[k, i]),
                "within_real_range": bool(inside[i]),
                "real_realism_range": meter.realism_range[c].tolist(),
                "pixel": pm.rows()[i],
                "activation_kept": float(lm.activation[i] / pm.activation[i]),
            }
        )
    learned_summary = summaries[k]
    pixel_summary = {
        **pm.summary(),
        "within_real_range": int(within_real_range(meter, pm).sum()),
    }
    out.metrics = {
        "rule": RULE.format(item=item)[0].upper() + RULE.format(item=item)[1:],
        "latent": int(generator.latent),
        "latent_weights": list(weights),
        "starts": starts,
        "iterations": settings.iterations,
        "chosen_weight": chosen,
        "per_weight": summaries,
        "pixel_tv_weight": pixel["classes"]["tv_weight"],
        "pixel_recipe": pixel["classes"]["recipe"],
        "rows": rows,
        "summary": learned_summary,
        "pixel_summary": pixel_summary,
        "trade_off": {
            "activation_kept_mean": float(np.mean([r["activation_kept"] for r in rows])),
            "activation_kept_min": float(np.min([r["activation_kept"] for r in rows])),
            "logit_given_up_mean": float(np.mean(pm.logit - lm.logit)),
            "realism_gain_mean": float(np.mean(lm.realism - pm.realism)),
        },
        "targets": {
            "all_recognized": bool(lm.agreement.all()),
            "mean_confidence": float(lm.confidence.mean()),
            "confident": bool(lm.confidence.mean() >= 0.99),
            "all_at_least_best_real": bool((lm.activation >= 1).all()),
            "all_within_real_range": bool(inside.all()),
        },
        "pairs": [
            {"classes": p["classes"], "pixel": p, "learned": q}
            for p, q in zip(pixel_pairs, learned_pairs, strict=True)
        ],
    }
    out.images["prior:classes"] = learned
    out.images["prior:pairs"] = _as_block(
        pair_images, pair_values[0], [o.name for o in pair_objectives]
    )
    out.images["prior:pixel_pairs"] = _as_block(
        pixel_pairs_images, np.zeros(len(pixel_pairs_images)), [o.name for o in pair_objectives]
    )
    return out


def displayed_batch(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) display images in [0, 1] as a (N, C, H, W) float batch."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
