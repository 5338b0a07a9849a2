"""What an atlas covers and how its work is cut: every unit once, blocks within layers."""

import dataclasses

import numpy as np
import pytest
from atlas_helpers import lab_model

from actmax.adapters import as_adapter
from actmax.atlas import AtlasSettings, make_plan
from actmax.atlas.plan import HISTOGRAM, MAPS, OPTIMIZE, SCAN, slugify
from actmax.errors import ActmaxError


@pytest.fixture(scope="module")
def adapter():
    return as_adapter(lab_model())


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((1000, 1, 28, 28), dtype=np.float32)


def test_all_means_every_layer_with_weights_and_the_softmax_is_read_as_logits(adapter, images):
    plan = make_plan(adapter, images, "all")
    assert [x.name for x in plan.layers] == ["l1", "l2", "l3", "l4", "l5"]
    assert [x.units for x in plan.layers] == [9, 9, 16, 25, 10]
    assert plan.unit_count == 69
    assert [x.kind for x in plan.layers] == ["channels", "channels", "channels", "units", "logits"]
    assert [x.shape for x in plan.layers][:3] == [(9, 28, 28), (9, 14, 14), (16, 7, 7)]
    logits = plan.units[-1].objective()
    assert logits.terms[0].pre_activation and logits.terms[0].kind == "unit"
    assert plan.units[0].objective().terms[0].kind == "channel"


def test_shards_cover_every_unit_and_image_once(adapter, images):
    settings = AtlasSettings(block=4, chunk=256, batch=128)
    plan = make_plan(adapter, images, "l2,l5", settings)
    for kind in (OPTIMIZE, MAPS):
        covered = [n for s in plan.of_kind(kind) for n in range(s.start, s.stop)]
        assert covered == list(range(plan.unit_count))
        for shard in plan.of_kind(kind):  # a block never crosses layers
            assert plan.layer_of(shard.start) == plan.layer_of(shard.stop - 1)
            assert shard.stop - shard.start <= 4
    for kind in (SCAN, HISTOGRAM):
        covered = [i for s in plan.of_kind(kind) for i in range(s.start, s.stop)]
        assert covered == list(range(1000))
        assert all(s.start % 128 == 0 for s in plan.of_kind(kind))
    names = [s.name for s in plan.shards]
    assert len(names) == len(set(names))


def test_layers_by_name_or_index_and_clear_errors(adapter, images):
    assert [x.name for x in make_plan(adapter, images, ["1", "l4"]).layers] == ["l1", "l4"]
    with pytest.raises(ActmaxError, match="no layer named 'l9'; the layers are"):
        make_plan(adapter, images, "l1,l9")
    with pytest.raises(ActmaxError, match="the model's input"):
        make_plan(adapter, images, "l0")
    with pytest.raises(ActmaxError, match="images are \\(1, 32, 32\\) but the model takes"):
        make_plan(adapter, images[:, :, :1].repeat(32, 2).repeat(32, 3)[:, :, :32, :32], "l1")


def test_settings_are_checked():
    with pytest.raises(ActmaxError, match="multiple of the forward batch"):
        AtlasSettings(chunk=300, batch=256)
    with pytest.raises(ActmaxError, match="seeds must be a whole number >= 1"):
        AtlasSettings(seeds=0)
    with pytest.raises(ActmaxError, match="unknown recipe"):
        AtlasSettings(recipe="deepdream")


def test_the_fingerprint_follows_settings_weights_and_data(adapter, images):
    base = make_plan(adapter, images, "l1")
    assert make_plan(adapter, images, "l1").fingerprint == base.fingerprint
    other = make_plan(adapter, images, "l1", dataclasses.replace(AtlasSettings(), seeds=2))
    assert other.fingerprint != base.fingerprint
    assert make_plan(adapter, images[:999], "l1").fingerprint != base.fingerprint
    changed = lab_model()
    changed.l1.conv.bias.data[0] += 1e-3
    assert make_plan(as_adapter(changed), images, "l1").fingerprint != base.fingerprint


def test_slugs_are_file_safe_and_distinct():
    assert slugify(["layer1.0.conv1", "/conv/Conv", "a b", "a_b", ".."]) == [
        "layer1.0.conv1",
        "_conv_Conv",
        "a_b",
        "a_b-2",
        "layer",
    ]
