"""An RGB model trained on normalized inputs, at a non-square size: Normalize(mean, std)."""

import torch
from torch import nn

from actmax import as_adapter, logit, param, visualize
from actmax.adapters import Normalize

torch.manual_seed(0)
model = nn.Sequential(  # e.g. a torchvision-style classifier: it expects normalized RGB input
    nn.Conv2d(3, 16, 3, padding=1),
    nn.ReLU(),
    nn.AdaptiveAvgPool2d(4),
    nn.Flatten(),
    nn.Linear(16 * 4 * 4, 5),
)
imagenet = Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
adapter = as_adapter(model, input_shape=(3, 32, 48), preprocess=imagenet)

result = visualize(
    adapter,
    [logit(c) for c in range(5)],
    param=param.Fourier(),  # a 1/f spectrum with decorrelated colours: Lucid's prior for RGB
    iterations=50,
    seed=0,
)
# Optimized and returned in pixel space, [0, 1]; the model saw imagenet(result.inputs).
print(tuple(result.inputs.shape), result.images.shape)  # (5, 3, 32, 48) (5, 32, 48, 3)
assert result.inputs.min() >= 0.0 and result.inputs.max() <= 1.0
seen = model(imagenet(result.inputs))
assert torch.allclose(seen.diagonal(), torch.as_tensor(result.activations), atol=1e-4)
