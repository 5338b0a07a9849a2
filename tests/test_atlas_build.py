"""A small atlas of the lab CNN built in this process: its pages and images, the exactness of its
merged top-k, its maps, and resuming an interrupted run."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from atlas_helpers import (
    IMAGES,
    LAYERS,
    QUICK,
    assert_same_shards,
    lab_model,
    mnist_images,
    shard_files,
)

from actmax.adapters import as_adapter
from actmax.atlas import build_atlas, make_plan
from actmax.atlas import work as atlas_work
from actmax.atlas.build import merged_scan
from actmax.atlas.plan import MAPS, OPTIMIZE
from actmax.atlas.store import ShardStore
from actmax.attribution import saliency
from actmax.errors import ActmaxError


def quick(out, **options):
    options = {"layers": LAYERS, "settings": QUICK, "progress": False, **options}
    return build_atlas(lab_model(), mnist_images(), out, **options)


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    out = tmp_path_factory.mktemp("atlas") / "site"
    summary = quick(out)
    adapter = as_adapter(lab_model())
    images = mnist_images()
    plan = make_plan(adapter, images, LAYERS, QUICK)
    return out, summary, plan, adapter, images


def test_every_page_and_image_is_written(atlas):
    out, summary, plan, _, _ = atlas
    assert summary.units == 35 == plan.unit_count
    assert summary.shards_run == len(plan.shards) and summary.shards_resumed == 0
    assert f"atlas: 35 units in {summary.seconds:.1f} s" in summary.line()
    assert summary.units_per_second > 0
    assert summary.index == out / "index.html" and summary.index.exists()
    for layer in plan.layers:
        assert (out / "layers" / f"{layer.slug}.html").exists()
        for k in range(layer.units):
            assert (out / "units" / layer.slug / f"{k}.html").exists()
            names = {p.name for p in (out / "images" / layer.slug / str(k)).iterdir()}
            expected = {"fv0.png", "fv1.png"}
            expected |= {f"{w}{i}.png" for w in ("top", "bottom") for i in range(9)}
            assert names == expected
    page = (out / "units" / "l3" / "4.html").read_text()
    assert page.count('src="../../images/l3/4/top') == 9
    assert "data:image" not in page  # images are files, never inline
    recorded = json.loads((out / "atlas.json").read_text())
    assert recorded["fingerprint"] == plan.fingerprint


def test_merged_top_k_is_exactly_one_pass_over_all_the_data(atlas, tmp_path):
    out, _, plan, adapter, images = atlas
    merged = merged_scan(plan, ShardStore(out))
    # one shard holding all the data
    whole = dataclasses.replace(QUICK, chunk=IMAGES)
    single = make_plan(adapter, images, LAYERS, whole)
    store = ShardStore(tmp_path)
    store.open(single, resume=False)
    job = atlas_work.Job(single, adapter, images)
    (scan,) = [s for s in single.shards if s.kind == "scan"]
    store.write(scan, atlas_work.run_shard(scan, job)[0])
    one_pass = merged_scan(single, store)
    for name in ("top_scores", "top_index", "bottom_scores", "bottom_index", "low", "high"):
        assert np.array_equal(getattr(merged, name), getattr(one_pass, name)), name
    # and a plain sort of every unit's scores, read straight from the model
    refs = [adapter.ref(x.name, x.pre_activation) for x in plan.layers]
    columns = []
    with torch.no_grad():
        for first in range(0, IMAGES, QUICK.batch):
            _, acts = adapter.run(torch.from_numpy(images[first : first + QUICK.batch]), refs)
            columns.append(
                torch.cat([a.flatten(2).mean(2) if a.dim() > 2 else a for a in acts.values()], 1)
            )
    scores = torch.cat(columns).numpy()
    for unit in range(plan.unit_count):
        order = np.lexsort((np.arange(IMAGES), -scores[:, unit]))[:9]
        assert merged.top_index[unit].tolist() == order.tolist()
        np.testing.assert_allclose(merged.top_scores[unit], scores[order, unit], rtol=1e-5)
        lowest = np.lexsort((np.arange(IMAGES), scores[:, unit]))[:9]
        assert merged.bottom_index[unit].tolist() == lowest.tolist()


def test_maps_are_the_units_activation_maps_and_input_gradients(atlas):
    out, _, plan, adapter, images = atlas
    store = ShardStore(out)
    merged = merged_scan(plan, store)
    blocks = plan.of_kind(MAPS)
    l3 = next(s for s in blocks if plan.layer_of(s.start).name == "l3")
    maps = store.read(l3)["maps"]
    unit = plan.units[l3.start]
    first = merged.top_index[unit.number, 0]
    with torch.no_grad():
        _, acts = adapter.run(torch.from_numpy(images[first : first + 1]), [adapter.ref("l3")])
    expected = acts[adapter.ref("l3")][0, unit.index].numpy()
    assert maps.shape == (l3.stop - l3.start, 18, 7, 7)
    np.testing.assert_allclose(maps[0, 0], expected, atol=1e-6)
    logits = next(s for s in blocks if plan.layer_of(s.start).name == "l5")
    maps = store.read(logits)["maps"]
    unit = plan.units[logits.start + 2]
    lowest = merged.bottom_index[unit.number, 0]
    gradient = saliency(adapter, images[lowest : lowest + 1], unit.objective()).maps[0]
    assert maps.shape == (logits.stop - logits.start, 18, 28, 28)
    np.testing.assert_allclose(maps[2, 9], gradient, atol=1e-6)


def test_each_seed_is_its_own_visualization(atlas):
    out, _, plan, _, _ = atlas
    fv = ShardStore(out).read(plan.of_kind(OPTIMIZE)[0])
    assert fv["images"].shape == (8, 2, 28, 28, 1)
    assert fv["activations"].shape == (8, 2)
    assert not np.array_equal(fv["images"][:, 0], fv["images"][:, 1])
    assert fv["images"].min() >= 0 and fv["images"].max() <= 1


def test_diversity_pushes_a_units_seeds_apart(atlas):
    _, _, _, adapter, images = atlas

    def seed_similarity(weight: float) -> float:
        """Mean cosine similarity between the (centred) images of a unit's 3 seeds."""
        settings = dataclasses.replace(QUICK, seeds=3, block=16, diversity=weight)
        plan = make_plan(adapter, images, "l3", settings)
        shard = plan.of_kind(OPTIMIZE)[0]
        arrays, _ = atlas_work.run_shard(shard, atlas_work.Job(plan, adapter, images))
        x = arrays["images"].reshape(16, 3, -1)
        x = x - x.mean(-1, keepdims=True)
        x /= np.linalg.norm(x, axis=-1, keepdims=True)
        similarity = np.einsum("usp,utp->ust", x, x)
        return float(((similarity.sum((1, 2)) - 3) / 6).mean())

    alone, apart = seed_similarity(0.0), seed_similarity(1.0)
    assert apart < alone / 2, (alone, apart)


