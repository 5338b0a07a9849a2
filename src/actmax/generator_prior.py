"""Activation maximization through an image generator: the image a generator draws, then a short
polish of its pixels.

Pixel priors (total variation, an Lp norm, jitter) are what a model without data can have; on
networks unlike the one they were tuned on they often give images another classifier cannot
read. A generator of the model's data (a VAE's decoder, a GAN) draws only images of that data,
so its best image is readable by construction (Nguyen et al. 2016, "Synthesizing the preferred
inputs for neurons in neural networks via deep generator networks"), but it can rarely push a
unit beyond what real images reach. The recipe here does both, in two batched calls of the
engine:

1. **Latent search**: each objective from `starts` random codes, image = generator(z), with
   `LatentPrior` keeping z where the generator learned to draw; the start whose objective goes
   highest is kept (chosen by the objective alone).
2. **Pixel polish**: a few unregularized Adam steps on that image's pixels, inside the input
   range. Small steps from a readable image stay readable, and lift the unit beyond the
   generator's reach.

Measured on six architectures and two data sets (`benchmarks/zoo.py --recipe learned-prior`),
with the data set's VAE and these defaults, untuned per model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .adapters import ModelAdapter, Preprocess, as_adapter
from .adapters.base import preserved_state
from .engine import _as_objectives, visualize
from .errors import ActmaxError
from .objectives import Objective
from .optimizers import Adam
from .param import Latent, Pixels
from .recipes import ACTMAX
from .regularizers import LatentPrior
from .result import VisualizationResult

__all__ = ["GeneratorPrior", "visualize_with_prior"]


@dataclass(frozen=True)
class GeneratorPrior:
    """The settings of `visualize_with_prior`: how hard to search the latent space and how far
    to polish the pixels.

    Attributes:
        latent_weight: the weight of `LatentPrior` (half the mean square of z) in the search;
            larger keeps images more typical of the generator and less strong.
        starts: random codes tried per objective; the one whose objective goes highest is kept.
        iterations: steps of the latent search.
        polish: unregularized pixel steps after it (0: the generator's image as it is).
        polish_lr: the polish's Adam step, as a share of the input range (decaying to 0 along
            a cosine).
    """

    latent_weight: float = 1.0
    starts: int = 4
    iterations: int = 200
    polish: int = 50
    polish_lr: float = 0.02

    def __post_init__(self) -> None:
        for name in ("starts", "iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ActmaxError(f"{name} must be a whole number >= 1, got {value!r}")
        if isinstance(self.polish, bool) or not isinstance(self.polish, int) or self.polish < 0:
            raise ActmaxError(f"polish must be a whole number >= 0, got {self.polish!r}")
        if not self.latent_weight >= 0:
            raise ActmaxError(f"latent_weight must be >= 0, got {self.latent_weight!r}")
        if not self.polish_lr > 0:
            raise ActmaxError(f"polish_lr must be > 0, got {self.polish_lr!r}")


def visualize_with_prior(
    model: nn.Module | ModelAdapter | str | os.PathLike,
    objectives: Objective | Sequence[Objective],
    generator: nn.Module,
    latent_shape: Sequence[int],
    *,
    prior: GeneratorPrior | None = None,
    input_range: tuple[float, float] = (0.0, 1.0),
    input_shape: tuple[int, ...] | None = None,
    preprocess: Preprocess | None = None,
    seed: int | Sequence[int] = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    titles: Sequence[str] | None = None,
) -> VisualizationResult:
    """Maximize each objective over a generator's images, then polish the pixels (see the
    module's text); all objectives in one batch per stage.

    Args:
        model: what `visualize()` takes: a torch module, a Keras model, an adapter or a path.
        objectives: one `Objective` or a sequence of them: one image each.
        generator: a torch module from codes (N, *latent_shape) to images (N, C, H, W) in the
            model's input range (e.g. a VAE's decoder trained on the model's data).
        latent_shape: one code's shape, e.g. (32,).
        prior: the search and polish settings (default: `GeneratorPrior()`).
        input_range: (lo, hi), the values the model's input takes.
        input_shape: one image's shape (C, H, W), for models that do not say it themselves.
        preprocess: what the model does to an image before its first layer (as in
            `visualize()`).
        seed: one seed for every objective, or one per objective; objective i's start s draws
            its code from seed `seed[i] * starts + s`.
        device: where to optimize (default: the model's).
        progress: show a progress bar over the steps of each stage.
        titles: one title per image for `result.plot()` (default: the objectives as text).

    Returns:
        A `VisualizationResult` of the polished images. Its history holds both stages one
        after the other (`iterations` + `polish` steps): "objective" and "loss" throughout,
        "latent" in the search (NaN in the polish).
    """
    prior = prior or GeneratorPrior()
    objectives = _as_objectives(objectives)
    n, k = len(objectives), prior.starts
    seeds = [int(seed)] * n if np.ndim(seed) == 0 else [int(s) for s in seed]
    if len(seeds) != n:
        raise ActmaxError(f"seed needs one value or one per objective ({n}), got {seed!r}")
    if titles is not None and len(titles) != n:
        raise ActmaxError(f"{len(titles)} titles for {n} objectives")
    drawn, (low, high) = _check_generator(generator, tuple(latent_shape))
    lo, hi = (float(v) for v in input_range)
    slack = 1e-3 * (hi - lo)
    if low < lo - slack or high > hi + slack:
        raise ActmaxError(
            f"the generator draws values in [{low:.3g}, {high:.3g}], outside the model's input "
            f"range [{lo:g}, {hi:g}]: scale its output, or pass input_range"
        )
    adapter = as_adapter(model, input_shape=input_shape, preprocess=preprocess)
    takes = adapter.input_shape
    if takes is not None and tuple(takes) != drawn:
        raise ActmaxError(
            f"the generator draws images of shape {drawn}; the model takes {tuple(takes)}"
        )
    shared = dict(input_range=input_range, device=device, progress=progress)
    search = visualize(
        adapter,
        [obj for obj in objectives for _ in range(k)],
        recipe=ACTMAX.replace(name="generator prior: search", relative_weights=False),
        param=Latent(generator, tuple(latent_shape)),
        regularizers=[LatentPrior(prior.latent_weight)],
        transforms=[],
        iterations=prior.iterations,
        seed=[s * k + j for s in seeds for j in range(k)],
        **shared,
    )
    best = np.asarray(search.activations).reshape(n, k).argmax(1) + np.arange(n) * k
    found = search[best.tolist()]  # the chosen start of every objective
    found.recipe = "generator prior"
    if titles is not None:
        found.titles = list(titles)
    if prior.polish == 0:
        return found
    polished = visualize(
        adapter,
        objectives,
        recipe=ACTMAX.replace(name="generator prior", relative_weights=False),
        param=Pixels(),
        regularizers=[],
        transforms=[],
        optimizer=Adam(lr=prior.polish_lr, final_lr=0.0),
        iterations=prior.polish,
        seed=seeds,
        seed_input=found.inputs,
        titles=titles if titles is not None else found.titles,
        **shared,
    )
    polished.history = {
        "objective": np.concatenate([found.history["objective"], polished.history["objective"]]),
        "latent": np.concatenate(
            [found.history["latent"], np.full_like(polished.history["objective"], np.nan)]
        ),
        "loss": np.concatenate([found.history["loss"], polished.history["loss"]]),
    }
    return polished


def _check_generator(
    generator: nn.Module, latent_shape: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[float, float]]:
    """One code (the prior's mean) through the generator before any work: a wrong latent shape
    or a generator that does not draw (N, C, H, W) images is one clear error, not torch's.
    Returns one image's shape and the image's lowest and highest value."""
    if not isinstance(generator, nn.Module):
        raise ActmaxError(f"the generator must be a torch module, got {type(generator).__name__}")
    where = next(generator.parameters(), torch.empty(0))
    code = torch.zeros(1, *latent_shape, dtype=where.dtype, device=where.device)
    try:
        with preserved_state(generator), torch.no_grad():  # eval: a probe must not move BN
            image = generator.eval()(code)
    except Exception as error:
        raise ActmaxError(
            f"the generator does not take codes of shape {latent_shape}: "
            f"{str(error).splitlines()[0]}"
        ) from None
    if not isinstance(image, torch.Tensor) or image.dim() != 4:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ActmaxError(f"the generator must draw images (N, C, H, W), got {shape}")
    return tuple(image.shape[1:]), (float(image.min()), float(image.max()))
