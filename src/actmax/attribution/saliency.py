"""Saliency: how strongly each pixel moves the target, from one batched backward pass.

The map is keras-vis' `visualize_saliency`: the absolute gradient of the target with respect to
the input, its maximum over channels, scaled to [0, 1] per image. The methods differ only in the
gradient (or attribution) that is reduced:

- vanilla: d target / d input (Simonyan et al. 2014);
- guided, rectified: the same through ReLUs changed as in `actmax.attribution.backprop`;
- smoothgrad: the mean gradient over `samples` noisy copies of each image, noise
  N(0, (noise * (max - min))^2) with the image's own value range (Smilkov et al. 2017);
- gradxinput: gradient times input (Shrikumar et al. 2016).
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch
from torch import nn

from ..adapters import ModelAdapter
from ..adapters.preprocess import Preprocess
from ..devices import resolve_device
from ..errors import ActmaxError
from .backprop import relu_backprop
from .core import (
    Attribution,
    Pass,
    Target,
    as_batch,
    forward,
    minmax,
    prepare,
    resolve_targets,
    to_numpy,
)

SALIENCY_METHODS = ("vanilla", "guided", "rectified", "smoothgrad", "gradxinput")


def saliency(
    model: nn.Module | ModelAdapter | str | os.PathLike,
    images,
    target: Target = None,
    *,
    method: str = "vanilla",
    normalize: bool = True,
    noise: float = 0.15,
    samples: int = 25,
    seed: int | None = 0,
    batch_size: int | None = None,
    preprocess: Preprocess | None = None,
    device: str | torch.device | None = None,
) -> Attribution:
    """Saliency maps for a batch of images (N, C, H, W) or one image (C, H, W).

    model: a torch module, a Keras model, a path to a model (run folder, `.keras`, `.onnx`,
        `.pt2`) or an adapter. It is left untouched: the maps come from a frozen view of it.
    images: what the model takes (channels first), in pixel space when `preprocess` is given.
    target: a class index (its logit), an `Objective`, one of those per image, or None for each
        image's predicted class.
    method: one of `SALIENCY_METHODS`.
    normalize: scale each map to [0, 1] by its own min and max (False: raw magnitudes).
    noise, samples, seed: SmoothGrad's noise level (a fraction of each image's value range),
        number of noisy copies, and the seed that makes them reproducible (None: fresh noise).
    batch_size: SmoothGrad's most rows per forward/backward pass (None: all N * samples).
    preprocess: a differentiable step in front of the model (e.g. `Normalize(mean, std)`), so
        the gradient is taken with respect to the pixels.
    device: where to compute (default: where the model is); the model's tensors are copied
        there for the call, the model itself is not moved.
    """
    if method not in SALIENCY_METHODS:
        raise ActmaxError(
            f"unknown saliency method {method!r}; choose from {', '.join(SALIENCY_METHODS)}"
        )
    adapter = prepare(model, images, preprocess)
    rule = method if method in ("guided", "rectified") else None
    with adapter.isolated(resolve_device(device) if device is not None else None) as view:
        x = as_batch(images, view)
        objectives = resolve_targets(target, len(x), view)
        with torch.enable_grad(), relu_backprop(view.model, rule) if rule else nullcontext():
            if method == "smoothgrad":
                grad, run = _smooth_gradient(view, x, objectives, noise, samples, seed, batch_size)
            else:
                grad, run = _input_gradient(view, x, objectives)
    raw = grad * x if method == "gradxinput" else grad
    maps = raw.abs().amax(1)
    if normalize:
        maps = minmax(maps)
    return Attribution(
        maps=to_numpy(maps),
        raw=to_numpy(raw),
        method=method,
        targets=run.target_names,
        predictions=run.predictions,
    )


def _input_gradient(adapter, x, objectives) -> tuple[torch.Tensor, Pass]:
    x = x.clone().requires_grad_(True)
    run = forward(adapter, x, objectives)
    (grad,) = torch.autograd.grad(run.values.sum(), x)
    return grad, run


def _smooth_gradient(adapter, x, objectives, noise, samples, seed, batch_size):
    """Mean input gradient over noisy copies; targets are fixed on the clean images first."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ActmaxError(f"SmoothGrad needs samples >= 1, got {samples!r}")
    if not noise >= 0:
        raise ActmaxError(f"SmoothGrad's noise level must be >= 0, got {noise!r}")
    if batch_size is not None and batch_size < 1:
        raise ActmaxError(f"batch_size must be >= 1, got {batch_size!r}")
    with torch.no_grad():
        clean = forward(adapter, x, objectives)
    n = len(x)
    flat = x.flatten(1)
    sigma = noise * (flat.max(1).values - flat.min(1).values)
    sigma = sigma.view(-1, *([1] * (x.ndim - 1)))
    generator = None
    if seed is not None:
        generator = torch.Generator(device=x.device).manual_seed(int(seed))
    total = torch.zeros_like(x)
    rows = samples * n
    step = rows if batch_size is None else batch_size
    for start in range(0, rows, step):
        index = torch.arange(start, min(start + step, rows), device=x.device) % n
        eps = torch.randn(
            (len(index), *x.shape[1:]), generator=generator, device=x.device, dtype=x.dtype
        )
        noisy = (x[index] + sigma[index] * eps).requires_grad_(True)
        run = forward(adapter, noisy, [clean.objectives[i] for i in index.tolist()])
        (grad,) = torch.autograd.grad(run.values.sum(), noisy)
        total.index_add_(0, index, grad)
    return total / samples, clean
