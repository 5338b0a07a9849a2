"""The lab's visualization set on the lab's Keras model beside the same set on its PyTorch twin.

The set (32 images, keras-vis recipe): the 10 outputs through the softmax, output 0 at the 8 tv
weights 0.125..16, the 10 outputs at tv 0.5, and the pairs 1+7, 4+9, 0+1, 7+8. Both models hold
the same weights. Each is timed as one batched `actmax.visualize` call and as the lab runs it,
one `visualize_activation` call per image; the Keras/PyTorch ratio says what Keras' layer
machinery costs on top of the same PyTorch kernels.

    python benchmarks/keras_vs_torch.py [--iterations 200] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from actmax.adapters.keras import import_keras, is_keras_model  # noqa: E402
from actmax.compat.keras import activations  # noqa: E402
from actmax.compat.vis.visualization import visualize_activation  # noqa: E402
from actmax.engine import visualize  # noqa: E402
from actmax.lab.keras_lab import keras_lab_cnn  # noqa: E402
from actmax.lab.keras_lab import lab_cnn_from_keras as torch_twin  # noqa: E402
from actmax.objectives import logit, unit  # noqa: E402

TV_WEIGHTS = (0.125, 0.25, 0.5, 1, 2, 4, 8, 16)
PAIRS = ((1, 7), (4, 9), (0, 1), (7, 8))


def lab_set() -> tuple[list, list[float]]:
    """The 32 objectives and their tv weights; logits stand for the lab's swap to linear."""
    objectives = [unit("l5", k) for k in range(10)]
    weights = [10.0] * 10
    objectives += [logit(0)] * len(TV_WEIGHTS)
    weights += list(TV_WEIGHTS)
    objectives += [logit(k) for k in range(10)]
    weights += [0.5] * 10
    objectives += [logit(a) + logit(b) for a, b in PAIRS]
    weights += [0.5] * len(PAIRS)
    return objectives, weights


def one_by_one(model, iterations: int) -> None:
    """The lab's loop: one keras-vis call per image (pairs as filter_indices lists)."""
    for k in range(10):
        visualize_activation(
            model, 9, filter_indices=k, input_range=(0.0, 1.0), max_iter=iterations
        )
    swap(model, linear=True)
    try:
        for weight in TV_WEIGHTS:
            visualize_activation(
                model, 9, 0, input_range=(0.0, 1.0), tv_weight=weight, max_iter=iterations
            )
        for k in range(10):
            visualize_activation(
                model, 9, k, input_range=(0.0, 1.0), tv_weight=0.5, max_iter=iterations
            )
        for pair in PAIRS:
            visualize_activation(
                model, 9, list(pair), input_range=(0.0, 1.0), tv_weight=0.5, max_iter=iterations
            )
    finally:
        swap(model, linear=False)


def swap(model, linear: bool) -> None:
    """The lab's `model.layers[9].activation = activations.linear`, and back."""
    if is_keras_model(model):
        keras = import_keras()
        model.layers[9].activation = (
            keras.activations.linear if linear else keras.activations.softmax
        )
    else:
        model.l5.activation = activations.linear if linear else activations.softmax


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keras_model = keras_lab_cnn()
    models = {"Keras 3 (torch backend)": keras_model, "PyTorch LabCNN": torch_twin(keras_model)}
    objectives, tv = lab_set()
    print(
        f"lab set: {len(objectives)} images x {args.iterations} iterations, keras-vis recipe, "
        f"{args.threads} threads, best of {args.repeats}"
    )
    results = {}
    for label, model in models.items():

        def batched(model=model):
            visualize(
                model,
                objectives,
                recipe="keras-vis",
                iterations=args.iterations,
                input_range=(0.0, 1.0),
                tv_weight=tv,
            )

        results[label] = (
            best_of(batched, args.repeats),
            best_of(lambda model=model: one_by_one(model, args.iterations), args.repeats),
        )
    print(f"{'model':<26}{'one batched call':>18}{'one call per image':>20}")
    for label, (batch, single) in results.items():
        print(f"{label:<26}{batch:>16.3f} s{single:>18.3f} s")
    (kb, ks), (tb, ts) = results.values()
    print(f"{'Keras / PyTorch':<26}{kb / tb:>17.2f}x{ks / ts:>19.2f}x")
    same = np.allclose(
        visualize(keras_model, objectives[:2], recipe="keras-vis", iterations=20).images,
        visualize(
            models["PyTorch LabCNN"], objectives[:2], recipe="keras-vis", iterations=20
        ).images,
        atol=1e-3,
    )
    print(f"same images from both models (20 iterations): {same}")


if __name__ == "__main__":
    main()
