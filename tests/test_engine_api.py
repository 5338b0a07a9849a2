"""visualize()'s contract: results, hygiene, observation and clear errors."""

import numpy as np
import pytest
import torch
from engine_helpers import one_thread  # noqa: F401
from PIL import Image
from torch import nn

from actmax.engine import Step, visualize
from actmax.errors import ActmaxError, LayerNotFoundError
from actmax.objectives import channel, logit, unit, units
from actmax.result import VisualizationResult


def snapshot(model: nn.Module):
    return {
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "storage": [(p.data_ptr(), p.stride()) for p in model.parameters()],
        "values": [p.detach().clone() for p in model.parameters()],
        "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()),
    }


def assert_same(before, after):
    for key in ("training", "requires_grad", "storage", "hooks"):
        assert before[key] == after[key], key
    assert all(torch.equal(a, b) for a, b in zip(before["values"], after["values"], strict=True))


def test_result_shapes_ranges_and_history(lab_model):
    objectives = [logit(0), unit("l4", 3), channel("l3", 1)]
    result = visualize(lab_model, objectives, iterations=7, input_range=(-1.0, 1.0))
    assert isinstance(result, VisualizationResult) and len(result) == 3
    assert result.inputs.shape == (3, 1, 28, 28) and result.inputs.device.type == "cpu"
    assert result.images.shape == (3, 28, 28, 1)
    assert result.images.min() >= 0 and result.images.max() <= 1
    # actmax recipe: the input never leaves the range and the display is the input, rescaled
    assert result.inputs.min() >= -1 and result.inputs.max() <= 1
    np.testing.assert_allclose(result.images[..., 0], (result.inputs[:, 0].numpy() + 1) / 2)
    assert set(result.history) == {"objective", "tv", "lp", "loss"}
    assert all(v.shape == (7, 3) for v in result.history.values())
    assert result.titles == ["l5:pre[0]", "l4[3]", "l3[1]"]
    assert result.objectives == objectives
    one = result[1]
    assert len(one) == 1 and one.titles == ["l4[3]"] and one.inputs.shape == (1, 1, 28, 28)
    assert result[-1].titles == ["l3[1]"]
    picked = result[[2, 0, -1]]  # rows by number, in that order
    assert picked.titles == ["l3[1]", "l5:pre[0]", "l3[1]"]
    assert torch.equal(picked.inputs[1], result.inputs[0])
    assert picked.history["objective"].shape == (7, 3)
    with pytest.raises(IndexError, match="row 3 out of range"):
        result[[0, 3]]


def test_activations_are_measured_on_the_returned_inputs(lab_model):
    for recipe in ("actmax", "keras-vis"):
        result = visualize(lab_model, [logit(2), logit(5)], recipe=recipe, iterations=15)
        with torch.no_grad():
            logits = lab_model.logits(result.inputs)
        expected = [logits[0, 2], logits[1, 5]]
        np.testing.assert_allclose(result.activations, expected, rtol=1e-5, atol=1e-6)


def test_keras_vis_returns_its_lowest_loss_iterate(lab_model):
    """Scored again from scratch, the returned input is at least as good as every iterate."""
    result = visualize(lab_model, [logit(4), logit(9)], recipe="keras-vis", iterations=30)
    with torch.no_grad():
        final = visualize(
            lab_model,
            [logit(4), logit(9)],
            recipe="keras-vis",
            iterations=1,
            seed_input=result.inputs,
        ).history["loss"][0]
    assert np.all(final <= result.history["loss"].min(0) + 1e-5)


def test_softmax_kept_versus_swapped_for_linear(lab_model):
    kept = visualize(lab_model, unit("l5", 3), iterations=5)
    with torch.no_grad():
        probs = lab_model(kept.inputs)
    assert 0 < kept.activations[0] <= 1
    np.testing.assert_allclose(kept.activations[0], probs[0, 3].item(), rtol=1e-5)
    assert lab_model.l5.activation.__class__ is nn.Softmax  # the model itself was not touched


def test_the_model_comes_back_exactly_as_it_was(lab_model):
    lab_model.train()
    lab_model.l1.conv.weight.requires_grad_(False)
    before = snapshot(lab_model)
    visualize(lab_model, [logit(1), channel("l2", 3)], iterations=3)
    assert_same(before, snapshot(lab_model))


