"""A small VAE of the lab's images: its decoder is the learned image prior (image = G(z)), its
evidence lower bound a candidate realism score.

Encoder: dense 512 -> dense 256 -> mean and log-variance of a 32-d z; decoder: dense 256 ->
dense 512 -> one logit per pixel, whose sigmoid is the image. The likelihood is Bernoulli per
pixel (binary cross-entropy against the grey levels), the prior on z a standard normal. Dense
layers, as in Kingma and Welling's VAE: a convolutional one was 3-4x slower per batch on the
2-core machine for a few minutes' training.

Training is seeded (initial weights, shuffling and the reparametrization noise), and so is the
ELBO: the same weights give the same scores.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..io import write_json
from ..parallel import cpu_threads
from .checkpoint import load_model, save_model
from .folders import staged_cache_entry
from .models import ARCHITECTURES, glorot_uniform_

VAE_ARCHITECTURE = "dense_vae"
VAE_RECORD = "vae.json"
DESCRIPTION = "dense 512 → 256 → 32-d z → 256 → 512 → pixels, Bernoulli likelihood"


def _dense(sizes: list[int]) -> nn.Sequential:
    """Dense layers through `sizes`, a ReLU after each but the last."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DenseVAE(nn.Module):
    """Encoder q(z|x) and decoder p(x|z) of images in [0, 1] (28x28 by default)."""

    def __init__(self, latent: int = 16, hidden: tuple[int, ...] = (512, 256), shape=(1, 28, 28)):
        super().__init__()
        self.latent = latent
        self.input_shape = tuple(shape)
        pixels = int(np.prod(shape))
        self.encoder = _dense([pixels, *hidden, 2 * latent])
        self.decoder = _dense([latent, *reversed(hidden), pixels])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior's mean and log-variance, each (N, latent)."""
        mean, log_var = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mean, log_var.clamp(-12.0, 8.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """The Bernoulli logits of each pixel, (N, C, H, W)."""
        return self.decoder(z).view(-1, *self.input_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1]: each pixel's probability of ink."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The generator: latent codes (N, latent) to images (N, C, H, W)."""
        return self.decode(z)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                glorot_uniform_(module.weight, generator)
                nn.init.zeros_(module.bias)


ARCHITECTURES.setdefault(VAE_ARCHITECTURE, DenseVAE)


def negative_elbo(
    vae: DenseVAE, x: torch.Tensor, noise: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the reconstruction term (nats) and the KL term, for one draw `noise` of z
    (None: z at the posterior mean)."""
    mean, log_var = vae.encode(x)
    z = mean if noise is None else mean + noise * (0.5 * log_var).exp()
    logits = vae.decode_logits(z)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = 0.5 * (mean.square() + log_var.exp() - 1 - log_var).sum(1)
    return recon, kl


@torch.no_grad()
def elbo(
    vae: DenseVAE,
    x: torch.Tensor,
    samples: int = 4,
    seed: int = 0,
    batch_size: int = 1000,
    threads: int | None = 1,
) -> np.ndarray:
    """The evidence lower bound of each image, in nats per pixel, averaged over `samples` draws
    of z from a generator seeded with `seed` (so a batch always scores the same).

    Images outside [0, 1] are clipped first: the Bernoulli likelihood is defined there only.
    One thread by default: on the busy 2-core machine, 10,000 images took 2.3 s on one thread
    against 16 s on two.
    """
    vae.eval()
    x = torch.as_tensor(x, dtype=torch.float32).cpu().clamp(0, 1)
    pixels = int(np.prod(x.shape[1:]))
    with cpu_threads(threads):
        return _elbo(vae, x, samples, seed, batch_size, pixels)


def _elbo(vae, x, samples, seed, batch_size, pixels) -> np.ndarray:
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size]
        generator = torch.Generator().manual_seed(seed)
        total = torch.zeros(len(xb), dtype=torch.float64)
        for _ in range(samples):
            noise = torch.randn(len(xb), vae.latent, generator=generator)
            recon, kl = negative_elbo(vae, xb, noise)
            total -= (recon + kl).double()
        out.append(total / samples / pixels)
    return torch.cat(out).numpy() if out else np.zeros(0)


@dataclass(frozen=True)
class VAEConfig:
    """Everything that decides the VAE's weights; `key` names its cache folder."""

    seed: int = 2
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 2e-3
    lr_decay: float = 0.75  # per epoch
    latent: int = 32
    hidden: tuple[int, ...] = (512, 256)
    train_subset: int | None = None  # first N training images (None: all)
    dataset: str = "mnist"

    @property
    def key(self) -> str:
        text = json.dumps({"architecture": VAE_ARCHITECTURE, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def arch(self) -> dict:
        return {"latent": self.latent, "hidden": list(self.hidden)}


@dataclass(frozen=True)
class TrainedVAE:
    """A trained VAE and how it scored (mean ELBO, nats per pixel) on the held-out test set."""

    model: DenseVAE
    config: VAEConfig
    test_elbo: float
    train_seconds: float = 0.0
    reused: bool = False

    def record(self) -> dict:
        return {
            "architecture": VAE_ARCHITECTURE,
            "description": DESCRIPTION,
            "test_elbo": self.test_elbo,
            "test_elbo_nats": self.test_elbo * int(np.prod(self.model.input_shape)),
            "train_seconds": self.train_seconds,
            "config_key": self.config.key,
            **asdict(self.config),
        }


def train_vae(
    x_train: np.ndarray,
    x_test: np.ndarray,
    config: VAEConfig | None = None,
    progress: bool = False,
    threads: int | None = 1,
) -> TrainedVAE:
    """Train the VAE from scratch on `x_train` (seeded: the same weights every time) with Adam,
    its step multiplied by `lr_decay` after every epoch; score it on `x_test`."""
    from tqdm.auto import tqdm

    from .models import build_model

    config = config or VAEConfig()
    began = time.perf_counter()
    n = config.train_subset or len(x_train)
    x = torch.from_numpy(np.ascontiguousarray(x_train[:n], dtype=np.float32))
    model = build_model(VAE_ARCHITECTURE, seed=config.seed, **config.arch())
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    steps = config.epochs * math.ceil(n / config.batch_size)
    model.train()
    with (
        cpu_threads(threads),
        tqdm(total=steps, desc="VAE", unit="batch", disable=not progress) as bar,
    ):
        for _ in range(config.epochs):
            order = torch.randperm(n, generator=generator)
            for i in range(0, n, config.batch_size):
                xb = x[order[i : i + config.batch_size]]
                noise = torch.randn(len(xb), config.latent, generator=generator)
                recon, kl = negative_elbo(model, xb, noise)
                loss = (recon + kl).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                bar.update(1)
                bar.set_postfix(nats=f"{loss.item():.1f}", refresh=False)
            for group in optimizer.param_groups:
                group["lr"] *= config.lr_decay
        model.eval()
        test = float(elbo(model, torch.from_numpy(x_test)).mean())
    return TrainedVAE(model, config, test, time.perf_counter() - began)


def load_or_train_vae(
    x_train: np.ndarray,
    x_test: np.ndarray,
    cache_root: str | os.PathLike,
    config: VAEConfig | None = None,
    progress: bool = False,
) -> TrainedVAE:
    """The VAE cached under `cache_root/vae-<key>`, trained and stored there the first time.

    As the judge's, the folder appears whole or not at all.
    """
    config = config or VAEConfig()
    folder = Path(cache_root) / f"vae-{config.key}"
    if (folder / VAE_RECORD).exists():
        record = json.loads((folder / VAE_RECORD).read_text(encoding="utf-8"))
        return TrainedVAE(
            load_model(folder),
            config,
            float(record["test_elbo"]),
            float(record.get("train_seconds", 0.0)),
            reused=True,
        )
    trained = train_vae(x_train, x_test, config, progress)
    with staged_cache_entry(folder, VAE_RECORD) as staging:
        save_model(trained.model, staging, VAE_ARCHITECTURE, **config.arch())
        write_json(staging / VAE_RECORD, trained.record())
    return trained
