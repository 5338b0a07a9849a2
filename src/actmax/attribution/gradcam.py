"""Grad-CAM and Grad-CAM++: which regions of the image a layer's evidence for the target sits in.

Grad-CAM (Selvaraju et al. 2017) weighs each channel of a spatial layer's output A by the mean
gradient of the target over that channel, w_c = mean_ij dT/dA_cij, and keeps the positive part of
sum_c w_c A_c. For a network that ends in global average pooling and a dense layer this is the
original CAM (Zhou et al. 2016), sum_c W_kc A_c, divided by the number of positions.

Grad-CAM++ (Chattopadhyay et al. 2018) weighs positions inside each channel instead,
w_c = sum_ij alpha_cij relu(g_cij) with alpha = g^2 / (2 g^2 + sum_ij A_cij g^3), g = dT/dA:
the paper's closed form for an exponential of the target, whose positive per-image factor exp(T)
is left out (it cancels in the normalized map).

Weights are computed per image (keras-vis averages them over the batch, which mixes images).
The map is upsampled to the input's size ((bi/tri)linear), then scaled to [0, 1] per image.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from ..adapters import LayerRef, ModelAdapter, RepeatedCallError
from ..adapters.preprocess import Preprocess
from ..devices import resolve_device
from ..errors import ActmaxError
from .core import (
    Attribution,
    Pass,
    Target,
    as_batch,
    forward,
    minmax,
    prepare,
    resolve_targets,
    target_refs,
    to_numpy,
)

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def grad_cam(
    model: nn.Module | ModelAdapter | str | os.PathLike,
    images,
    target: Target = None,
    *,
    layer: str | int | None = None,
    plus_plus: bool = False,
    normalize: bool = True,
    preprocess: Preprocess | None = None,
    device: str | torch.device | None = None,
) -> Attribution:
    """Grad-CAM (or Grad-CAM++) maps for a batch of images (N, C, H, W) or one image (C, H, W).

    model: a torch module, a Keras model, a path to a model or an adapter; left untouched.
    images: what the model takes (channels first), in pixel space when `preprocess` is given.
    target: as for `saliency`.
    layer: a layer name or Keras-style index; None picks the last layer with spatial extent
        (more than one position) before the target's layer, as keras-vis does, skipping
        modules the model runs more than once; `Attribution.layer` says which one was used.
    plus_plus: Grad-CAM++'s weights instead of Grad-CAM's.
    normalize: scale each map to [0, 1] by its own min and max.
    preprocess: a differentiable step in front of the model (e.g. `Normalize(mean, std)`).
    device: where to compute (default: where the model is); the model is not moved.
    """
    adapter = prepare(model, images, preprocess)
    with adapter.isolated(resolve_device(device) if device is not None else None) as view:
        x = as_batch(images, view)
        objectives = resolve_targets(target, len(x), view)
        if layer is None:
            candidates = _layers_before_target(view, objectives)
        else:
            candidates = [view.resolve(layer)]
        with torch.enable_grad():
            x = x.clone().requires_grad_(True)
            run, refs = _forward(view, x, objectives, candidates, explicit=layer is not None)
            name = _pick_layer(run.acts, refs, explicit=layer is not None)
            acts = run.acts[LayerRef(name)]
            (grads,) = torch.autograd.grad(run.values.sum(), acts, allow_unused=True)
    if grads is None:
        raise ActmaxError(f"the target does not depend on layer {name!r}; pick a layer before it")
    acts, grads = acts.detach(), grads.detach()
    raw = _cam(acts, grads, plus_plus)
    cam = F.interpolate(
        raw.clamp(min=0).unsqueeze(1),
        size=tuple(x.shape[2:]),
        mode=_MODES.get(raw.ndim - 1, "nearest"),
        align_corners=None if raw.ndim - 1 not in _MODES else False,
    ).squeeze(1)
    if normalize:
        cam = minmax(cam)
    return Attribution(
        maps=to_numpy(cam),
        raw=to_numpy(raw),
        method="gradcam++" if plus_plus else "gradcam",
        targets=run.target_names,
        predictions=run.predictions,
        layer=name,
    )


def _forward(
    adapter: ModelAdapter, x: torch.Tensor, objectives, candidates: list[str], explicit: bool
) -> tuple[Pass, list[LayerRef]]:
    """One pass recording the candidate layers; a candidate the model runs more than once has
    no single activation, so it is dropped from an automatic choice (and refused if named)."""
    refs = [LayerRef(name) for name in candidates]
    while True:
        try:
            return forward(adapter, x, objectives, refs), refs
        except RepeatedCallError as error:
            dropped = [ref for ref in error.calls if ref in refs]
            if explicit or not dropped or len(dropped) < len(error.calls):
                raise
            refs = [ref for ref in refs if ref not in dropped]


def grad_cam_plus_plus(
    model: nn.Module | ModelAdapter | str | os.PathLike,
    images,
    target: Target = None,
    *,
    layer: str | int | None = None,
    normalize: bool = True,
    preprocess: Preprocess | None = None,
    device: str | torch.device | None = None,
) -> Attribution:
    """Grad-CAM++ maps: `grad_cam(..., plus_plus=True)`; every parameter as for `grad_cam`."""
    return grad_cam(
        model,
        images,
        target,
        layer=layer,
        plus_plus=True,
        normalize=normalize,
        preprocess=preprocess,
        device=device,
    )


def _cam(acts: torch.Tensor, grads: torch.Tensor, plus_plus: bool) -> torch.Tensor:
    """The weighted sum of feature maps, sum_c w_c A_c, before ReLU: (N, *layer_spatial)."""
    spatial = tuple(range(2, acts.ndim))
    if plus_plus:
        g2 = grads.pow(2)
        denominator = 2 * g2 + acts.sum(spatial, keepdim=True) * g2 * grads
        alpha = torch.where(denominator != 0, g2 / torch.where(denominator != 0, denominator, 1), 0)
        weights = (alpha * grads.clamp(min=0)).sum(spatial, keepdim=True)
    else:
        weights = grads.mean(spatial, keepdim=True)
    return (weights * acts).sum(1)


def _layer_position(names: list[str], name: str) -> int:
    """Keras-style index of a layer; a nested module counts as its top-level layer."""
    if name in names:
        return names.index(name)
    top = name.split(".")[0]
    return names.index(top) if top in names else len(names)


def _layers_before_target(adapter: ModelAdapter, objectives) -> list[str]:
    names = adapter.layer_names()
    first = min(_layer_position(names, ref.name) for ref in target_refs(objectives, adapter))
    return names[1:first]


def _is_spatial(act) -> bool:
    return isinstance(act, torch.Tensor) and act.ndim >= 3 and math.prod(act.shape[2:]) > 1


def _pick_layer(acts: dict, refs: list[LayerRef], explicit: bool) -> str:
    if explicit:
        ref = refs[0]
        act = acts.get(ref)
        if act is None:
            raise ActmaxError(f"layer {ref.name!r} did not run in the model's forward pass")
        if not _is_spatial(act):
            shape = tuple(act.shape[1:]) if isinstance(act, torch.Tensor) else type(act).__name__
            raise ActmaxError(
                f"Grad-CAM needs a layer with spatial extent (channels x positions); {ref.name!r} "
                f"has output shape {shape}: pick a convolution or pooling layer"
            )
        return ref.name
    for ref in reversed(refs):
        if _is_spatial(acts.get(ref)):
            return ref.name
    raise ActmaxError(
        "no layer with spatial extent comes before the target, so Grad-CAM has nothing to "
        "weigh; pass layer=... (a convolution or pooling layer)"
    )
