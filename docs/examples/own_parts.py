"""The parts: a parametrization, transforms, regularizers, and a regularizer of your own."""

from dataclasses import dataclass

import torch
from torch import nn

import actmax
from actmax import channel, param, regularizers, transforms
from actmax.regularizers import Regularizer

torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 8, 5, padding=2), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU())


@dataclass(frozen=True)
class Brightness(Regularizer):
    """The mean pixel value: a weight > 0 darkens the image."""

    weight: float = 1.0
    name: str = "brightness"  # the key of its values in result.history

    def penalty(self, x):  # x: the images (N, C, H, W); one value per row
        return x.flatten(1).mean(1)


result = actmax.visualize(
    model,
    [channel("2", k) for k in range(4)],
    input_shape=(3, 40, 40),
    param=param.Fourier(),  # Pixels() (default), Sigmoid(), Fourier(), Latent(generator, shape)
    transforms=transforms.standard(40),  # Lucid's pad, jitter, scale, rotate, jitter
    regularizers=[regularizers.TotalVariation(100.0, full=True), Brightness(50.0)],
    iterations=40,
    seed=0,
)
print(sorted(result.history))  # ['brightness', 'loss', 'objective', 'tv']
print(result.history["objective"].shape)  # (40, 4): every step, every row
