"""Classifiers built unlike the lab CNN, each as a PyTorch user would write it: logits out of a
final `nn.Linear` (softmax inside the loss), for (1, 28, 28) images in [0, 1].

They prove that actmax's default recipe carries over to models nobody tuned it for
(`benchmarks/zoo.py`). Each is registered with the lab's checkpoint module, so a trained one is
saved and loaded as safetensors plus JSON, without pickle.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from actmax.lab.models import ARCHITECTURES


class MLP(nn.Module):
    """Fully connected: 784 -> 512 -> 256 -> 10, ReLU, dropout 0.2. 535k parameters."""

    input_shape = (1, 28, 28)

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(28 * 28, 512)
        self.fc2 = nn.Linear(512, 256)
        self.drop = nn.Dropout(0.2)
        self.fc3 = nn.Linear(256, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(F.relu(self.fc1(self.flatten(x))))
        x = self.drop(F.relu(self.fc2(x)))
        return self.fc3(x)


class KerasMnistCNN(nn.Module):
    """Keras' classic `mnist_cnn` example (LeNet-style, 1.2M parameters): conv 3x3 (32), conv
    3x3 (64), max-pool, dropout 0.25, dense 128, dropout 0.5, dense 10; unpadded convolutions."""

    input_shape = (1, 28, 28)

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(2)
        self.drop1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(64 * 12 * 12, 128)
        self.drop2 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv2(F.relu(self.conv1(x)))))
        x = F.relu(self.fc1(self.drop1(x).flatten(1)))
        return self.fc2(self.drop2(x))


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a (projected) shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-style: a strided 3x3 stem, residual blocks with BatchNorm at 16, 32 and 64 channels
    (14, 7 and 4 pixels), global average pooling, linear classifier. 78k parameters."""

    input_shape = (1, 28, 28)

    def __init__(self, n_classes: int = 10, width: int = 16):
        super().__init__()
        w = width
        self.stem = nn.Sequential(
            nn.Conv2d(1, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU()
        )
        self.layer1 = ResidualBlock(w, w, 1)
        self.layer2 = ResidualBlock(w, 2 * w, 2)
        self.layer3 = ResidualBlock(2 * w, 4 * w, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * w, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


def separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    """MobileNet's block: depthwise 3x3 conv, BN, ReLU6, pointwise 1x1 conv, BN, ReLU6."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


class MobileNet(nn.Module):
    """MobileNet-style: a strided 3x3 stem, depthwise-separable blocks (32 to 128 channels at 14,
    7 and 4 pixels), global average pooling, linear classifier. 36k parameters."""

    input_shape = (1, 28, 28)

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()
        )
        self.blocks = nn.Sequential(
            separable(32, 64, 2),
            separable(64, 64, 1),
            separable(64, 128, 2),
            separable(128, 128, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.blocks(self.stem(x))).flatten(1))


class ViT(nn.Module):
    """A small vision transformer: 7x7 patches embedded to 64 dimensions, a class token,
    learned position embeddings, 4 pre-norm encoder layers (LayerNorm, 4-head attention, GELU
    MLP), LayerNorm, linear head on the class token. 136k parameters."""

    input_shape = (1, 28, 28)

    def __init__(self, n_classes: int = 10, dim: int = 64, depth: int = 4, heads: int = 4):
        super().__init__()
        self.patch = nn.Conv2d(1, dim, 7, 7)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, 1 + 4 * 4, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, 2 * dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(len(x), -1, -1), tokens], 1) + self.pos
        return self.head(self.norm(self.encoder(tokens))[:, 0])


class GapNet(nn.Module):
    """All-convolutional with dropout and global average pooling (no BatchNorm, no dense hidden
    layer): two conv pairs (16, 32 channels) with max-pooling and spatial dropout, a 1x1 conv to
    128 channels, global average pooling, dropout 0.3, linear classifier. 85k parameters."""

    input_shape = (1, 28, 28)

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout2d(0.1),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout2d(0.1),
            nn.Conv2d(32, 128, 1),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.pool(self.features(x)).flatten(1)))


ZOO: dict[str, type[nn.Module]] = {
    "zoo_mlp": MLP,
    "zoo_keras_cnn": KerasMnistCNN,
    "zoo_resnet": ResNet,
    "zoo_mobilenet": MobileNet,
    "zoo_vit": ViT,
    "zoo_gapnet": GapNet,
}
for _name, _factory in ZOO.items():
    ARCHITECTURES.setdefault(_name, _factory)
