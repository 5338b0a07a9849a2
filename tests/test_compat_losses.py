"""keras-vis' losses, regularizers, input modifiers and callbacks on actmax's engine."""

import numpy as np
import pytest
import torch
from keras_lab import keras, keras_lab_cnn, torch_twin

from actmax.compat.keras import backend as K
from actmax.compat.vis.callbacks import GifGenerator, OptimizerCallback, Print
from actmax.compat.vis.graph import bind
from actmax.compat.vis.input_modifiers import AxisJitter, InputModifier, Jitter
from actmax.compat.vis.losses import ActivationMaximization, Loss
from actmax.compat.vis.optimizer import Optimizer
from actmax.compat.vis.regularizers import LPNorm, TotalVariation
from actmax.compat.vis.tensors import Handle, live
from actmax.compat.vis.utils import utils
from actmax.compat.vis.visualization import (
    visualize_activation,
    visualize_activation_with_losses,
)
from actmax.errors import ActmaxError
from actmax.objectives import unit
from actmax.regularizers import LpNorm, lp_norm, total_variation
from actmax.regularizers import TotalVariation as CoreTV
from actmax.transforms import Jitter as JitterTransform

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
ITERS = 8


@pytest.fixture(scope="module")
def pair():
    model = keras_lab_cnn(seed=4)
    return model, torch_twin(model)


class KerasUnit(Loss):
    """A user's loss in keras-vis' style: minus one unit of a Keras layer."""

    def __init__(self, layer, index):
        self.name = "keras unit"
        self.layer, self.index = layer, index

    def build_loss(self):
        return -K.mean(self.layer.output[:, self.index])


class TorchUnit(Loss):
    """The same loss on a PyTorch model, through a handle of the layer's output."""

    def __init__(self, output, index):
        self.name = "torch unit"
        self.output, self.index = output, index

    def build_loss(self):
        return -self.output[:, self.index].mean()


def keras_vis_losses(loss, image_input):
    return [(loss, 1), (LPNorm(image_input), 10), (TotalVariation(image_input), 10)]


def test_a_users_loss_runs_in_the_engine_as_keras_vis_own(pair):
    """A custom Loss that recomputes ActivationMaximization gives the same image as the
    built-in one, which runs as actmax's objective: on Keras and PyTorch alike."""
    keras_model, twin = pair
    expected = visualize_activation(keras_model, 9, 3, input_range=(0.0, 1.0), max_iter=ITERS)
    inp = keras_model.input
    mine = visualize_activation_with_losses(
        inp,
        keras_vis_losses(KerasUnit(keras_model.layers[9], 3), inp),
        input_range=(0.0, 1.0),
        max_iter=ITERS,
    )
    np.testing.assert_allclose(mine, expected, atol=1e-6)
    handle = utils.model_input(twin)
    theirs = visualize_activation_with_losses(
        handle,
        keras_vis_losses(TorchUnit(utils.layer_output(twin, 9), 3), handle),
        input_range=(0.0, 1.0),
        max_iter=ITERS,
    )
    np.testing.assert_allclose(theirs, expected, atol=1e-4)


def test_keras_vis_own_losses_map_onto_actmax_parts(pair):
    keras_model, twin = pair
    inp = keras_model.input
    bound = bind(
        inp,
        [
            (ActivationMaximization(keras_model.layers[9], [1, 7]), 2),
            (TotalVariation(inp, beta=1.5), 3),
            (LPNorm(inp, p=4), 0),  # weight 0: left out, as keras-vis leaves it out
            (LPNorm(inp), None),  # keras-vis: "not used if 0 or None"
            (KerasUnit(keras_model.layers[9], 2), 1),
        ],
    )
    assert [e.kind for e in bound.entries] == ["objective", "prior", "evaluated"]
    assert bound.regularizers() == [CoreTV(weight=3.0, beta=1.5, name="tv")]
    objective, act_weight = bound.maximized()
    assert act_weight == 1.0 and [t.kind for t in objective.terms] == ["unit", "unit", "custom"]
    alone = bind(twin, [(ActivationMaximization("l5", 4), 5), (LPNorm(utils.model_input(twin)), 1)])
    assert alone.maximized() == (unit("l5", 4), 5.0)
    assert alone.regularizers() == [LpNorm(weight=1.0, p=6.0, name="lp")]


class Record(OptimizerCallback):
    def __init__(self):
        self.steps, self.ended = [], 0

    def callback(self, i, named_losses, overall_loss, grads, wrt_value):
        self.steps.append((i, named_losses, overall_loss, grads.copy(), wrt_value.copy()))

    def on_end(self):
        self.ended += 1


