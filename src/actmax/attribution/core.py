"""What every attribution method shares: the result type, input checks, targets, one pass.

A target is what the map explains. It is given as an `actmax.objectives.Objective` (a class
logit, a unit, a channel, a combination), as an int class index, as one of those per image, or
left out (`None`) to explain each image's predicted class. An int `k` means `logit(k)`: the
k-th pre-softmax output of the layer that makes the model's output, by the same rules as
activation maximization, so a softmax never mixes the other classes into the explanation (and a
softmax computed inside `forward` is refused with an error that says the fix).

Every method runs on an isolated view of the model (`ModelAdapter.isolated`): the caller's
module is never switched to eval mode, hooked or moved, not even for the length of the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch

from ..adapters import LayerRef, ModelAdapter, as_adapter
from ..adapters.preprocess import Preprocess
from ..errors import ActmaxError
from ..objectives import BatchObjective, Objective, logit

Target = int | Objective | Sequence[int | Objective] | np.ndarray | torch.Tensor | None


@dataclass(frozen=True, eq=False)
class Attribution:
    """Heat maps explaining a batch of predictions, as plain arrays.

    maps: (N, *input_spatial) float32, one map per image at the input's resolution; each map is
        scaled to [0, 1] by its own min and max (a constant map becomes 0) unless
        `normalize=False` was asked for.
    raw: the values before reduction. Saliency: the signed gradient (times the input for
        `gradxinput`), shape (N, C, *input_spatial). Grad-CAM: the weighted sum of the layer's
        feature maps before ReLU and upsampling, shape (N, *layer_spatial).
    method: the method's name. targets: what each row explains (e.g. "class 7").
    predictions: the model's predicted class per image (argmax of its output), or None when the
        output is not one score per class. layer: the layer Grad-CAM used (None for saliency).
    """

    maps: np.ndarray
    raw: np.ndarray
    method: str
    targets: tuple[str, ...]
    predictions: np.ndarray | None
    layer: str | None = None

    def __len__(self) -> int:
        return len(self.maps)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.maps if dtype is None else self.maps.astype(dtype)


def prepare(model, images, preprocess: Preprocess | None = None) -> ModelAdapter:
    """The adapter for `model`, told the input shape by `images` when it does not know it.

    model: a torch module, Keras model, path or adapter (see `actmax.as_adapter`).
    images: a batch (N, C, H, W) or one image (C, H, W).
    preprocess: a differentiable step in front of the model (e.g. `Normalize(mean, std)`).
    """
    adapter = as_adapter(model, preprocess=preprocess)
    if adapter.input_shape is None:
        shape = tuple(images.shape) if hasattr(images, "shape") else np.shape(images)
        if len(shape) >= 3:
            adapter = as_adapter(adapter, input_shape=shape if len(shape) == 3 else shape[1:])
    return adapter


def as_batch(images, adapter: ModelAdapter) -> torch.Tensor:
    """Images as a float batch (N, C, ...) on the model's device; one image gets a batch axis.

    images: (N, C, H, W) or one image (C, H, W) (with the adapter's input shape, any layout
        it names). adapter: the model, for its input shape, device and dtype.

    Values are taken as they are (no rescaling of uint8): give what the model was trained on,
    in pixel space when the adapter has a `preprocess` step.
    """
    if isinstance(images, torch.Tensor):
        x = images.detach()
    else:
        try:
            x = torch.from_numpy(np.asarray(images, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise ActmaxError(f"images must be an array of numbers ({exc})") from None
    shape = tuple(x.shape)
    expected = adapter.input_shape
    if expected is not None:
        expected = tuple(expected)
        if shape == expected:
            x = x.unsqueeze(0)
        elif len(shape) != len(expected) + 1 or shape[1:] != expected:
            hint = ""
            if len(shape) >= 3 and shape[-1] == expected[0] and shape[-3:-1] == expected[1:]:
                hint = "; move the channel axis first (channels-first, as in PyTorch)"
            raise ActmaxError(
                f"images have shape {shape}, but this model takes {expected} per image or a "
                f"batch of shape (N, {', '.join(map(str, expected))}){hint}"
            )
    elif x.ndim == 3:  # one image (C, H, W), as the functions promise
        x = x.unsqueeze(0)
    elif x.ndim < 3:
        raise ActmaxError(
            f"images have shape {shape}; attribution needs a batch (N, C, H, W) "
            "(or tell the adapter the input shape: as_adapter(model, input_shape=...))"
        )
    if x.shape[0] == 0:
        raise ActmaxError("no images given")
    if not x.is_floating_point():
        x = x.float()
    if not torch.isfinite(x).all():
        raise ActmaxError("images contain NaN or infinite values")
    return x.to(device=adapter.device, dtype=adapter.dtype)


def class_objective(adapter: ModelAdapter, index: int) -> Objective:
    """The logit of class `index`: `logit(index)`, named "class {index}".

    adapter: the model (kept for callers; the logit is read by the rules of `logit`).
    index: the class.
    """
    return logit(index).named(f"class {index}")


def resolve_targets(target: Target, n: int, adapter: ModelAdapter) -> list[Objective] | None:
    """One objective per image; None means "the predicted class", known after the forward pass."""
    if target is None:
        return None
    if isinstance(target, torch.Tensor | np.ndarray):
        target = target.tolist()
    if isinstance(target, Integral | Objective) and not isinstance(target, bool):
        return [_one_target(target, adapter)] * n
    if isinstance(target, Sequence) and not isinstance(target, str):
        if len(target) != n:
            raise ActmaxError(f"{len(target)} targets for {n} images: give one per image or one")
        return [_one_target(t, adapter) for t in target]
    raise _bad_target(target)


def _one_target(target, adapter: ModelAdapter) -> Objective:
    if isinstance(target, Objective):
        return target
    if isinstance(target, Integral) and not isinstance(target, bool):
        return class_objective(adapter, int(target))
    raise _bad_target(target)


def _bad_target(target) -> ActmaxError:
    return ActmaxError(
        f"a target is a class index, an actmax Objective, a list of those (one per image) or "
        f"None for the predicted class; got {target!r}"
    )


def predicted_classes(output: torch.Tensor) -> torch.Tensor:
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ActmaxError(
            f"the model's output has shape {shape}, not one score per class; give a target "
            "(e.g. an actmax Objective) instead of explaining the predicted class"
        )
    return output.detach().argmax(1)


@dataclass
class Pass:
    """One forward pass with the targets evaluated: `values` is (N,), one target per row."""

    output: torch.Tensor
    values: torch.Tensor
    objectives: list[Objective]
    acts: dict[LayerRef, torch.Tensor]

    @property
    def predictions(self) -> np.ndarray | None:
        out = self.output
        if isinstance(out, torch.Tensor) and out.ndim == 2:
            return out.detach().argmax(1).cpu().numpy()
        return None

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(obj.name for obj in self.objectives)


def target_refs(objectives: list[Objective] | None, adapter: ModelAdapter) -> list[LayerRef]:
    """The activations the targets read (for None: the logits every class target reads)."""
    probe = objectives if objectives is not None else [class_objective(adapter, 0)]
    return BatchObjective(probe, adapter).refs


def forward(
    adapter: ModelAdapter,
    x: torch.Tensor,
    objectives: list[Objective] | None,
    extra_refs: Iterable[LayerRef] = (),
) -> Pass:
    """Run the model once and evaluate each row's target (the predicted class when None)."""
    output, acts = adapter.run(x, [*target_refs(objectives, adapter), *extra_refs])
    if objectives is None:
        objectives = [class_objective(adapter, int(c)) for c in predicted_classes(output)]
    values = BatchObjective(objectives, adapter)(acts)
    return Pass(output, values, objectives, acts)


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map to [0, 1] by its own min and max; a constant map becomes all zeros."""
    flat = maps.flatten(1)
    low = flat.min(1).values
    span = flat.max(1).values - low
    shape = (-1,) + (1,) * (maps.ndim - 1)
    scaled = (maps - low.view(shape)) / torch.where(span > 0, span, 1).view(shape)
    return torch.where(span.view(shape) > 0, scaled, torch.zeros_like(scaled))


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).cpu().numpy()
