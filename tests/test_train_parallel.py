import pytest
import torch
from torch import nn
from training_helpers import small_mnist

from actmax.lab.evaluation import evaluate
from actmax.lab.models import build_model
from actmax.lab.training import KerasRMSprop, fit, splits_safely
from actmax.parallel import BatchWorkers


def test_slices_cover_a_batch_in_order():
    workers = BatchWorkers(3)
    assert workers.slices(128) == [slice(0, 43), slice(43, 85), slice(85, 128)]
    assert workers.slices(2) == [slice(0, 1), slice(1, 2)]
    with workers:
        assert workers.map(lambda s: list(range(10))[s], 10) == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    assert torch.get_num_threads() == 2  # restored
    assert (BatchWorkers.for_cpu(2, 128).workers, BatchWorkers.for_cpu(2, 128).threads_each) == (
        2,
        1,
    )
    assert (BatchWorkers.for_cpu(16, 128).workers, BatchWorkers.for_cpu(16, 128).threads_each) == (
        4,
        4,
    )
    assert BatchWorkers.for_cpu(4, 40).workers == 1


def test_a_batch_trained_in_slices_takes_the_same_step():
    data = small_mnist(256, 64)
    x, y = data.x_train[:128], data.y_train[:128]
    steps = {}
    for threads in (1, 2):
        model = build_model("lab_cnn", seed=0)
        fit(model, x, y, epochs=1, batch_size=128, threads=threads, progress=False)
        steps[threads] = model
    for a, b in zip(steps[1].parameters(), steps[2].parameters(), strict=True):
        # same gradient up to float summation order; RMSprop's first step is ~lr * sign(g)
        torch.testing.assert_close(a, b, rtol=0, atol=2e-6)


def test_models_with_dropout_or_batch_norm_are_not_sliced():
    assert splits_safely(build_model("lab_cnn"))
    assert not splits_safely(nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(784, 10)))
    assert not splits_safely(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)))


def test_dropout_model_trains_repeatably_without_slicing():
    data = small_mnist(512, 128)

    def run():
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 10)
        )
        history = fit(
            model,
            data.x_train,
            data.y_train,
            epochs=2,
            optimizer=KerasRMSprop(model.parameters(), lr=3e-3),
            validation_data=(data.x_test, data.y_test),
            seed=11,
            progress=False,
        )
        return model, history

    (a, history), (b, _) = run(), run()
    assert torch.equal(a[1].weight, b[1].weight)
    assert history["val_accuracy"][-1] > 0.6


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_evaluation_does_not_depend_on_slicing(lab_model, threads):
    x, y = torch.rand(50, 1, 28, 28), torch.randint(0, 10, (50,))
    reference = evaluate(lab_model, x, y, batch_size=50)
    with BatchWorkers(threads) as workers:
        sliced = evaluate(lab_model, x, y, batch_size=16, workers=workers)
    assert sliced.loss == pytest.approx(reference.loss, rel=1e-5)
    assert (sliced.predictions == reference.predictions).all()