class Exploding(nn.Module):
    """The lab CNN, but its forward pass fails on the n-th call."""

    def __init__(self, model, fail_at):
        super().__init__()
        self.inner, self.calls, self.fail_at = model, 0, fail_at
        self.input_shape = model.input_shape

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("boom")
        return self.inner(x)


def test_the_model_comes_back_as_it_was_when_the_call_fails(lab_model):
    model = Exploding(lab_model, fail_at=3)
    model.train()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="boom"):
        visualize(model, unit("inner", 1), iterations=10)
    assert_same(before, snapshot(model))
    # and when the user's callback fails
    with pytest.raises(ValueError):
        visualize(lab_model, logit(0), iterations=5, callback=lambda state: int("x"))
    assert all(not m._forward_hooks for m in lab_model.modules())


def test_callback_progress_and_gif(lab_model, tmp_path):
    steps = []

    def callback(state):
        assert isinstance(state, Step) and state.inputs.shape == (2, 1, 28, 28)
        assert state.objective.shape == state.loss.shape == (2,)
        assert set(state.terms) == {"tv", "lp"} and state.terms["tv"].shape == (2,)
        steps.append(state.step)

    path = tmp_path / "run.gif"
    visualize(
        lab_model, [logit(1), logit(7)], iterations=6, callback=callback, progress=True, gif=path
    )
    assert steps == list(range(6))
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 7  # every step and the result


def test_plot_and_save(lab_model, tmp_path):
    result = visualize(lab_model, [logit(i) for i in range(3)], iterations=3)
    fig = result.plot(cols=2, title="three classes")
    texts = [t.get_text() for t in fig.axes[0].texts]  # one mosaic: every title, caption in it
    captions = [f"activation {a:.4g}" for a in result.activations]
    assert texts == [t for pair in zip(result.titles, captions, strict=True) for t in pair] + [
        "three classes"
    ]
    path = result.save(tmp_path / "grid.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary left


def test_device_argument(lab_model):
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    reference = visualize(lab_model, logit(5), iterations=4)
    for device in devices:
        result = visualize(lab_model, logit(5), iterations=4, device=device)
        assert result.inputs.device.type == "cpu"
        torch.testing.assert_close(result.inputs, reference.inputs, rtol=1e-4, atol=1e-4)
        assert next(lab_model.parameters()).device.type == "cpu"


def test_the_labs_whole_set_is_one_call(lab_model):
    tv = [0.125, 0.25, 0.5, 1, 2, 4, 8, 16]
    pairs = [(1, 7), (4, 9), (0, 1), (7, 8)]
    objectives = (
        [unit("l5", i) for i in range(10)]
        + [logit(0)] * len(tv)
        + [logit(i) for i in range(10)]
        + [units("l5", pair, pre_activation=True) for pair in pairs]
    )
    weights = [10.0] * 10 + tv + [0.5] * 14
    result = visualize(lab_model, objectives, recipe="keras-vis", tv_weight=weights, iterations=3)
    assert len(result) == 32 and result.titles[-1] == "l5:pre[7] + l5:pre[8]"


# --- errors ------------------------------------------------------------------------------------


def test_unknown_layer_lists_the_real_names(lab_model):
    with pytest.raises(LayerNotFoundError, match="the layers are: l0, l1, l1_mp"):
        visualize(lab_model, unit("l9", 0))


def test_index_out_of_range(lab_model):
    with pytest.raises(ActmaxError, match=r"it has 10 units \(0\.\.9\)"):
        visualize(lab_model, logit(10))
    with pytest.raises(LayerNotFoundError, match=r"0\.\.9"):
        visualize(lab_model, unit(12, 0))


def test_wrong_seed_shape(lab_model):
    with pytest.raises(ActmaxError, match=r"seed_input has shape \(2, 1, 28, 28\); expected"):
        visualize(lab_model, [logit(0), logit(1), logit(2)], seed_input=torch.rand(2, 1, 28, 28))
    with pytest.raises(ActmaxError, match="seed_input has shape"):
        visualize(lab_model, logit(0), seed_input=torch.rand(1, 28, 28, 1))


@pytest.mark.parametrize("bad", [(1.0, 0.0), (0.5, 0.5), (0.0, float("inf")), (0.0,), "ab", None])
def test_bad_range(lab_model, bad):
    with pytest.raises(ActmaxError, match="input_range"):
        visualize(lab_model, logit(0), input_range=bad)


def test_nan_in_the_models_output(lab_model):
    with torch.no_grad():
        lab_model.l5.linear.bias[2] = float("nan")
    message = r"NaN or infinite at the start for .*row 1 \(l5:pre\[2\]\)"
    with pytest.raises(ActmaxError, match=message):
        visualize(lab_model, [logit(0), logit(2)])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tv_weight": [1.0, 2.0]}, "tv_weight needs one value or one per objective"),
        ({"seed": 1.5}, "seed must be whole numbers"),
        ({"iterations": 0}, "iterations must be"),
        ({"recipe": "lucid"}, "unknown recipe 'lucid'; choose from actmax, keras-vis"),
        ({"lp_norm": 0.5}, "p >= 1"),
        ({"jitter": -1}, "jitter"),
        ({"titles": ["a"]}, "1 titles for 3 objectives"),
    ],
)
def test_bad_arguments(lab_model, kwargs, message):
    with pytest.raises(ActmaxError, match=message):
        visualize(lab_model, [logit(0), logit(1), logit(2)], **kwargs)


