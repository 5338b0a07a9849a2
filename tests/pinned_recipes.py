"""The outputs of both recipes on a fixed problem, pinned bit for bit.

`python tests/pinned_recipes.py` rewrites `tests/data/pinned_recipes.npz` from the current code;
do that only for a deliberate change of a recipe, and say why in the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from actmax import channel, logit, neuron, unit, visualize
from actmax.lab.models import build_model

PINNED = Path(__file__).parent / "data" / "pinned_recipes.npz"
ITERATIONS = 40
CASES = [(recipe, threads) for recipe in ("actmax", "keras-vis") for threads in (1, 2)]


def objectives():
    """16 rows: every kind of target, so that two threads cut the batch in two slices."""
    return (
        [logit(c) for c in range(8)]
        + [logit(1) + logit(7), logit(4) - logit(9)]
        + [channel("l1", 3), channel("l3", 5), neuron("l2", 4), neuron("l3", 1, 2, 3)]
        + [unit("l4", 3), unit("l4", 17)]
    )


def run(recipe: str, threads: int) -> dict[str, np.ndarray]:
    model = build_model("lab_cnn", seed=0)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = visualize(
            model, objectives(), recipe=recipe, iterations=ITERATIONS, seed=list(range(16))
        )
    finally:
        torch.set_num_threads(previous)
    out = {"inputs": result.inputs.numpy(), "activations": result.activations}
    out.update({f"history_{k}": v for k, v in result.history.items()})
    return out


def key(recipe: str, threads: int, name: str) -> str:
    return f"{recipe}/{threads}/{name}"


if __name__ == "__main__":
    arrays = {}
    for recipe, threads in CASES:
        for name, value in run(recipe, threads).items():
            arrays[key(recipe, threads, name)] = value
    PINNED.parent.mkdir(exist_ok=True)
    np.savez_compressed(PINNED, **arrays)
    print(f"wrote {PINNED} ({len(arrays)} arrays)", file=sys.stderr)
