"""Models from files: a .pt2 archive (torch.export) and an ONNX file, opened by their path."""

import torch
from torch import nn

import actmax
from actmax import logit
from actmax.adapters import Normalize

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1),
    nn.ReLU(),
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
    nn.Linear(8, 4),
).eval()

# Write the files: one exported program, any batch size, saved both ways.
example = torch.rand(2, 3, 32, 32)
program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("n")},))
torch.export.save(program, "model.pt2")  # graph and tensors only: loading runs no pickled code
torch.onnx.export(program, f="model.onnx")  # needs onnxscript: pip install actmax[onnx]

# Open them by path: every function of actmax takes one.
for path in ("model.pt2", "model.onnx"):
    adapter = actmax.as_adapter(path, preprocess=Normalize(0.5, 0.25))
    print(path, adapter.input_shape, adapter.layer_names()[-1])  # the file says its input shape
    result = actmax.visualize(adapter, [logit(c) for c in range(4)], iterations=30, seed=0)
    print(result.titles)  # .pt2: ['4[0]', ...], module names; ONNX: node names
    maps = actmax.saliency(adapter, result.inputs, target=[0, 1, 2, 3])
    print(maps.maps.shape)  # (4, 32, 32)