def test_objectives_must_be_objectives(lab_model):
    with pytest.raises(ActmaxError, match="no objectives"):
        visualize(lab_model, [])
    with pytest.raises(ActmaxError, match="expected Objective objects"):
        visualize(lab_model, [3])


def test_a_model_without_an_input_shape_needs_one():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    with pytest.raises(ActmaxError, match="pass input_shape"):
        visualize(model, unit("1", 0))
    result = visualize(model, unit("1", 0), input_shape=(3, 2, 2), iterations=2)
    assert result.inputs.shape == (1, 3, 2, 2)


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def test_slices_run_concurrently_and_give_what_rows_get_alone(lab_model, two_threads, tmp_path):
    """With 2 threads, 16 rows run as 2 slices of 8, each on its own thread."""
    objectives = [logit(i % 10) for i in range(15)] + [channel("l2", 1)]
    seeds = list(range(16))
    before = snapshot(lab_model)
    sliced = visualize(lab_model, objectives, seed=seeds, iterations=8, gif=tmp_path / "a.gif")
    assert torch.get_num_threads() == 2  # restored after the workers
    assert_same(before, snapshot(lab_model))
    for i in (0, 7, 8, 15):  # both sides of the cut
        alone = visualize(lab_model, objectives[i], seed=seeds[i], iterations=8)
        torch.testing.assert_close(sliced.inputs[i], alone.inputs[0], rtol=1e-4, atol=1e-5)
        for key, values in sliced.history.items():
            np.testing.assert_allclose(values[:, i], alone.history[key][:, 0], rtol=1e-4, atol=1e-5)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 9
    again = visualize(lab_model, objectives, seed=seeds, iterations=8)
    assert torch.equal(sliced.inputs, again.inputs)  # repeatable bit for bit
    visualize(lab_model, logit(0), iterations=2)  # too small to cut: one thread, then restored
    assert torch.get_num_threads() == 2


def test_a_failing_slice_stops_the_call_and_restores_the_model(lab_model, two_threads):
    model = Exploding(lab_model, fail_at=6)
    model.train()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="boom"):
        visualize(model, [unit("inner", i % 10) for i in range(16)], iterations=50)
    assert_same(before, snapshot(model))
    assert torch.get_num_threads() == 2


def test_an_existing_gif_is_never_replaced_silently(lab_model, tmp_path):
    path = tmp_path / "mine.gif"
    path.write_bytes(b"the user's file")
    with pytest.raises(ActmaxError, match="already exists; pass overwrite=True"):
        visualize(lab_model, logit(0), iterations=2, gif=path)
    assert path.read_bytes() == b"the user's file"
    visualize(lab_model, logit(0), iterations=2, gif=path, overwrite=True)
    assert path.read_bytes()[:3] == b"GIF"
