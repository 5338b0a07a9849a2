"""Update rules: how the optimized tensor moves, given its gradient.

An optimizer is a small frozen object; `start` makes the per-run state for one tensor. Both rules
here act element-wise or per image, so the rows of a batch never influence one another. Their
step sizes are in units of the parametrization's `scale` (for pixels: the input range), so one
learning rate fits every input range.

- `Adam`: Adam with its step decaying along a half cosine (actmax's recipe).
- `KerasVisRMSProp`: keras-vis' update exactly (gradient L2-normalized per image, RMSProp).
- `TorchOptimizer`: any `torch.optim` optimizer, e.g.
  `TorchOptimizer(lambda params: torch.optim.SGD(params, lr=0.05))`; element-wise ones (SGD,
  Adam, RMSprop...) keep the rows independent, LBFGS would not.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

__all__ = ["Adam", "KerasVisRMSProp", "Optimizer", "Stepper", "TorchOptimizer"]


class Stepper(ABC):
    """The state of one run's optimizer: `step` updates the tensor in place."""

    @abstractmethod
    def step(self, grad: torch.Tensor, t: int) -> None:
        """Apply the update for step `t` (0-based) given the loss gradient `grad`."""


class Optimizer(ABC):
    """An update rule; `start` binds it to the tensor of one run."""

    @abstractmethod
    def start(self, param: torch.Tensor, iterations: int, scale: float) -> Stepper:
        """State for optimizing `param` (a leaf tensor) over `iterations` steps; `scale` is the
        parametrization's unit (tensor units that move the image across its range)."""


@dataclass(frozen=True)
class Adam(Optimizer):
    """Adam whose step decays from `lr` to `lr * final_lr` along a half cosine; `lr` and `eps`
    are in units of the parametrization's scale (for pixels: a fraction of the input range)."""

    lr: float = 0.1
    betas: tuple[float, float] = field(default=(0.9, 0.999))
    eps: float = 1e-8
    final_lr: float = 0.0

    def start(self, param, iterations, scale):
        return _AdamState(self, param, iterations, scale)


class _AdamState(Stepper):
    def __init__(self, rule: Adam, param: torch.Tensor, iterations: int, scale: float):
        self.param, self.betas, self.eps = param, rule.betas, rule.eps * scale
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        cosine = [0.5 * (1 + math.cos(math.pi * t / iterations)) for t in range(iterations)]
        self.rates = [scale * rule.lr * (rule.final_lr + (1 - rule.final_lr) * c) for c in cosine]

    @torch.no_grad()
    def step(self, grad, t):
        b1, b2 = self.betas
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        correction1 = 1 - b1 ** (t + 1)
        correction2 = 1 - b2 ** (t + 1)
        denom = (self.v / correction2).sqrt_().add_(self.eps)
        self.param.addcdiv_(self.m, denom, value=-self.rates[t] / correction1)


@dataclass(frozen=True)
class KerasVisRMSProp(Optimizer):
    """keras-vis' update: g <- g/||g|| per image; cache <- d*cache + (1-d)*g^2;
    x <- x - step * g / sqrt(cache + eps), in the tensor's own units (keras-vis ignores the
    input range)."""

    decay: float = 0.95
    eps: float = 1e-7
    step_size: float = 1.0

    def start(self, param, iterations, scale):
        return _KerasVisState(self, param)


class _KerasVisState(Stepper):
    def __init__(self, rule: KerasVisRMSProp, param: torch.Tensor):
        self.param, self.rule = param, rule
        self.cache = torch.zeros_like(param)

    @torch.no_grad()
    def step(self, grad, t):
        # tf.nn.l2_normalize: g * rsqrt(max(sum(g^2), 1e-12)), here per image
        sq = grad.flatten(1).square().sum(1).clamp_min(1e-12)
        g = grad * sq.rsqrt().view((-1,) + (1,) * (grad.dim() - 1))
        decay = self.rule.decay
        self.cache.mul_(decay).addcmul_(g, g, value=1.0 - decay)
        self.param.addcdiv_(g, (self.cache + self.rule.eps).sqrt_(), value=-self.rule.step_size)


@dataclass(frozen=True)
class TorchOptimizer(Optimizer):
    """Any `torch.optim` optimizer: `factory(params)` builds it (its learning rate is in the
    tensor's own units)."""

    factory: Callable[[Iterable[torch.Tensor]], torch.optim.Optimizer]

    def start(self, param, iterations, scale):
        return _TorchState(self.factory([param]), param)


class _TorchState(Stepper):
    def __init__(self, optimizer: torch.optim.Optimizer, param: torch.Tensor):
        self.optimizer, self.param = optimizer, param

    def step(self, grad, t):
        self.param.grad = grad
        self.optimizer.step()
        self.param.grad = None
