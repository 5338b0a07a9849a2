"""How real a visualization looks and how hard it drives its class, measured instead of eyeballed.

Three numbers per image and target class `c`:

- **agreement / confidence** (realism a): an independent judge, a classifier built unlike the lab
  CNN (3x3 strided convolutions and no pooling against 5x5 convolutions and max-pooling, a
  128-unit hidden layer against 25, another seed) and trained with light augmentation, says
  whether the image shows a `c` (its argmax) and how sure it is (its softmax probability of `c`).
  An image that only exploits the lab CNN's quirks does not transfer to it.
- **realism** (realism b): how much ink a VAE of the data set explains per nat of its code for
  the image (`realism_score.RealismScore`, validated against noise, flat images, keras-vis'
  class images, adversarial-looking images and growing corruption); real test images are its
  yardstick.
- **activation**: the image's logit of `c` divided by the highest logit of `c` that any real test
  digit of class `c` reaches; 1 means "as strong as the best real example".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..adapters import as_adapter
from ..errors import ActmaxError
from ..io import write_json
from .checkpoint import load_model, save_model
from .data import Dataset
from .folders import staged_cache_entry
from .models import ARCHITECTURES, glorot_uniform_

JUDGE_ARCHITECTURE = "judge_cnn"
JUDGE_RECORD = "judge.json"
MIN_JUDGE_ACCURACY = 0.985
# What a fully trained judge should reach on each data set's test set (below: reduced settings);
# on Fashion-MNIST the default JudgeConfig reaches 86.9%.
JUDGE_TARGETS = {"mnist": MIN_JUDGE_ACCURACY, "fashion-mnist": 0.865}


class JudgeCNN(nn.Module):
    """A 28x28 classifier that shares no design choice with the lab CNN; returns logits.

    conv 3x3/2 (16) -> ReLU -> conv 3x3/2 (32) -> ReLU -> dense 128 -> ReLU -> dense 10.
    """

    input_shape = (1, 28, 28)

    def __init__(self, n_classes: int = 10, width: int = 16, hidden: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.hidden = nn.Linear(2 * width * 7 * 7, hidden)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.hidden(x.flatten(1)))
        return self.out(x)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                glorot_uniform_(module.weight, generator)
                nn.init.zeros_(module.bias)


# Registered so that `checkpoint.load_model` can rebuild a cached judge from its folder.
ARCHITECTURES.setdefault(JUDGE_ARCHITECTURE, JudgeCNN)


def affine(
    x: torch.Tensor, angle: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    """Rotate (radians), scale and shift (pixels, (N, 2) as x, y) each image about its centre.

    Bilinear, zero fill; zero angle, unit zoom and zero shift give the image back unchanged.
    """
    n, _, h, w = x.shape
    # affine_grid maps output to input coordinates in [-1, 1], where one pixel is 2 / size,
    # so moving the content by +s pixels samples the input at -s.
    offset = -shift.to(x) * torch.tensor([2 / w, 2 / h]).to(x)
    cos, sin = torch.cos(angle).to(x) / zoom.to(x), torch.sin(angle).to(x) / zoom.to(x)
    theta = torch.stack(
        [torch.stack([cos, -sin, offset[:, 0]], 1), torch.stack([sin, cos, offset[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, [n, *x.shape[1:]], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@dataclass(frozen=True)
class RandomAffine:
    """Light augmentation: a random shift, rotation and scale per image.

    Called as `augment(x, generator)` on a (N, C, H, W) batch; every draw comes from `generator`.
    """

    max_shift: float = 2.0  # pixels
    max_rotation: float = 10.0  # degrees
    max_scale: float = 0.1  # relative, both ways

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n = len(x)

        def uniform(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator).mul_(2).sub_(1)

        angle = uniform(n) * math.radians(self.max_rotation)
        zoom = 1 + uniform(n) * self.max_scale
        shift = uniform(n, 2) * self.max_shift
        return affine(x, angle, zoom, shift)


@dataclass(frozen=True)
class JudgeConfig:
    """Everything that decides the judge's weights; `key` names its cache folder."""

    seed: int = 1
    epochs: int = 4
    batch_size: int = 128
    learning_rate: float = 2e-3
    lr_decay: float = 0.5  # per epoch
    width: int = 16
    hidden: int = 128
    augment: RandomAffine = field(default_factory=RandomAffine)
    train_subset: int | None = None  # first N training images (None: all 60,000)
    dataset: str = "mnist"  # what it is trained on (a name of `data.DATASETS`)

    @property
    def key(self) -> str:
        text = json.dumps({"architecture": JUDGE_ARCHITECTURE, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Judge:
    """A trained independent classifier and what it scored on its data set's test set."""

    model: nn.Module
    config: JudgeConfig
    test_accuracy: float
    reused: bool = False

    def record(self) -> dict:
        return {
            "architecture": JUDGE_ARCHITECTURE,
            "description": JudgeCNN.__doc__.strip().splitlines()[-1].strip(),
            "test_accuracy": self.test_accuracy,
            "config_key": self.config.key,
            **asdict(self.config),
        }


def _fit_judge(
    model: nn.Module, x: np.ndarray, y: np.ndarray, config: JudgeConfig, progress: bool
) -> None:
    """Adam over augmented batches, its step halved after every epoch; seeded throughout."""
    from .training import fit

    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)

    def decay(_state) -> None:
        for group in optimizer.param_groups:
            group["lr"] *= config.lr_decay

    fit(
        model,
        x,
        y,
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=optimizer,
        augment=config.augment,
        seed=config.seed,
        device="cpu",
        on_epoch_end=decay,
        progress=progress,
    )
    model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> float:
    """Top-1 accuracy of a logits (or probabilities) model."""
    model.eval()
    hits = sum(
        int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
        for i in range(0, len(x), batch_size)
    )
    return hits / len(x)


def _config_for(data: Dataset, config: JudgeConfig | None) -> JudgeConfig:
    config = config or JudgeConfig(dataset=data.name)
    if config.dataset != data.name:
        raise ActmaxError(f"a judge for {config.dataset} cannot be trained on {data.name}")
    return config


def train_judge(data: Dataset, config: JudgeConfig | None = None, progress: bool = False) -> Judge:
    """Train the independent classifier from scratch (seeded: the same weights every time)."""
    from .models import build_model

    config = _config_for(data, config)
    n = config.train_subset or len(data.x_train)
    x, y = data.x_train[:n], data.y_train[:n]
    model = build_model(
        JUDGE_ARCHITECTURE, seed=config.seed, width=config.width, hidden=config.hidden
    )
    _fit_judge(model, x, y, config, progress)
    test = accuracy(model, torch.from_numpy(data.x_test), torch.from_numpy(data.y_test))
    return Judge(model, config, test)


def load_or_train_judge(
    data: Dataset,
    cache_root: str | os.PathLike,
    config: JudgeConfig | None = None,
    progress: bool = False,
) -> Judge:
    """The judge cached under `cache_root/judge-<key>`, trained and stored there the first time.

    The folder is written beside its final place and moved in with one rename, so a run that is
    interrupted never leaves a half-written judge behind.
    """
    config = _config_for(data, config)
    folder = Path(cache_root) / f"judge-{config.key}"
    if (folder / JUDGE_RECORD).exists():
        record = json.loads((folder / JUDGE_RECORD).read_text(encoding="utf-8"))
        return Judge(load_model(folder), config, float(record["test_accuracy"]), reused=True)
    judge = train_judge(data, config, progress)
    with staged_cache_entry(folder, JUDGE_RECORD) as staging:
        save_model(
            judge.model, staging, JUDGE_ARCHITECTURE, width=config.width, hidden=config.hidden
        )
        write_json(staging / JUDGE_RECORD, judge.record())
    return judge


@dataclass(frozen=True)
class Measures:
    """The measures of a batch of images, one entry per image (see the module docstring)."""

    target: np.ndarray  # (N,) int
    logit: np.ndarray  # (N,) the lab CNN's logit of the target
    activation: np.ndarray  # (N,) logit / best real logit of the target class
    agreement: np.ndarray  # (N,) bool: the judge's top class is the target
    confidence: np.ndarray  # (N,) the judge's probability of the target
    judge_prediction: np.ndarray  # (N,) int
    realism: np.ndarray  # (N,) the realism score (ink explained per nat of a VAE's code)

    def __len__(self) -> int:
        return len(self.target)

    def rows(self) -> list[dict]:
        """One JSON-ready dict per image."""
        return [
            {
                "target": int(self.target[i]),
                "logit": float(self.logit[i]),
                "activation": float(self.activation[i]),
                "agreement": bool(self.agreement[i]),
                "confidence": float(self.confidence[i]),
                "judge_prediction": int(self.judge_prediction[i]),
                "realism": float(self.realism[i]),
            }
            for i in range(len(self))
        ]

    def summary(self) -> dict:
        """Means over the images, plus the weakest activation (the one a rule must guard)."""
        return {
            "agreement": float(self.agreement.mean()),
            "recognized": int(self.agreement.sum()),
            "count": len(self),
            "confidence": float(self.confidence.mean()),
            "realism": float(self.realism.mean()),
            "min_realism": float(self.realism.min()),
            "activation": float(self.activation.mean()),
            "min_activation": float(self.activation.min()),
        }

    def select(self, index: Sequence[int] | np.ndarray) -> Measures:
        index = np.asarray(index)
        return Measures(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})


