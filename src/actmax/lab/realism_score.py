"""Realism: how much of the image a VAE of the data set explains per nat of its description.

    realism(x) = content(x) / code(x)

`code(x)` is the negative evidence lower bound of a VAE trained on the training set (nats: an
upper bound on the length of the image's description under the model). `content(x)` is chosen
per data set by measurement (`CONTENT`): on MNIST the image's ink (summed intensity + 1; one
fully inked pixel is 1), on Fashion-MNIST its pixel count (so the score orders images as the
ELBO does). A real digit needs about one nat per unit of ink; noise, flat images and keras-vis'
grey class images need five to twenty-five.

Chosen by measurement (`benchmarks/realism_candidates.py`; the lab CNN at 10 epochs, the VAE
with its defaults): 2,000 held-out real test images against 100 noise images, 11 flat images
from black to white, 30 keras-vis class images at the lab's tv_weight and 30 adversarial-looking
images, and 300 test images under growing noise (sigma 0 to 1) and a growing blur mix (0 to 1).
Share of each bad group below the real images' 1st percentile, noise / flat / keras-vis /
adversarial, and whether the mean falls at every step of noise, blur:

| candidate                          | MNIST                  | Fashion-MNIST          | falls |
|------------------------------------|------------------------|------------------------|-------|
| ELBO / ink ("ink")                 | 1 / 1 / 1 / 1          | 0 / .27 / 0 / 0        | MNIST |
| ELBO / pixels ("pixels")           | 1 / .91 / 1 / 1        | 1 / .73 / 1 / 1        | yes   |
| ELBO minus a per-pixel Bernoulli's | 1 / .91 / 1 / 1        | 0 / 0 / 0 / 0          | MNIST |
| judge features: Mahalanobis (LDA)  | 1 / .73 / 1 / 1        | .01 / .09 / 0 / .97    | no    |
| judge features: nearest class mean | .01 / .64 / 0 / .87    | 0 / 0 / 0 / .53        | no    |
| judge features: 5 nearest neighb.  | 1 / .64 / 1 / 1        | 0 / 0 / 0 / 1          | no    |
| pixels: 5 nearest neighbours       | 1 / .73 / 1 / 1        | 1 / .36 / 0 / 1        | no    |

On MNIST the plain ELBO ranks the empty (black) canvas, the data set's own background, above
every real digit (-0.033 nats per pixel against a real median of -0.135): a likelihood rewards
an image for having little to describe, the blind spot of likelihood-based scores (Nalisnick et
al. 2019). Dividing the code by the ink it explains charges an image for the nats it needs per
unit of content: the empty canvas still costs 26 nats for no ink (realism 0.04) against a real
median of 1.08 and a lowest real test digit of 0.42. On Fashion-MNIST, whose articles fill the
frame with grey texture, ink is no measure of content (noise has more of it than a sandal) and
the ELBO itself separates best; its blind spot remains: the black, the darkest grey and the
white flat images score inside the real range (a plain bag or pullover filling the frame is not
far from the white one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .vae import DenseVAE, elbo

DEFINITIONS = {
    "ink": (
        "how much ink a VAE of the training set explains per nat of its code for the image: "
        "(summed intensity + 1) / negative ELBO in nats. Higher is more real; noise, flat images "
        "and keras-vis' grey images need many nats for each unit of ink, an empty canvas costs "
        "nats for no ink at all."
    ),
    "pixels": (
        "how many pixels a VAE of the training set explains per nat of its code for the image: "
        "pixels / negative ELBO in nats, which orders images as the ELBO does. Higher is more "
        "real; noise and keras-vis' grey images cost the VAE several times more nats."
    ),
}
INK_OFFSET = 1.0  # one pixel's worth of ink: an empty image's realism stays finite


CONTENT = {"mnist": "ink", "fashion-mnist": "pixels"}  # chosen per data set by measurement


class RealismScore:
    """Scores (N, C, H, W) images in [0, 1] (values outside are clipped); higher is more real.

    `content`: what the code is divided by, "ink" (summed intensity + 1: strokes on a black
    canvas, MNIST) or "pixels" (the whole canvas, so the score orders images as the ELBO does:
    Fashion-MNIST, whose articles fill the frame with texture).
    """

    def __init__(self, vae: DenseVAE, samples: int = 4, seed: int = 0, content: str = "ink"):
        if content not in ("ink", "pixels"):
            raise ValueError(f"content is 'ink' or 'pixels', got {content!r}")
        self.vae = vae.eval()
        self.samples, self.seed, self.content = samples, seed, content

    def code(self, images: torch.Tensor | np.ndarray) -> np.ndarray:
        """The negative ELBO of each image, in nats (always > 0)."""
        x = torch.as_tensor(images, dtype=torch.float32).clamp(0, 1)
        return -elbo(self.vae, x, self.samples, self.seed) * x[0].numel()

    def __call__(self, images: torch.Tensor | np.ndarray) -> np.ndarray:
        x = torch.as_tensor(images, dtype=torch.float32).clamp(0, 1).cpu()
        if len(x) == 0:
            return np.zeros(0)
        if self.content == "ink":
            amount = x.flatten(1).sum(1).double().numpy() + INK_OFFSET
        else:
            amount = np.full(len(x), float(x[0].numel()))
        return amount / self.code(x)


def real_range(scores: np.ndarray, quantiles: Sequence[float] = (0.0, 0.01, 0.5, 0.99, 1.0)):
    """The spread of real images' realism: the given quantiles, keyed as 'q0', 'q1', 'q50'..."""
    values = np.quantile(np.asarray(scores, dtype=np.float64), quantiles)
    return {f"q{round(100 * q):g}": float(v) for q, v in zip(quantiles, values, strict=True)}
