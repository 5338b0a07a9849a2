"""The images a realism score must rank below real ones, and corruptions of growing strength.

Each probe is made from a seed, so a check of the score sees the same images every time:

- **noise**: uniform noise, and Gaussian noise about mid-grey;
- **constant**: flat images from black to white;
- **keras-vis**: keras-vis' class images at the lab's tv_weight (grey, noisy);
- **adversarial**: real images pushed to another class's logit with nothing but the logit to
  climb (the start image plus a high-frequency perturbation), and class images grown from noise
  with no regularizer at all.

`noisy` adds Gaussian noise and `blur_mix` mixes in a blurred copy: at strength 0 both give the
images back, and a realism score should fall at every step up.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..engine import visualize
from ..objectives import logit

KERAS_VIS_TV = 0.5  # the lab's tv_weight for keras-vis' recipe
ADVERSARIAL_STEPS = 40
BLUR_SIGMA = 1.5  # pixels


def _images(result) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(result.images)).permute(0, 3, 1, 2).float()


def noise_images(n: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """`n` images: half uniform in [0, 1], half Gaussian about 0.5 (std 0.25), clipped."""
    g = torch.Generator().manual_seed(seed)
    half = n // 2
    uniform = torch.rand(half, *shape, generator=g)
    gaussian = (0.5 + 0.25 * torch.randn(n - half, *shape, generator=g)).clamp(0, 1)
    return torch.cat([uniform, gaussian])


def constant_images(shape: tuple[int, ...], levels: int = 11) -> torch.Tensor:
    """Flat images at `levels` grey levels from 0 to 1."""
    return torch.linspace(0, 1, levels)[:, None, None, None] * torch.ones(levels, *shape)


def keras_vis_images(
    model: nn.Module, classes: int = 10, seeds: int = 1, iterations: int | None = None
) -> torch.Tensor:
    """keras-vis' display images of every class logit at the lab's tv_weight, one per seed."""
    objectives = [logit(c) for _ in range(seeds) for c in range(classes)]
    seed = [s for s in range(seeds) for _ in range(classes)]
    result = visualize(
        model,
        objectives,
        recipe="keras-vis",
        tv_weight=KERAS_VIS_TV,
        seed=seed,
        iterations=iterations,
    )
    return _images(result)


def adversarial_images(
    model: nn.Module,
    x: torch.Tensor,
    y: np.ndarray,
    n_classes: int = 10,
    iterations: int = ADVERSARIAL_STEPS,
    grown_iterations: int | None = None,
) -> torch.Tensor:
    """Real images pushed to the next class's logit (`iterations` steps), and every class grown
    from noise (`grown_iterations`; None: the recipe's), both with no regularizer and no jitter:
    only the network's gradient shapes them."""
    targets = [(int(c) + 1) % n_classes for c in y]
    pushed = visualize(
        model,
        [logit(t) for t in targets],
        recipe="actmax",
        seed_input=x,
        tv_weight=0.0,
        lp_weight=0.0,
        jitter=0,
        iterations=iterations,
    )
    grown = visualize(
        model,
        [logit(c) for c in range(n_classes)],
        recipe="actmax",
        tv_weight=0.0,
        lp_weight=0.0,
        jitter=0,
        iterations=grown_iterations,
    )
    return torch.cat([_images(pushed), _images(grown)])


def noisy(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """`x` plus Gaussian noise of standard deviation `sigma`, clipped to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def gaussian_blur(x: torch.Tensor, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """Each channel blurred by a normalized Gaussian kernel (zero padding)."""
    radius = max(1, int(round(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), padding=(0, radius), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), padding=(radius, 0), groups=c)


def blur_mix(x: torch.Tensor, amount: float, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """`(1 - amount) * x + amount * blur(x)`: 0 is the image, 1 its blurred copy."""
    return (1 - amount) * x + amount * gaussian_blur(x, sigma)


def probes(
    model: nn.Module,
    x_real: np.ndarray,
    y_real: np.ndarray,
    seed: int = 0,
    keras_vis: torch.Tensor | None = None,
    iterations: int | None = None,
) -> dict[str, torch.Tensor]:
    """Every group of images a realism score must rank low, for the lab CNN `model`.

    `x_real`, `y_real`: a few real images (and labels) to push to other classes; `keras_vis`:
    keras-vis' class images when they are already made (else three per class are);
    `iterations`: the optimizations' steps (None: each probe's own).
    """
    steps = ADVERSARIAL_STEPS if iterations is None else min(iterations, ADVERSARIAL_STEPS)
    shape = tuple(x_real.shape[1:])
    return {
        "noise": noise_images(100, shape, seed),
        "constant": constant_images(shape),
        "keras-vis": keras_vis
        if keras_vis is not None
        else keras_vis_images(model, seeds=3, iterations=iterations),
        "adversarial": adversarial_images(
            model, torch.from_numpy(x_real), y_real, iterations=steps, grown_iterations=iterations
        ),
    }


def check_realism(
    score,
    real_scores: np.ndarray,
    groups: dict[str, torch.Tensor],
    base: torch.Tensor,
    noise_levels=(0.0, 0.1, 0.2, 0.4, 0.7, 1.0),
    blur_levels=(0.0, 0.25, 0.5, 0.75, 1.0),
) -> dict:
    """How the realism score ranks each probe group against the real images' scores, and its
    mean on `base` images under each corruption, step by step (JSON-ready)."""
    low = float(np.min(real_scores))
    probes_rows = []
    for name, images in groups.items():
        s = np.asarray(score(images), dtype=np.float64)
        probes_rows.append(
            {
                "group": name,
                "count": len(s),
                "below_real": float((s < low).mean()),
                "median": float(np.median(s)),
                "max": float(s.max()),
            }
        )
    corruptions = []
    for kind, levels, make in (
        ("noise", noise_levels, lambda t: noisy(base, t, seed=1)),
        ("blur", blur_levels, lambda t: blur_mix(base, t)),
    ):
        curves = np.stack([np.asarray(score(make(t)), dtype=np.float64) for t in levels])
        corruptions.append(
            {
                "kind": kind,
                "levels": [float(t) for t in levels],
                "means": curves.mean(1).tolist(),
                "falls_every_step": bool(np.all(np.diff(curves.mean(1)) < 0)),
                "images_falling_every_step": float(
                    np.all(np.diff(curves, axis=0) < 0, axis=0).mean()
                ),
            }
        )
    return {"probes": probes_rows, "corruptions": corruptions}


CORRUPTED = 200  # test images corrupted step by step in a lab run


def realism_metrics(
    model: nn.Module, meter, vae, data, results, iterations: int | None = None
) -> dict:
    """The realism score checked in a lab run: how it ranks the images it must rank low (noise,
    flat images, keras-vis' images at the lab's tv_weight, adversarial-looking images) against
    every real test image, and its mean on the last test images under growing corruption."""
    from .realism_score import DEFINITIONS

    lab = results.images.get("recipe:lab")
    keras_vis = lab.batch() if lab is not None else None
    groups = probes(
        model, data.x_test[:20], data.y_test[:20], keras_vis=keras_vis, iterations=iterations
    )
    base = torch.from_numpy(data.x_test[-CORRUPTED:])
    checked = check_realism(meter.realism, meter.test_realism, groups, base)
    return {
        "definition": DEFINITIONS[meter.realism.content],
        "content": meter.realism.content,
        "corrupted": CORRUPTED,
        **checked,
        "vae": vae.record(),
    }
