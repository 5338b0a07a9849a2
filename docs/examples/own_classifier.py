"""A plain PyTorch classifier that ends in nn.Linear: its class images, by logit(c)."""

import torch
from torch import nn

import actmax
from actmax import logit

torch.manual_seed(0)
model = nn.Sequential(  # logits out, softmax inside the loss: the usual PyTorch classifier
    nn.Conv2d(1, 8, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(8 * 14 * 14, 10),
)

result = actmax.visualize(
    model,
    [logit(c) for c in range(10)],  # class c's logit: the output of the last nn.Linear
    input_shape=(1, 28, 28),  # an nn.Module does not say what input it takes
    iterations=50,
    seed=0,
)
print(result)  # VisualizationResult(10 rows, recipe='actmax', inputs=(10, 1, 28, 28))
print(result.titles[:2])  # ['4[0]', '4[1]']: layer 4 (the nn.Linear), units 0 and 1

# Each image drives its logit above where the start noise had it.
start = model(torch.full((1, 1, 28, 28), 0.5))[0]
assert all(result.activations[c] > start[c] for c in range(10))
result.save("classes.png", overwrite=True)  # the titled grid, activation under each image
