"""The atlas as a static site: an index, a page per layer, a page per unit, images as files.

Pages link to each other and to their images by relative paths, and the search box reads the
layer list from a script file, so the site works from `file://` with no server and no network.
Units are written block by block from the shard files, so memory does not grow with the model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np

from ..io import write_text
from .pictures import save_png, to_display, unit_overlays
from .plan import MAPS, OPTIMIZE, Layer, Plan, Shard, Unit
from .store import ShardStore
from .topk import Extremes, bin_edges

INDEX = "index.html"
STATIC = ("atlas.css", "atlas.js")
THUMBNAILS = 12  # units previewed per layer on the index
FILE_WRITERS = 4  # threads writing PNGs: most of their time is spent waiting on the disk
HIST_WIDTH, HIST_HEIGHT = 420, 140


@dataclass(frozen=True)
class SiteInputs:
    """What the pages show beyond the shard files: the merged scan and histograms, the data."""

    plan: Plan
    store: ShardStore
    extremes: Extremes
    counts: np.ndarray  # (units, bins)
    images: np.ndarray  # the data set (N, C, H, W)
    title: str
    data_name: str
    facts: Mapping[str, str]  # shown on the index: how the atlas was made


def write_site(inputs: SiteInputs) -> Path:
    """Write every page and image under the store's folder; returns the index's path."""
    out = inputs.store.out
    env = _environment()
    for name in STATIC:
        text = (resources.files("actmax.atlas") / "templates" / name).read_text(encoding="utf-8")
        write_text(out / "static" / name, text)
    write_text(out / "static" / "layers.js", _layers_script(inputs.plan))
    tiles: dict[str, list[dict]] = {layer.name: [] for layer in inputs.plan.layers}
    with ThreadPoolExecutor(FILE_WRITERS, thread_name_prefix="actmax-site") as pool:
        pending: list[Future] = []

        def save(path: Path, pixels: np.ndarray) -> None:
            pending.append(pool.submit(save_png, path, pixels))

        for optimized, mapped in _blocks(inputs.plan):
            for tile in _write_block(env, inputs, optimized, mapped, save):
                tiles[tile["layer"]].append(tile)
            while pending:  # a block's images are written before the next block is read
                pending.pop().result()
    for layer in inputs.plan.layers:
        page = env.get_template("layer.html.j2").render(
            root="../", title=inputs.title, layer=_layer_info(layer), tiles=tiles[layer.name]
        )
        write_text(out / "layers" / f"{layer.slug}.html", page)
    layers = [
        {**_layer_info(layer), "tiles": tiles[layer.name][:THUMBNAILS]}
        for layer in inputs.plan.layers
    ]
    page = env.get_template("index.html.j2").render(
        root="",
        title=inputs.title,
        layers=layers,
        units=inputs.plan.unit_count,
        data_name=inputs.data_name,
        images=inputs.plan.images,
        settings=inputs.plan.settings,
        facts=inputs.facts,
    )
    return write_text(out / INDEX, page)


def _blocks(plan: Plan) -> list[tuple[Shard, Shard]]:
    """Optimize and maps shards cover the same unit blocks, in the same order."""
    optimized, mapped = plan.of_kind(OPTIMIZE), plan.of_kind(MAPS)
    return list(zip(optimized, mapped, strict=True))


def _write_block(
    env: jinja2.Environment,
    inputs: SiteInputs,
    optimized: Shard,
    mapped: Shard,
    save: Callable[[Path, np.ndarray], None],
):
    plan, store, ext = inputs.plan, inputs.store, inputs.extremes
    fv = store.read(optimized)
    maps = store.read(mapped)["maps"]
    units = plan.units[optimized.start : optimized.stop]
    s = plan.settings
    edges = bin_edges(ext.low, ext.high, s.bins)
    for row, unit in enumerate(units):
        layer, n = unit.layer, unit.number
        folder = inputs.store.out / "images" / layer.slug / str(unit.index)
        seeds = []
        for seed in range(s.seeds):
            save(folder / f"fv{seed}.png", fv["images"][row, seed])
            seeds.append({"seed": seed, "activation": float(fv["activations"][row, seed])})
        chosen = np.concatenate([ext.top_index[n], ext.bottom_index[n]])
        shown = to_display(inputs.images[chosen], s.input_range)
        overlays = unit_overlays(shown, maps[row], layer.spatial)
        k = len(ext.top_index[n])
        for i, picture in enumerate(overlays):
            name = f"top{i}.png" if i < k else f"bottom{i - k}.png"
            save(folder / name, picture)
        top = _shown("top", ext.top_index[n], ext.top_scores[n])
        bottom = _shown("bottom", ext.bottom_index[n], ext.bottom_scores[n])
        activations = [seed["activation"] for seed in seeds]
        page = env.get_template("unit.html.j2").render(
            root="../../",
            title=inputs.title,
            layer=_layer_info(layer),
            unit=unit.index,
            objective=unit.objective().describe(),
            diversity=s.diversity,
            images=f"../../images/{layer.slug}/{unit.index}/",
            seeds=seeds,
            top=top,
            bottom=bottom,
            stats={
                "low": float(ext.low[n]),
                "mean": float(ext.mean[n]),
                "high": float(ext.high[n]),
                "count": ext.count,
            },
            histogram=histogram_figure(inputs.counts[n], edges[n], activations),
            neighbours=_neighbours(unit),
            width=plan.image_shape[-1] * _zoom(plan.image_shape),
            map_kind="activation map" if layer.spatial else "input gradient",
        )
        write_text(inputs.store.out / "units" / layer.slug / f"{unit.index}.html", page)
        yield {
            "layer": layer.name,
            "unit": unit.index,
            "file": f"images/{layer.slug}/{unit.index}/fv0.png",
            "page": f"units/{layer.slug}/{unit.index}.html",
            "activation": max(activations),
            "data_high": float(ext.high[n]),
        }


def _shown(which: str, index: np.ndarray, scores: np.ndarray) -> list[dict]:
    return [
        {"file": f"{which}{i}.png", "image": int(image), "score": float(score)}
        for i, (image, score) in enumerate(zip(index, scores, strict=True))
    ]


def histogram_figure(counts: np.ndarray, edges: np.ndarray, marks: list[float]) -> dict:
    """Bars and labels of an SVG histogram; `marks` (the feature visualizations' activations)
    are drawn as lines, or as arrows at the edge when they lie outside the data's range."""
    counts = np.asarray(counts)
    top = max(int(counts.max()), 1)
    left, right, height = float(edges[0]), float(edges[-1]), HIST_HEIGHT - 20
    span = right - left
    bar = HIST_WIDTH / len(counts)
    bars = [
        {
            "x": round(i * bar, 2),
            "width": round(max(bar - 1, 0.5), 2),
            "y": round(height - height * c / top, 2),
            "height": round(height * c / top, 2),
            "title": f"{int(c)} inputs in [{edges[i]:.4g}, {edges[i + 1]:.4g})",
        }
        for i, c in enumerate(counts)
    ]
    lines = []
    for value in marks:
        where = (value - left) / span if span > 0 else 0.5
        outside = "right" if where > 1 else "left" if where < 0 else ""
        x = HIST_WIDTH * min(max(where, 0.0), 1.0)
        lines.append({"x": round(x, 2), "value": value, "outside": outside})
    return {
        "width": HIST_WIDTH,
        "height": HIST_HEIGHT,
        "plot_height": height,
        "bars": bars,
        "marks": lines,
        "left": left,
        "right": right,
        "most": top,
    }


def _layer_info(layer: Layer) -> dict:
    return {
        "name": layer.name,
        "slug": layer.slug,
        "kind": layer.kind,
        "units": layer.units,
        "shape": "×".join(str(s) for s in layer.shape),
    }


def _neighbours(unit: Unit) -> dict:
    k, n = unit.index, unit.layer.units
    return {"previous": k - 1 if k > 0 else None, "next": k + 1 if k + 1 < n else None}


def _zoom(image_shape: tuple[int, ...]) -> int:
    """Display scale of small images (MNIST's 28 pixels show at 112)."""
    return max(1, 112 // max(image_shape[-1], 1))


def _layers_script(plan: Plan) -> str:
    layers = [{"name": x.name, "slug": x.slug, "units": x.units} for x in plan.layers]
    return f"window.ATLAS_LAYERS = {json.dumps(layers)};\n"


def _number(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4g}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("actmax.atlas", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = _number
    return env
