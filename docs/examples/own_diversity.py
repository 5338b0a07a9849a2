"""Four different images of one filter: Lucid's diversity couples the rows that share it."""

import torch
from torch import nn

import actmax
from actmax import channel, diversity

torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.Conv2d(8, 8, 5), nn.ReLU())

same = [channel("2", 4) for _ in range(4)]  # four rows, four start images (seeds 0-3)
varied = [channel("2", 4) + 0.5 * diversity("2") for _ in range(4)]
plain = actmax.visualize(model, same, input_shape=(1, 28, 28), iterations=40, seed=[0, 1, 2, 3])
diverse = actmax.visualize(model, varied, input_shape=(1, 28, 28), iterations=40, seed=[0, 1, 2, 3])


def mean_similarity(result):
    """Mean cosine similarity between the rows' images (1: all alike)."""
    flat = torch.nn.functional.normalize(result.inputs.flatten(1) - 0.5, dim=1)
    similarity = flat @ flat.T
    return float((similarity.sum() - similarity.trace()) / (len(flat) * (len(flat) - 1)))


print(f"{mean_similarity(plain):.2f} -> {mean_similarity(diverse):.2f}")  # less alike
assert mean_similarity(diverse) < mean_similarity(plain)
