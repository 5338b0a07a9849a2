import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from keras_lab import keras, keras_lab_cnn, layers, torch_twin

from actmax.adapters import as_adapter, load
from actmax.adapters.keras import KerasAdapter, load_model
from actmax.errors import ActmaxError, LayerNotFoundError
from actmax.objectives import BatchObjective, channel, layer_mean, logit, neuron, unit, units

# Keras' own numpy conversions (get_weights) warn under numpy 2; nothing of actmax's
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

LAB_LAYERS = ["l0", "l1", "l1_mp", "l2", "l2_mp", "l3", "l3_mp", "flat", "l4", "l5"]


@pytest.fixture(scope="module")
def pair():
    model = keras_lab_cnn(seed=3)
    return model, torch_twin(model)


@pytest.fixture
def x():
    return torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_layers_are_indexed_as_the_lab_counts_them(pair):
    adapter = as_adapter(pair[0])
    assert isinstance(adapter, KerasAdapter)
    assert adapter.layer_names() == LAB_LAYERS
    assert adapter.index("l5") == 9 and adapter.resolve(9) == "l5"
    assert adapter.input_shape == (1, 28, 28)
    assert adapter.layer(-1) is pair[0].layers[9]


def test_every_layer_matches_the_torch_twin_channels_first(pair, x):
    keras_adapter, torch_adapter = as_adapter(pair[0]), as_adapter(pair[1])
    refs = [keras_adapter.ref(name) for name in LAB_LAYERS]
    refs += [keras_adapter.ref(name, pre_activation=True) for name in ("l1", "l4", "l5")]
    out, acts = keras_adapter.run(x, refs)
    twin_out, twin_acts = torch_adapter.run(x, refs)
    torch.testing.assert_close(out, twin_out)
    for ref in refs:
        assert acts[ref].shape == twin_acts[ref].shape, ref
        torch.testing.assert_close(acts[ref], twin_acts[ref], rtol=1e-5, atol=1e-5)
    assert acts[keras_adapter.ref("l3")].shape == (4, 16, 7, 7)
    torch.testing.assert_close(torch.softmax(acts[keras_adapter.ref("l5", True)], 1), out)


def test_objective_values_and_their_input_gradients_match_the_torch_twin(pair, x):
    objectives = [
        logit(3),
        unit("l5", 7),
        channel("l3", 4),
        neuron("l2", 1) - 0.5 * units("l4", [1, 7]),
        layer_mean("l1_mp"),
    ]
    values, grads = [], []
    for model in pair:
        adapter = as_adapter(model)
        batch = BatchObjective(objectives, adapter)
        inputs = x[: len(objectives) - 4].repeat(len(objectives), 1, 1, 1).requires_grad_(True)
        with adapter.frozen():
            _, acts = adapter.run(inputs, batch.refs)
            value = batch(acts)
            (grad,) = torch.autograd.grad(value.sum(), inputs)
        values.append(value.detach())
        grads.append(grad)
    torch.testing.assert_close(values[0], values[1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    assert grads[0].abs().sum() > 0


def test_pre_activation_leaves_the_model_and_its_output_untouched(pair, x):
    model = pair[0]
    activation = model.get_layer("l5").activation
    adapter = as_adapter(model)
    out, acts = adapter.run(x, [adapter.ref("l5", pre_activation=True)])
    assert model.get_layer("l5").activation is activation
    torch.testing.assert_close(out.sum(1), torch.ones(4))  # still the softmax output
    assert not torch.allclose(acts[adapter.ref("l5", True)].sum(1), torch.ones(4))


def test_activation_is_restored_when_the_forward_pass_fails(pair):
    model = pair[0]
    activation = model.get_layer("l4").activation
    adapter = as_adapter(model)
    with pytest.raises(Exception):  # noqa: B017 - whatever Keras raises for a wrong shape
        adapter.run(torch.rand(1, 1, 5, 5), [adapter.ref("l4", pre_activation=True)])
    assert model.get_layer("l4").activation is activation


def test_the_labs_swap_to_linear_makes_the_output_the_logits(x):
    model = keras_lab_cnn(seed=1)
    adapter = as_adapter(model)
    _, before = adapter.run(x, [adapter.ref("l5", pre_activation=True)])
    model.layers[9].activation = keras.activations.linear
    out, _ = adapter.run(x, [])
    torch.testing.assert_close(out, before[adapter.ref("l5", True)])


def test_pre_activation_of_a_layer_without_activation_is_refused(pair, x):
    adapter = as_adapter(pair[0])
    with pytest.raises(ActmaxError, match="'l3_mp' .*has no activation"):
        adapter.run(x, [adapter.ref("l3_mp", pre_activation=True)])


def test_separate_activation_layers_give_their_input_as_pre_activation(x):
    keras.utils.set_random_seed(0)
    inputs = layers.Input((28, 28, 1), name="image")
    logits = layers.Dense(10, name="logits")(layers.Flatten(name="flat")(inputs))
    probs = layers.Softmax(name="probs")(logits)
    adapter = as_adapter(keras.Model(inputs, probs))
    out, acts = adapter.run(x, [adapter.ref("probs", True), adapter.ref("logits")])
    torch.testing.assert_close(acts[adapter.ref("probs", True)], acts[adapter.ref("logits")])
    torch.testing.assert_close(out, torch.softmax(acts[adapter.ref("logits")], 1))


def test_sequential_models_count_their_input_as_layer_zero(x):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            layers.Input((28, 28, 1), name="image"),
            layers.Conv2D(3, 3, activation="relu", name="conv"),
            layers.Flatten(name="flat"),
            layers.Dense(2, name="out"),
        ]
    )
    adapter = as_adapter(model)
    assert [layer.name for layer in model.layers] == ["conv", "flat", "out"]
    assert adapter.layer_names() == ["image", "conv", "flat", "out"]
    _, acts = adapter.run(x, [adapter.ref(1), adapter.ref("image")])
    assert acts[adapter.ref("conv")].shape == (4, 3, 26, 26)
    assert acts[adapter.ref("image")] is x