@contextmanager
def channels_last(model: nn.Module) -> Iterator[nn.Module]:
    """Run convolutions in oneDNN's fast channels-last layout for a while, then restore."""
    model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        model.to(memory_format=torch.contiguous_format)


Realism = Callable[[torch.Tensor], np.ndarray]


class RealismMeter:
    """Scores images against the real test digits of their target class.

    `model` is the lab CNN (any model whose `feature_layer` and last layer's pre-activation an
    adapter can read), `judge` any classifier returning logits, `realism` a score of (N, C, H, W)
    images in [0, 1] (`realism_score.RealismScore`). The per-class yardsticks come from one pass
    over the test set; its logits are kept in `test_logits`, its realism in `test_realism`.
    """

    def __init__(
        self,
        model: nn.Module,
        judge: nn.Module,
        x_test: np.ndarray,
        y_test: np.ndarray,
        realism: Realism,
        feature_layer: str = "l4",
    ):
        self.model, self.judge_model = model.eval(), judge.eval()
        self.realism = realism
        self.adapter = as_adapter(model)
        last = self.adapter.layer_names()[-1]
        self._refs = (self.adapter.ref(feature_layer), self.adapter.ref(last, pre_activation=True))
        self.device = self.adapter.device
        x = torch.from_numpy(np.asarray(x_test, dtype=np.float32))
        y = np.asarray(y_test)
        classes = np.unique(y)
        if not np.array_equal(classes, np.arange(len(classes))):
            raise ActmaxError("the test labels must cover the classes 0..K-1")
        with channels_last(model):
            parts = [self._read(x[i : i + 2000]) for i in range(0, len(x), 2000)]
        unit = torch.cat([f for f, _ in parts])
        logits = torch.cat([z for _, z in parts])
        self.test_logits = logits.numpy().astype(np.float64)
        self.test_realism = np.asarray(realism(x), dtype=np.float64)
        self.n_classes = len(classes)
        best, directions, low, mid, high = [], [], [], [], []
        for c in classes:
            rows = torch.from_numpy(y == c)
            best.append(float(logits[rows, c].max()))
            directions.append(unit[rows].mean(0))
            r = self.test_realism[y == c]
            low.append(float(r.min()))
            mid.append(float(np.median(r)))
            high.append(float(r.max()))
        self.best_logit = np.array(best)
        self.class_direction = torch.stack(directions)  # (K, features)
        self.real_realism = np.array(mid)  # per class: the median real digit's realism
        self.realism_range = np.array([low, high]).T  # per class: (lowest, highest) real realism

    @torch.no_grad()
    def _read(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit-length features and logits of a batch, from one forward pass."""
        features, logits = self._refs
        with self.adapter.isolated() as view:
            _, acts = view.run(x.to(self.device, torch.float32), self._refs)
        return F.normalize(acts[features].flatten(1).cpu(), dim=1), acts[logits].cpu()

    def references(self) -> dict:
        """The yardsticks, per class: what the best and the typical real digit score."""
        return {
            "best_real_logit": self.best_logit.tolist(),
            "real_realism": self.real_realism.tolist(),
            "realism_range": self.realism_range.tolist(),
            "real_realism_all": [
                float(self.test_realism.min()),
                float(np.median(self.test_realism)),
                float(self.test_realism.max()),
            ],
        }

    @torch.no_grad()
    def judge(self, images: torch.Tensor) -> np.ndarray:
        """The judge's class probabilities, (N, K)."""
        x = images.to(next(self.judge_model.parameters()).device, torch.float32)
        return self.judge_model(x).softmax(1).cpu().numpy().astype(np.float64)

    def class_similarity(self, a: int, b: int) -> float:
        """Cosine between two classes' mean `l4` directions: how alike the network sees them."""
        da, db = self.class_direction[a], self.class_direction[b]
        return float(F.cosine_similarity(da, db, dim=0))

    @torch.no_grad()
    def measure(self, images: torch.Tensor, targets: Sequence[int]) -> Measures:
        """Measure (N, C, H, W) images, each against its own target class."""
        target = np.asarray(targets, dtype=np.int64).reshape(-1)
        if images.ndim == 3:
            images = images[None]
        if len(images) != len(target):
            raise ActmaxError(f"{len(images)} images but {len(target)} targets")
        if len(target) and not (target.min() >= 0 and target.max() < self.n_classes):
            raise ActmaxError(f"targets must be classes 0..{self.n_classes - 1}")
        x = images.to(self.device, torch.float32)
        idx = torch.from_numpy(target)
        _, logits = self._read(x)
        judged = torch.from_numpy(self.judge(x))
        logit = logits.gather(1, idx[:, None])[:, 0].numpy()
        best = self.best_logit[target]
        return Measures(
            target=target,
            logit=logit.astype(np.float64),
            activation=np.where(best > 0, logit / np.where(best > 0, best, 1), np.nan),
            agreement=(judged.argmax(1) == idx).numpy(),
            confidence=judged.gather(1, idx[:, None])[:, 0].numpy().astype(np.float64),
            judge_prediction=judged.argmax(1).numpy(),
            realism=np.asarray(self.realism(images.cpu()), dtype=np.float64),
        )