def test_callbacks_see_keras_vis_named_losses_measured_on_the_scored_input(pair):
    keras_model, twin = pair
    seed = np.random.default_rng(0).uniform(0.4, 0.6, (28, 28, 1)).astype(np.float32)
    for model in pair:
        record = Record()
        visualize_activation(
            model, 9, 3, seed_input=seed, input_range=(0.0, 1.0), max_iter=3, callbacks=[record]
        )
        assert record.ended == 1 and [s[0] for s in record.steps] == [0, 1, 2]
        i, named, overall, grads, wrt = record.steps[0]
        assert [n for n, _ in named] == ["ActivationMax Loss", "L-6.0 Norm Loss", "TV(2.0) Loss"]
        x = torch.from_numpy(seed).permute(2, 0, 1)[None]
        with torch.no_grad():
            out = twin(x)  # the softmax's output, as keras-vis reads layer.output
        expected = [
            -float(out[0, 3]),
            10 * float(lp_norm(x, 6.0)[0]),
            10 * float(total_variation(x, 2.0)[0]),
        ]
        np.testing.assert_allclose([v for _, v in named], expected, rtol=1e-4)
        assert overall == pytest.approx(sum(expected), rel=1e-4, abs=1e-6)
        layout = (1, 28, 28, 1) if model is keras_model else (1, 1, 28, 28)
        assert grads.shape == wrt.shape == layout
        np.testing.assert_allclose(np.linalg.norm(grads), 1.0, rtol=1e-5)  # L2-normalized
        np.testing.assert_allclose(wrt.reshape(-1), seed.reshape(-1), atol=1e-6)