def test_unknown_layer_names_list_the_real_ones(pair):
    with pytest.raises(LayerNotFoundError, match="the layers are: l0, l1, l1_mp"):
        as_adapter(pair[0]).ref("conv1")


def test_frozen_restores_trainable_flags_and_requires_grad(pair):
    model = pair[0]
    model.get_layer("l2").trainable = False
    try:
        with as_adapter(model).frozen():
            assert not any(p.requires_grad for p in model.parameters())
        assert [v.trainable for v in model.get_layer("l2").weights] == [False, False]
        assert all(v.value.requires_grad == v.trainable for v in model.weights)
        assert model.get_layer("l1").kernel.value.requires_grad
    finally:
        model.get_layer("l2").trainable = True


def two_input_model():
    keras.utils.set_random_seed(0)
    image = layers.Input((28, 28, 1), name="image")
    extra = layers.Input((3,), name="extra")
    joined = layers.Concatenate(name="joined")([layers.Flatten(name="flat")(image), extra])
    return keras.Model([image, extra], layers.Dense(2, name="out")(joined))


def test_several_inputs_need_a_choice():
    with pytest.raises(ActmaxError, match=r"2 inputs \(image, extra\).*input=NAME"):
        as_adapter(two_input_model())


def test_the_other_inputs_need_fixed_values():
    with pytest.raises(ActmaxError, match=r"lacks \['extra'\]"):
        as_adapter(two_input_model(), input="image")


def test_a_chosen_input_runs_with_the_others_fixed(x):
    model = two_input_model()
    extra = np.array([1.0, -2.0, 0.5], dtype="float32")
    adapter = as_adapter(model, input="image", fixed_inputs={"extra": extra})
    assert adapter.input_name == "image" and adapter.input_shape == (1, 28, 28)
    out, acts = adapter.run(x, [adapter.ref("joined")])
    expected = model([x.permute(0, 2, 3, 1), torch.from_numpy(extra).expand(4, 3)])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(
        acts[adapter.ref("joined")][:, -3:], torch.from_numpy(extra).expand(4, 3)
    )


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_saved_models_load_in_safe_mode_and_give_the_same_outputs(pair, x, tmp_path, suffix):
    path = tmp_path / f"lab{suffix}"
    pair[0].save(path)
    adapter = load(path)
    assert adapter.layer_names() == LAB_LAYERS
    torch.testing.assert_close(adapter.run(x, [])[0], as_adapter(pair[0]).run(x, [])[0])


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_text("not a model")
    with pytest.raises(ActmaxError, match="could not be loaded as a Keras model"):
        load_model(path)
    (tmp_path / "weights.pt").write_bytes(b"pickle")
    with pytest.raises(ActmaxError, match=r"pickled PyTorch checkpoint.*\(\.keras, \.h5\)"):
        load(tmp_path / "weights.pt")
    with pytest.raises(ActmaxError, match="no model file"):
        load_model(tmp_path / "missing.keras")