class Interrupted(BaseException):
    """Stands in for a kill: not an Exception, so nothing on the way catches it."""


def test_resume_skips_finished_shards_and_gives_the_same_atlas(atlas, tmp_path, monkeypatch):
    reference, _, plan, _, _ = atlas
    out = tmp_path / "resumed"
    written, original_write = [], ShardStore.write

    def dies_after_five(self, shard, arrays):
        if len(written) == 5:
            raise Interrupted
        written.append(shard.name)
        return original_write(self, shard, arrays)

    monkeypatch.setattr(ShardStore, "write", dies_after_five)
    with pytest.raises(Interrupted):
        quick(out)
    monkeypatch.setattr(ShardStore, "write", original_write)
    assert sorted(shard_files(out)) == sorted(f"{name}.npz" for name in written)
    # a write cut short by the kill leaves only a hidden temporary file, never a shard
    (out / "shards" / ".optimize-00001.npz.abc.tmp").write_bytes(b"half a file")
    assert not (out / "index.html").exists()

    ran = []
    original_run = atlas_work.run_shard

    def counting(shard, job, threads=None):
        ran.append(shard.name)
        return original_run(shard, job, threads)

    monkeypatch.setattr("actmax.atlas.local.run_shard", counting)
    summary = quick(out, resume=True)
    assert summary.shards_resumed == 5
    assert summary.shards_run == len(plan.shards) - 5
    assert sorted(ran + written) == sorted(s.name for s in plan.shards)
    assert_same_shards(reference, out)
    assert (out / "index.html").exists()


def test_an_existing_atlas_is_never_overwritten_and_resumes_only_as_itself(atlas, tmp_path):
    out = atlas[0]
    with pytest.raises(ActmaxError, match="already holds an atlas: pass --resume"):
        quick(out)
    other = dataclasses.replace(QUICK, seeds=3)
    with pytest.raises(ActmaxError, match="was started with another settings"):
        quick(out, settings=other, resume=True)
    with pytest.raises(ActmaxError, match="another layers"):
        quick(out, layers="l1", resume=True)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ActmaxError, match="not empty and holds no atlas"):
        quick(busy)
    assert (busy / "notes.txt").read_text() == "mine"