def test_print_is_keras_vis_verbose(pair, capsys):
    visualize_activation(pair[1], 9, 0, input_range=(0.0, 1.0), max_iter=2, verbose=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Iter")]
    assert len(lines) == 2
    assert lines[0].startswith("Iteration: 1, named_losses: [('ActivationMax Loss', ")
    Print().callback(4, [("a", 1.0)], 1.0, None, None)
    assert (
        capsys.readouterr().out == "Iteration: 5, named_losses: [('a', 1.0)], overall loss: 1.0\n"
    )


def test_gif_generator_writes_one_frame_per_step_and_never_overwrites(pair, tmp_path):
    path = tmp_path / "steps"
    visualize_activation(
        pair[1], 9, 0, input_range=(0.0, 1.0), max_iter=4, callbacks=[GifGenerator(path)]
    )
    from PIL import Image

    with Image.open(tmp_path / "steps.gif") as gif:
        assert gif.n_frames == 4 and gif.size == (28, 28)
    with pytest.raises(ActmaxError, match="already exists; pass overwrite=True"):
        GifGenerator(tmp_path / "steps.gif")
    GifGenerator(tmp_path / "steps.gif", overwrite=True)


def test_jitter_becomes_actmax_shifts_with_keras_vis_pixel_counts():
    assert Jitter(0.05).pixels((28, 28)) == [1, 1]  # a fraction of each dimension
    assert Jitter(16).pixels((224, 224)) == [16, 16]  # pixels
    assert Jitter(0.05).transform((28, 28)) == JitterTransform(1)
    assert Jitter([0.1, 3]).transform((28, 40)) == AxisJitter((2, 3))
    assert Jitter(0.01).transform((28, 28)) == JitterTransform(0)  # less than a pixel: none
    with pytest.raises(ValueError, match="positive"):
        Jitter(-1)
    with pytest.raises(RuntimeError, match="does not match the number of image dims"):
        Jitter([1, 2, 3]).pixels((28, 28))
    np.random.seed(0)
    image = np.arange(2 * 5 * 5 * 1, dtype=np.float32).reshape(2, 5, 5, 1)
    rolled = Jitter(2).pre(image)  # keras-vis' own pre: a roll of the stored image
    shifts = {
        (dy, dx)
        for dy in range(-2, 3)
        for dx in range(-2, 3)
        if np.array_equal(np.roll(image, (dy, dx), axis=(1, 2)), rolled)
    }
    assert len(shifts) == 1


def test_jitter_in_visualize_activation_shifts_what_the_model_sees(pair):
    model = pair[1]
    options = {"input_range": (0.0, 1.0), "max_iter": ITERS, "lp_norm_weight": 0, "tv_weight": 0}
    plain = visualize_activation(model, 9, 3, **options)
    jittered = visualize_activation(model, 9, 3, input_modifiers=[Jitter(2)], **options)
    again = visualize_activation(model, 9, 3, input_modifiers=[Jitter(2)], **options)
    assert not np.allclose(plain, jittered)
    np.testing.assert_array_equal(jittered, again)  # the shifts come from the seed


class Flatten(InputModifier):
    """A user's modifier: sets the stored image to 0.3 before each step, counts the steps."""

    def __init__(self):
        self.pre_shapes, self.posts = [], 0

    def pre(self, inp):
        self.pre_shapes.append(inp.shape)
        return np.full_like(inp, 0.3)

    def post(self, inp):
        self.posts += 1
        return inp


def test_a_users_input_modifier_runs_on_the_stored_image_as_keras_vis_ran_it(pair):
    for model, layout in zip(pair, [(1, 28, 28, 1), (1, 1, 28, 28)], strict=True):
        modifier = Flatten()
        record = Record()
        visualize_activation(
            model,
            9,
            3,
            input_range=(0.0, 1.0),
            max_iter=3,
            input_modifiers=[modifier],
            callbacks=[record],
        )
        assert modifier.pre_shapes == [layout] * 3 and modifier.posts == 3
        for step in record.steps:  # every step scored the image its pre() left
            np.testing.assert_array_equal(step[4], np.full(layout, 0.3, np.float32))


def test_grad_modifier_negate_minimizes_the_unit(pair):
    model = pair[1]
    up, down = Record(), Record()
    visualize_activation(
        model,
        9,
        3,
        input_range=(0.0, 1.0),
        max_iter=6,
        callbacks=[up],
        lp_norm_weight=0,
        tv_weight=0,
    )
    visualize_activation(
        model,
        9,
        3,
        input_range=(0.0, 1.0),
        max_iter=6,
        callbacks=[down],
        lp_norm_weight=0,
        tv_weight=0,
        grad_modifier="negate",
    )
    assert up.steps[-1][1][0][1] < up.steps[0][1][0][1]  # the loss (minus the unit) falls
    assert down.steps[-1][1][0][1] > down.steps[0][1][0][1]
    assert [name for name, _ in up.steps[0][1]] == ["ActivationMax Loss"]  # weights 0: left out


def test_the_optimizer_takes_gradients_with_respect_to_a_layer_without_moving_the_input():
    inputs = keras.Input((2,))
    outputs = keras.layers.Dense(3, name="d")(inputs)
    model = keras.Model(inputs, outputs)

    class Energy(Loss):
        def __init__(self):
            self.name = "energy"
            self.output = model.output

        def build_loss(self):
            return K.sum(self.output * self.output)

    seed = np.array([[0.5, -1.0]], dtype=np.float32)
    moving = Optimizer(model.input, [(Energy(), 1)])
    probe = Optimizer(model.input, [(Energy(), 1)], wrt_tensor=model.output, norm_grads=False)
    assert moving.wrt_tensor_is_input_tensor and not probe.wrt_tensor_is_input_tensor
    assert moving.wrt_tensor != moving.input_tensor and probe.wrt_tensor is not None
    image, grads, wrt_value = probe.minimize(seed, max_iter=3, verbose=False)
    out = model(torch.from_numpy(seed)).detach().numpy()
    np.testing.assert_allclose(wrt_value, out, rtol=1e-6)
    np.testing.assert_allclose(grads, 2 * out, rtol=1e-6)  # d sum(y^2) / dy
    image, grads, wrt_value = moving.minimize(seed, max_iter=3, verbose=False)
    assert image.shape == (2,) and grads.shape == wrt_value.shape == (1, 2)


def test_unclear_losses_are_one_clear_error(pair):
    keras_model, twin = pair

    class Several(Loss):
        def __init__(self):
            self.name = "several"
            self.output = utils.layer_output(twin, 9)

        def build_loss(self):
            return -self.output[0, :3]

    class NotSymbolic(Loss):
        def build_loss(self):
            return torch.tensor(1.0)

    with pytest.raises(ActmaxError, match="several: build_loss\\(\\) gives 3 values"):
        visualize_activation_with_losses(twin, [(Several(), 1)], max_iter=2)
    with pytest.raises(ActmaxError, match="returns a symbolic tensor"):
        visualize_activation_with_losses(keras_model.input, [(NotSymbolic(), 1)], max_iter=2)
    with pytest.raises(ActmaxError, match="has a value only while actmax evaluates a loss"):
        utils.layer_output(twin, 9).mean()
    with pytest.raises(ActmaxError, match="not a vis.losses.Loss"):
        visualize_activation_with_losses(twin, [("tv", 1)])
    with pytest.raises(ValueError, match="p value should range"):
        LPNorm(keras_model.input, p=0.5)


def test_handles_compare_by_identity_and_act_as_tensors_in_a_loss(pair):
    twin = pair[1]
    a, b = utils.layer_output(twin, 9), utils.layer_output(twin, 9)
    assert a != b and a == a and isinstance(a, Handle)
    assert "l5" in repr(a) and "input" in repr(utils.model_input(twin))
    value = torch.tensor([[1.0, -2.0, 3.0]])
    with live({a.key: value}):
        assert torch.equal(a * 2 - 1, value * 2 - 1) and torch.equal(1 - a, 1 - value)
        assert torch.equal(torch.sum(a**2), torch.tensor(14.0)) and a.shape == (1, 3)
        assert float(K.sum(abs(a))) == 6.0 and torch.equal(a[:, 1], value[:, 1])
        assert float(b.mean()) == pytest.approx(2 / 3)  # same layer, same model: same tensor
