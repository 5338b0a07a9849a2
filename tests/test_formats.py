"""Models from anywhere: one loader for a path, each format one small object."""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import actmax
from actmax import logit
from actmax.adapters import (
    ModelFormat,
    TorchAdapter,
    as_adapter,
    known_formats,
    load,
    register_format,
)
from actmax.adapters import formats as format_registry
from actmax.attribution import grad_cam, saliency
from actmax.errors import ActmaxError
from actmax.lab.checkpoint import save_model


class Rgb(nn.Module):
    """A small RGB classifier on non-square images, ending in nn.Linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


SHAPE = (3, 10, 14)


def export(model: nn.Module, path: Path, dynamic: bool = True) -> Path:
    dims = ({0: torch.export.Dim("batch")},) if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model.eval(), (torch.rand(2, *SHAPE),), dynamic_shapes=dims)
        torch.export.save(program, str(path))
    return path


@pytest.fixture(scope="module")
def rgb():
    torch.manual_seed(0)
    return Rgb().eval()


@pytest.fixture(scope="module")
def pt2(rgb, tmp_path_factory):
    return export(rgb, tmp_path_factory.mktemp("pt2") / "rgb.pt2")


def test_a_pt2_keeps_its_layer_names_shape_and_outputs(rgb, pt2):
    adapter = as_adapter(pt2)
    assert isinstance(adapter, TorchAdapter)
    assert adapter.input_shape == SHAPE
    assert adapter.layer_names()[1:] == ["features", "pool", "fc"]
    assert "features.0" in adapter.all_names()
    x = torch.rand(4, *SHAPE)
    out, acts = adapter.run(x, [adapter.ref("features.1"), adapter.logit_ref()])
    torch.testing.assert_close(out, rgb(x))
    torch.testing.assert_close(acts[adapter.ref("features.1")], rgb.features[:2](x))
    assert str(adapter.logit_ref()) == "fc"


def test_every_api_takes_a_path(rgb, pt2):
    x = torch.rand(2, *SHAPE)
    torch.testing.assert_close(
        torch.from_numpy(saliency(pt2, x, target=1).raw),
        torch.from_numpy(saliency(rgb, x, target=1).raw),
    )
    cam = grad_cam(pt2, x, target=[0, 4])
    assert cam.layer == "features" and cam.maps.shape == (2, 10, 14)
    result = actmax.visualize(as_adapter(pt2), [logit(0), logit(2)], iterations=3)
    assert result.inputs.shape == (2, *SHAPE) and result.titles == ["fc[0]", "fc[2]"]


def test_a_pt2_for_a_fixed_batch_says_how_to_export_it(rgb, tmp_path):
    path = export(rgb, tmp_path / "fixed.pt2", dynamic=False)
    adapter = load(path)
    assert adapter.resolve(-1) == "fc"  # a batch of 1 is not needed: the export's own 2
    with pytest.raises(ActmaxError, match=r"exported for a batch of exactly 2, not 3.*Dim"):
        adapter.run(torch.rand(3, *SHAPE), [])


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of a .pt2 archive with `change(relative_name, data) -> data | None` applied
    (None drops the entry), plus the extra entries `change` returns for the key None."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        root = old.namelist()[0].split("/", 1)[0]
        for info in old.infolist():
            data = change(info.filename.split("/", 1)[1], old.read(info))
            if data is not None:
                new.writestr(info.filename, data)
        for name, data in (change(None, None) or {}).items():
            new.writestr(f"{root}/{name}", data)
    return target


class _Payload:
    """Unpickling this writes a file: proof that pickled code ran."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "code ran"))