def test_safe_mode_refuses_code_stored_in_the_file(tmp_path):
    inputs = layers.Input((2,))
    model = keras.Model(inputs, layers.Lambda(lambda t: t * 2, name="double")(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ActmaxError, match="could not be loaded.*(unsafe|safe_mode)"):
        load_model(path)


def test_tf_keras_models_are_refused_with_what_to_do():
    legacy = type("Functional", (), {"__module__": "tf_keras.src.engine.functional"})()
    with pytest.raises(ActmaxError, match="Keras 3 on its torch backend"):
        as_adapter(legacy)


def test_another_keras_backend_is_refused_with_what_to_do(pair, monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    with pytest.raises(ActmaxError, match="'tensorflow' backend, but actmax needs") as error:
        as_adapter(pair[0])
    assert "KERAS_BACKEND=torch before Python imports keras" in str(error.value)


def test_a_backend_keras_cannot_start_is_explained():
    code = textwrap.dedent(
        """
        from actmax.adapters.keras import import_keras
        from actmax.errors import ActmaxError
        try:
            import_keras()
        except ActmaxError as error:
            print(error)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "could not start its 'tensorflow' backend" in result.stdout
    assert "KERAS_BACKEND=torch" in result.stdout


def test_has_pre_activation_says_which_layers_have_logits_to_read(pair):
    adapter = as_adapter(pair[0])
    assert adapter.has_pre_activation("l5") and adapter.has_pre_activation(5)
    assert not adapter.has_pre_activation("l3_mp") and not adapter.has_pre_activation("l0")


def test_run_leaves_every_layer_as_it_was(pair, x):
    adapter = as_adapter(pair[0])
    refs = [adapter.ref(name) for name in LAB_LAYERS] + [adapter.ref("l3", pre_activation=True)]
    adapter.run(x, refs)
    assert not any("call" in layer.__dict__ for layer in pair[0].layers)


def test_gradients_reach_a_recorded_channels_first_activation(pair, x):
    adapter = as_adapter(pair[0])
    ref, target = adapter.ref("l2"), adapter.ref("l5", pre_activation=True)
    _, acts = adapter.run(x, [ref, target])
    (grad,) = torch.autograd.grad(acts[target][:, 1].sum(), acts[ref])
    assert grad.shape == (4, 9, 14, 14) and grad.abs().sum() > 0


def test_layers_inside_a_nested_model_are_reachable_by_name(x):
    keras.utils.set_random_seed(0)
    inner_in = layers.Input((28, 28, 1), name="inner_in")
    inner = keras.Model(inner_in, layers.Conv2D(4, 3, name="inner_conv")(inner_in), name="base")
    outer_in = layers.Input((28, 28, 1), name="image")
    head = layers.Dense(2, name="head")(layers.Flatten(name="flat")(inner(outer_in)))
    adapter = as_adapter(keras.Model(outer_in, head))
    assert adapter.layer_names() == ["image", "base", "flat", "head"]
    _, acts = adapter.run(x, [adapter.ref("inner_conv"), adapter.ref("base")])
    assert acts[adapter.ref("inner_conv")].shape == (4, 4, 26, 26)
    torch.testing.assert_close(acts[adapter.ref("inner_conv")], acts[adapter.ref("base")])


def test_channels_first_keras_models_take_actmax_images_as_they_are(x):
    keras.utils.set_random_seed(0)
    inputs = layers.Input((1, 28, 28), name="image")
    conv = layers.Conv2D(3, 3, data_format="channels_first", name="conv")(inputs)
    model = keras.Model(inputs, layers.Dense(2, name="out")(layers.Flatten(name="flat")(conv)))
    adapter = as_adapter(model)
    assert not adapter.channels_last and adapter.input_shape == (1, 28, 28)
    out, acts = adapter.run(x, [adapter.ref("conv")])
    torch.testing.assert_close(acts[adapter.ref("conv")], model.get_layer("conv")(x))
    torch.testing.assert_close(out, model(x))
