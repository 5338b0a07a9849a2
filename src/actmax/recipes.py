"""How an input is optimized: keras-vis' algorithm, exactly, and actmax's own.

A recipe holds defaults (iterations, loss weights, transforms) and makes the per-run optimizer
that owns the optimized tensor. Both optimizers act element-wise or per image, so the rows of a
batch never influence one another.

=====================  ========================================  ===================================
                       `keras-vis`                               `actmax`
=====================  ========================================  ===================================
loss                   -act_w*objective + lp_w*Lp + tv_w*TV      the same terms
defaults (act, lp, tv) 1, 10, 10 (Lp with p=6, TV with beta=2)   1, 30, 50 (L1, i.e. p=1; beta 2)
gradient               L2-normalized per image                   as is
update                 RMSProp: decay 0.95, eps 1e-7 inside the  Adam, step 5% of the range, cosine
                       square root, step 1 in input units        decay to 0
range                  not enforced while optimizing             clamped into input_range each step
transforms             none                                      random shifts of up to 2 pixels
returned input         the iterate with the lowest loss          the last iterate
display image          contrast stretch (`deprocess_input`)      the input mapped from input_range
=====================  ========================================  ===================================

keras-vis scored the image *before* each update but stored the image *after* it, so it returned
an image whose loss it never measured. Here every candidate, the final iterate included, is
scored on itself, and the returned input is exactly the one whose loss was lowest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .errors import ActmaxError


class InputOptimizer:
    """Owns the optimized tensor of one run; `input()` maps it to the model's input space."""

    param: torch.Tensor

    def input(self) -> torch.Tensor:
        return self.param

    def step(self, grad: torch.Tensor, t: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Recipe:
    """Defaults shared by both recipes; `visualize()` arguments override them per call."""

    name: str
    iterations: int
    act_weight: float
    tv_weight: float
    lp_weight: float
    tv_beta: float = 2.0
    lp_norm: float = 6.0
    jitter: int = 0
    scale: tuple[float, float] | None = None
    keep_best: bool = False

    def optimizer(
        self, x0: torch.Tensor, input_range: tuple[float, float], iterations: int
    ) -> InputOptimizer:  # pragma: no cover - abstract
        raise NotImplementedError

    def display(self, x: torch.Tensor, input_range: tuple[float, float]) -> torch.Tensor:
        """Display images in [0, 1], same shape as `x`."""
        lo, hi = input_range
        return ((x - lo) / (hi - lo)).clamp(0.0, 1.0)


class RMSPropKerasVis(InputOptimizer):
    """keras-vis' update: g <- g/||g|| per image; cache <- d*cache + (1-d)*g^2;
    x <- x - step * g / sqrt(cache + eps)."""

    def __init__(self, x0: torch.Tensor, decay: float, eps: float, step_size: float):
        self.param = x0.clone().requires_grad_(True)
        self.cache = torch.zeros_like(x0)
        self.decay, self.eps, self.step_size = decay, eps, step_size

    @torch.no_grad()
    def step(self, grad: torch.Tensor, t: int) -> None:
        # tf.nn.l2_normalize: g * rsqrt(max(sum(g^2), 1e-12)), here per image
        sq = grad.flatten(1).square().sum(1).clamp_min(1e-12)
        g = grad * sq.rsqrt().view((-1,) + (1,) * (grad.dim() - 1))
        self.cache.mul_(self.decay).addcmul_(g, g, value=1.0 - self.decay)
        self.param.addcdiv_(g, (self.cache + self.eps).sqrt_(), value=-self.step_size)


@dataclass(frozen=True)
class KerasVisRecipe(Recipe):
    """keras-vis' `visualize_activation`, exactly (see the module docstring)."""

    name: str = "keras-vis"
    iterations: int = 200
    act_weight: float = 1.0
    tv_weight: float = 10.0
    lp_weight: float = 10.0
    keep_best: bool = True
    decay: float = 0.95
    eps: float = 1e-7
    step_size: float = 1.0

    def optimizer(self, x0, input_range, iterations):
        return RMSPropKerasVis(x0, self.decay, self.eps, self.step_size)

    def display(self, x: torch.Tensor, input_range: tuple[float, float]) -> torch.Tensor:
        return deprocess_input(x)


def deprocess_input(x: torch.Tensor) -> torch.Tensor:
    """keras-vis' contrast stretch per image, all channels jointly: standardize, x0.1, +0.5,
    clip to [0, 1] (keras-vis then rescales to input_range; display images stay in [0, 1])."""
    flat = x.flatten(1)
    mean = flat.mean(1, keepdim=True)
    std = flat.std(1, unbiased=False, keepdim=True)
    return ((flat - mean) / (std + 1e-7) * 0.1 + 0.5).clamp(0.0, 1.0).view_as(x)


class ProjectedAdam(InputOptimizer):
    """Adam on the input itself, clamped into the range after every step; the step size decays
    from `lr` to `lr * final_lr` along a half cosine (measured in units of the range)."""

    def __init__(self, x0, input_range, iterations, lr, betas, eps, final_lr):
        lo, hi = input_range
        self.lo, self.hi = lo, hi
        self.param = x0.clamp(lo, hi).requires_grad_(True)
        self.m = torch.zeros_like(x0)
        self.v = torch.zeros_like(x0)
        self.betas, self.eps = betas, eps * (hi - lo)
        cosine = [0.5 * (1 + math.cos(math.pi * t / iterations)) for t in range(iterations)]
        self.rates = [(hi - lo) * lr * (final_lr + (1 - final_lr) * c) for c in cosine]

    @torch.no_grad()
    def step(self, grad: torch.Tensor, t: int) -> None:
        b1, b2 = self.betas
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        correction1 = 1 - b1 ** (t + 1)
        correction2 = 1 - b2 ** (t + 1)
        denom = (self.v / correction2).sqrt_().add_(self.eps)
        self.param.addcdiv_(self.m, denom, value=-self.rates[t] / correction1)
        self.param.clamp_(self.lo, self.hi)


class SigmoidAdam(ProjectedAdam):
    """Adam on z with input = lo + (hi - lo) * sigmoid(z): bounded without clamping."""

    def __init__(self, x0, input_range, iterations, lr, betas, eps, final_lr):
        super().__init__(x0, input_range, iterations, lr, betas, eps, final_lr)
        lo, hi = input_range
        unit = ((x0 - lo) / (hi - lo)).clamp(1e-4, 1 - 1e-4)
        self.param = torch.logit(unit).requires_grad_(True)
        # z is unitless: a step of 4*lr in z moves a mid-range pixel by lr of the range
        self.rates = [4 * r / (hi - lo) for r in self.rates]
        self.eps = eps

    def input(self) -> torch.Tensor:
        return self.lo + (self.hi - self.lo) * torch.sigmoid(self.param)

    @torch.no_grad()
    def step(self, grad: torch.Tensor, t: int) -> None:
        b1, b2 = self.betas
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denom = (self.v / (1 - b2 ** (t + 1))).sqrt_().add_(self.eps)
        self.param.addcdiv_(self.m, denom, value=-self.rates[t] / (1 - b1 ** (t + 1)))


@dataclass(frozen=True)
class ActmaxRecipe(Recipe):
    """actmax's own recipe (see the module docstring).

    Defaults tuned on the lab CNN (98% test accuracy, logit objectives): TV 50 keeps strokes
    smooth, an L1 weight of 30 keeps the background at `lo` as in real digits, and 2-pixel
    jitter stops the image from exploiting exact pixel positions. Each class image then reaches
    1.07-1.10x the logit of the best real test digit of its class, and 7-9 of 10 are read as
    their class by an independently trained classifier (keras-vis' images: 3-5 of 10).
    """

    name: str = "actmax"
    iterations: int = 200
    act_weight: float = 1.0
    tv_weight: float = 50.0
    lp_weight: float = 30.0
    lp_norm: float = 1.0
    jitter: int = 2
    lr: float = 0.05
    final_lr: float = 0.0
    betas: tuple[float, float] = field(default=(0.9, 0.999))
    eps: float = 1e-8
    parameterization: str = "clamp"

    def optimizer(self, x0, input_range, iterations):
        kinds = {"clamp": ProjectedAdam, "sigmoid": SigmoidAdam}
        if self.parameterization not in kinds:
            raise ActmaxError(
                f"unknown parameterization {self.parameterization!r}; choose from {sorted(kinds)}"
            )
        return kinds[self.parameterization](
            x0, input_range, iterations, self.lr, self.betas, self.eps, self.final_lr
        )


RECIPES: dict[str, Recipe] = {"actmax": ActmaxRecipe(), "keras-vis": KerasVisRecipe()}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name, or a (customized) `Recipe` as it is."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except (KeyError, TypeError):
        raise ActmaxError(
            f"unknown recipe {recipe!r}; choose from {', '.join(sorted(RECIPES))}"
        ) from None
