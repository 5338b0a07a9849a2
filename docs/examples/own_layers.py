"""Layers by name or by Keras-style index, and what a wrong name says."""

import torch
from torch import nn

import actmax
from actmax import channel, direction, neuron, unit


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 8, 3), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.hidden = nn.Linear(8, 16)
        self.classifier = nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool(self.features(x)).flatten(1)
        return self.classifier(torch.relu(self.hidden(x)))


torch.manual_seed(0)
adapter = actmax.as_adapter(Net(), input_shape=(1, 28, 28))
print(adapter.layer_names())  # ['input', 'features', 'pool', 'hidden', 'classifier']
print(adapter.resolve(-1), adapter.resolve(3))  # classifier hidden: -1 makes the output

objectives = [
    channel("features.2", 5),  # a nested module: channel 5's mean over all positions
    neuron("features.2", 5),  # the same channel at the centre of its map
    channel("features.0", 1, at=(3, 4)),  # or at one position (y, x)
    unit("hidden", 7),  # a dense unit
    unit(3, 7),  # the same unit by Keras-style index (the input is layer 0)
    direction("features.2", [1, -1, 0, 0, 0, 0, 0, 0]),  # channel 0 against channel 1
]
result = actmax.visualize(adapter, objectives, iterations=30, seed=0)
print(result.titles)
assert result.activations[3] == result.activations[4]  # one unit, two ways to name it

try:
    actmax.visualize(adapter, unit("features.3x", 0))
except actmax.ActmaxError as error:
    print(error)  # no layer named 'features.3x'; close matches: features.3, ...