def test_a_pt2_that_would_unpickle_or_load_compiled_code_is_refused(pt2, tmp_path):
    proof = tmp_path / "proof.txt"
    evil = pickle.dumps(_Payload(proof))

    def pickled_weights(name, data):
        if name == "data/weights/model_weights_config.json":
            config = json.loads(data)
            first = next(iter(config["config"].values()))
            first["use_pickle"] = True
            return json.dumps(config).encode()
        return data

    def evil_samples(name, data):
        return evil if name == "data/sample_inputs/model.pt" else data

    def compiled(name, data):
        return {"data/aotinductor/model/model.so": b"\x7fELF"} if name is None else data

    cases = {
        "pickled_weights": (pickled_weights, "pickled object"),
        "evil_samples": (evil_samples, "not plain tensors"),
        "compiled": (compiled, "pickled data or compiled code"),
    }
    for name, (change, message) in cases.items():
        path = _rewrite(pt2, tmp_path / f"{name}.pt2", change)
        with pytest.raises(ActmaxError, match=message):
            load(path)
    assert not proof.exists()
    with pytest.raises(ActmaxError, match="not a .pt2 archive"):
        (tmp_path / "junk.pt2").write_bytes(b"junk")
        load(tmp_path / "junk.pt2")


def test_a_run_folder_opens_through_the_labs_entry_point(tmp_path, lab_model):
    assert "run-folder" in [f.name for f in known_formats()]
    folder = save_model(lab_model, tmp_path / "run", "lab_cnn")
    adapter = load(folder)
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(adapter.run(x, [])[0], lab_model.eval()(x))
    assert load(folder / "model.safetensors").layer_names() == adapter.layer_names()
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.json").write_text("{}")
    with pytest.raises(ActmaxError, match="holds no model saved by actmax"):
        load(tmp_path / "half")


def test_a_new_format_is_one_object(tmp_path, monkeypatch):
    """A format for `.npz` files holding the weights of a linear classifier."""
    monkeypatch.setattr(format_registry, "_registered", [])

    def open_npz(path, input_shape=None, preprocess=None):
        weights = np.load(path)
        model = nn.Sequential(nn.Flatten(), nn.Linear(*weights["w"].shape[::-1]))
        with torch.no_grad():
            model[1].weight.copy_(torch.from_numpy(weights["w"]))
            model[1].bias.zero_()
        return as_adapter(model, input_shape=input_shape or (1, 2, 2), preprocess=preprocess)

    register_format(
        ModelFormat("npz", "linear weights (.npz)", lambda p: p.suffix == ".npz", open_npz)
    )
    np.savez(tmp_path / "linear.npz", w=np.eye(3, 4, dtype=np.float32))
    result = saliency(tmp_path / "linear.npz", torch.zeros(1, 1, 2, 2), target=2)
    np.testing.assert_array_equal(result.raw.reshape(-1), np.eye(3, 4)[2])
    assert "linear weights (.npz)" in [f.description for f in known_formats()]


def test_an_unknown_path_lists_what_opens(tmp_path):
    (tmp_path / "model.xyz").write_text("?")
    with pytest.raises(
        ActmaxError, match=r"not a model actmax can open.*\.onnx.*\.pt2.*run folder"
    ):
        load(tmp_path / "model.xyz")
    with pytest.raises(ActmaxError, match="no model file or folder at"):
        as_adapter(tmp_path / "missing.onnx")


def test_torch_onnx_export_default_exporter_output_opens(rgb, tmp_path):
    """torch.onnx.export's default (dynamo) exporter needs onnxscript, which the onnx extra
    installs; its Reshape(allowzero=1) and opset are normalized for onnx2torch."""
    path = tmp_path / "rgb.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            rgb,
            (torch.rand(2, *SHAPE),),
            str(path),
            input_names=["image"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,
        )
    adapter = load(path)
    x = torch.rand(3, *SHAPE)
    torch.testing.assert_close(adapter.run(x, [])[0], rgb(x), atol=1e-5, rtol=1e-4)
    logits = adapter.logit_ref()
    assert not logits.pre_activation  # a Gemm: the logits are its output
    _, acts = adapter.run(x, [logits])
    torch.testing.assert_close(acts[logits], rgb(x), atol=1e-5, rtol=1e-4)
