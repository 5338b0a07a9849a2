"""keras-vis' `vis.optimizer.Optimizer`, run by actmax's engine.

`Optimizer(input_tensor, losses).minimize(...)` is keras-vis' loop: the weighted losses become
actmax's parts (`vis.graph`), and `actmax.visualize` runs them with the `keras-vis` recipe, whose
update rule is keras-vis' (gradient L2-normalized, RMSProp with decay 0.95, step 1 in input
units). The update rule here adds what keras-vis did between gradient and step: `norm_grads`,
the `grad_modifier` and the callbacks. `input_modifiers` become transforms (`Jitter`) or run on
the stored image (any other modifier).

With a `wrt_tensor` other than the input (keras-vis' gradients with respect to a layer's
output) nothing is optimized: keras-vis then repeated the same evaluation `max_iter` times, so
here it is evaluated once and the callbacks see it `max_iter` times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...engine import Step, visualize
from ...errors import ActmaxError
from ...optimizers import KerasVisRMSProp, Stepper
from ...optimizers import Optimizer as UpdateRule
from ...param import Pixels, default_seed
from ...recipes import KERAS_VIS
from . import grad_modifiers
from .callbacks import OptimizerCallback, Print, model_layout
from .common import as_batch, check_range, layout
from .graph import bind
from .input_modifiers import InputModifier, ModifiedPixels
from .tensors import Handle, is_keras_tensor
from .utils import utils

__all__ = ["MINIMIZE_OPTIONS", "Optimizer"]

#: the keyword arguments `Optimizer.minimize` takes (keras-vis' `optimizer_params`)
MINIMIZE_OPTIONS = frozenset(
    {
        "seed_input",
        "max_iter",
        "input_modifiers",
        "grad_modifier",
        "callbacks",
        "verbose",
        "seed",
        "progress",
    }
)

# keras-vis' modifiers by function, applied to torch tensors directly; others get numpy arrays
_ELEMENTWISE = {
    getattr(grad_modifiers, name)
    for name in ("negate", "absolute", "invert", "relu", "small_values")
}


class WrtTensor:
    """The tensor gradients are taken with respect to (keras-vis' `wrt_tensor`), compared by
    identity as keras-vis' graph tensors were."""

    def __init__(self, tensor: Any, is_input: bool):
        self.tensor, self.is_input = tensor, is_input

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"WrtTensor({'the input' if self.is_input else self.tensor!r})"


class Optimizer:
    """Minimizes `sum(weight * loss)` over the model's input.

    Args:
        input_tensor: `model.input` of a Keras model, `utils.model_input(model)`, or the model.
        losses: `(Loss, weight)` pairs.
        input_range: the model's input range (it sets the random start and the scale of the
            returned image).
        wrt_tensor: None (the input) or a layer's output to take gradients with respect to.
        norm_grads: L2-normalize the gradient before the update.
    """

    def __init__(
        self,
        input_tensor: Any,
        losses: Sequence[tuple[Any, float]],
        input_range=(0, 255),
        wrt_tensor: Any = None,
        norm_grads: bool = True,
    ):
        self.input_tensor = input_tensor
        self.input_range = input_range
        self.norm_grads = norm_grads
        self.bound = bind(input_tensor, losses)
        self.loss_names = [entry.loss.name for entry in self.bound.entries]
        if not (
            wrt_tensor is None or is_keras_tensor(wrt_tensor) or isinstance(wrt_tensor, Handle)
        ):
            raise ActmaxError(
                "wrt_tensor is a model tensor: layer.output (Keras) or utils.layer_output(model, "
                f"i); got {type(wrt_tensor).__name__}"
            )
        is_input = (
            wrt_tensor is None
            or wrt_tensor is input_tensor
            or wrt_tensor is self.bound.keras_input
            or _is_input(wrt_tensor)
        )
        self.wrt_tensor_is_input_tensor = is_input
        self.wrt_tensor = WrtTensor(input_tensor if is_input else wrt_tensor, is_input)

    @property
    def channels_last(self) -> bool:
        """Whether the model (and so `minimize`'s arrays) is channels-last."""
        return layout(self.bound.adapter)

    def minimize(
        self,
        seed_input: Any = None,
        max_iter: int = 200,
        input_modifiers: Sequence[InputModifier] | None = None,
        grad_modifier: str | Callable | None = None,
        callbacks: Sequence[OptimizerCallback] | None = None,
        verbose: bool = True,
        *,
        seed: int = 0,
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Optimize for `max_iter` steps.

        Args:
            seed_input: the start image, in the model's layout (default: keras-vis' noise
                from `seed`).
            max_iter: the number of steps.
            input_modifiers: `vis.input_modifiers` objects (e.g. `Jitter`).
            grad_modifier: what is done to the gradient before each step (a name of
                `vis.grad_modifiers`, a function, or None).
            callbacks: `vis.callbacks` objects, called after every step.
            verbose: print every step's losses (`callbacks.Print`).
            seed: the random start and draws (actmax's).
            progress: a progress bar (actmax's).

        Returns:
            `(image, grads, wrt_value)`: the lowest-loss input, contrast-stretched into
            `input_range` (keras-vis' `deprocess_input`), in the model's layout without the
            batch axis; the last step's gradient and input, with the batch axis.
        """
        lo, hi = check_range(self.input_range)
        callbacks = list(callbacks or []) + ([Print()] if verbose else [])
        modifier = None if grad_modifier is None else grad_modifiers.get(grad_modifier)
        adapter = self.bound.adapter
        start = None if seed_input is None else as_batch(seed_input, adapter)
        with model_layout(self.channels_last):
            if self.wrt_tensor_is_input_tensor:
                image, grads, wrt_value = self._optimize(
                    start, int(max_iter), input_modifiers or [], modifier, callbacks, seed, progress
                )
            else:
                image, grads, wrt_value = self._evaluate(
                    start, int(max_iter), modifier, callbacks, seed
                )
            for callback in callbacks:
                callback.on_end()
        image = (hi - lo) * image + lo
        return image, grads, wrt_value

    # -- the input is optimized ---------------------------------------------------------------
    def _optimize(self, start, iterations, modifiers, modifier, callbacks, seed, progress):
        bound, adapter = self.bound, self.bound.adapter
        lo, hi = check_range(self.input_range)
        objective, act_weight = bound.maximized()
        to_model, from_model = self._to_model, self._from_model
        shape = adapter.input_shape
        spatial = tuple(shape[1:]) if shape is not None and len(shape) > 1 else ()
        transforms, stored = [], []
        for m in modifiers:
            if not isinstance(m, InputModifier):
                raise TypeError(f"input_modifiers are InputModifier objects, got {m!r}")
            t = m.transform(spatial) if spatial else None
            (transforms if t is not None else stored).append(t if t is not None else m)
        param = ModifiedPixels(stored, iterations, to_model, from_model) if stored else None
        watch = _Watch(bound, act_weight, callbacks, to_model, iterations)
        rule = _KerasVisUpdate(
            self.norm_grads, modifier, watch.after_gradient, watch.watches, to_model, from_model
        )
        recipe = KERAS_VIS.replace(
            param=param or Pixels(clamp=False),
            optimizer=rule,
            regularizers=bound.regularizers(),
            transforms=transforms,
        )
        result = visualize(
            adapter,
            objective,
            recipe=recipe,
            iterations=iterations,
            input_range=(lo, hi),
            act_weight=act_weight,
            seed=seed,
            seed_input=start,
            progress=progress,
            callback=watch.on_step if callbacks else None,
        )
        image = result.images[0]  # channels-last display in [0, 1]
        if not self.channels_last and image.ndim >= 3:
            image = np.moveaxis(image, -1, 0)
        return image, _numpy(watch.grads), _numpy(watch.wrt_value)

    # -- gradients with respect to another tensor -----------------------------------------------
    def _evaluate(self, start, iterations, modifier, callbacks, seed):
        bound, adapter = self.bound, self.bound.adapter
        lo, hi = check_range(self.input_range)
        if start is None:
            generator = torch.Generator().manual_seed(int(seed))
            start = default_seed(adapter.input_shape, (lo, hi), generator)[None]
        x = start.to(adapter.device, adapter.dtype).requires_grad_(True)  # so the graph is kept
        wrt = self.wrt_tensor.tensor
        with adapter.frozen(), torch.enable_grad():
            values, wrt_value = bound.values_with(x, wrt)
            overall = sum((e.weight * v for e, v in zip(bound.entries, values, strict=True)), 0.0)
            (grads,) = torch.autograd.grad(overall, wrt_value, allow_unused=True)
        values, overall = [v.detach() for v in values], float(overall.detach())
        grads = torch.zeros_like(wrt_value) if grads is None else grads.detach()
        wrt_value = wrt_value.detach()  # Keras computes in its own layout, PyTorch channels-first
        if self.norm_grads:
            grads = grads * grads.square().sum().clamp_min(1e-12).rsqrt()
        grads = _modified(grads, modifier, _same, _same)
        named = [
            (e.loss.name, e.weight * float(v)) for e, v in zip(bound.entries, values, strict=True)
        ]
        grads_np, wrt_np = _numpy(grads), _numpy(wrt_value)
        for i in range(iterations):
            for callback in callbacks:
                callback.callback(i, named, overall, grads_np, wrt_np)
        image = utils.deprocess_input(_numpy(self._to_model(x.detach()))[0], (0.0, 1.0))
        return image, grads_np, wrt_np

    def _to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x.movedim(1, -1) if self.channels_last and x.dim() >= 3 else x

    def _from_model(self, x: torch.Tensor) -> torch.Tensor:
        return x.movedim(-1, 1) if self.channels_last and x.dim() >= 3 else x


def _is_input(tensor: Any) -> bool:
    return isinstance(tensor, Handle) and tensor.is_input


class _Watch:
    """Collects each step for keras-vis' callbacks and keeps the last gradient and input."""

    def __init__(self, bound, act_weight: float, callbacks, to_model, iterations: int):
        self.bound, self.act_weight, self.callbacks = bound, act_weight, callbacks
        self.to_model, self.last = to_model, iterations - 1
        self.step: Step | None = None
        self.grads: torch.Tensor | None = None
        self.wrt_value: torch.Tensor | None = None

    def on_step(self, step: Step) -> None:
        self.step = step

    def watches(self, t: int) -> bool:
        """Whether step `t` is seen: by the callbacks, or as the last step (returned)."""
        return bool(self.callbacks) or t == self.last

    def after_gradient(self, t: int, grads: torch.Tensor, x: torch.Tensor) -> None:
        self.grads, self.wrt_value = self.to_model(grads), self.to_model(x.detach().clone())
        if not self.callbacks or self.step is None:
            return
        named = self.bound.named_losses(self.step, self.act_weight)
        overall = float(self.step.loss[0])
        grads_np, wrt_np = _numpy(self.grads), _numpy(self.wrt_value)
        for callback in self.callbacks:
            callback.callback(t, named, overall, grads_np, wrt_np)


@dataclass(frozen=True)
class _KerasVisUpdate(UpdateRule):
    """keras-vis' update, with what it did between gradient and step: L2-normalize (when
    `norm_grads`), `grad_modifier`, callbacks (`observe(t, grads, x)`), then RMSProp."""

    norm_grads: bool
    modifier: Callable | None
    observe: Callable[[int, torch.Tensor, torch.Tensor], None]
    watched: Callable[[int], bool]
    to_model: Callable[[torch.Tensor], torch.Tensor]
    from_model: Callable[[torch.Tensor], torch.Tensor]

    def start(self, param, iterations, scale):
        return _KerasVisUpdateState(self, param, iterations, scale)


class _KerasVisUpdateState(Stepper):
    def __init__(self, rule: _KerasVisUpdate, param: torch.Tensor, iterations: int, scale: float):
        self.rule, self.param = rule, param
        self.rmsprop = KerasVisRMSProp()
        # the plain keras-vis step is actmax's own rule, untouched
        self.plain = rule.norm_grads and rule.modifier is None
        self.state = self.rmsprop.start(param, iterations, scale) if self.plain else None
        self.cache = torch.zeros_like(param)

    @torch.no_grad()
    def step(self, grad: torch.Tensor, t: int) -> None:
        rule = self.rule
        if self.plain:  # the gradient as keras-vis used it is made only for an observer
            if rule.watched(t):
                rule.observe(t, _l2_normalized(grad), self.param)
            self.state.step(grad, t)
            return
        g = _l2_normalized(grad) if rule.norm_grads else grad
        g = _modified(g, rule.modifier, rule.to_model, rule.from_model)
        if rule.watched(t):
            rule.observe(t, g, self.param)
        decay = self.rmsprop.decay
        self.cache.mul_(decay).addcmul_(g, g, value=1.0 - decay)
        self.param.addcdiv_(g, (self.cache + self.rmsprop.eps).sqrt_(), value=-1.0)


def _l2_normalized(grad: torch.Tensor) -> torch.Tensor:
    """`tf.nn.l2_normalize` per image: g / sqrt(max(sum(g^2), 1e-12))."""
    sq = grad.flatten(1).square().sum(1).clamp_min(1e-12)
    return grad * sq.rsqrt().view((-1,) + (1,) * (grad.dim() - 1))


def _modified(g: torch.Tensor, modifier, to_model, from_model) -> torch.Tensor:
    """`modifier(g)`: keras-vis' own modifiers on the tensor, a user's on a numpy array in the
    model's layout (as keras-vis gave it)."""
    if modifier is None:
        return g
    if modifier in _ELEMENTWISE:
        return modifier(g)
    out = np.asarray(modifier(_numpy(to_model(g))), dtype=np.float32)
    return from_model(torch.from_numpy(np.ascontiguousarray(out))).to(g)


def _same(x: torch.Tensor) -> torch.Tensor:
    return x


def _numpy(x: torch.Tensor | None) -> np.ndarray | None:
    return None if x is None else x.detach().cpu().numpy()
