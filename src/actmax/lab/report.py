"""The lab's report: one self-contained HTML page (figures embedded), written atomically.

The page needs no network and no other file to be read: every figure is embedded as a PNG data
URI. The same PNGs sit beside it in `figures/` (linked from each caption), and every number on
the page comes from the run's `metrics.json`.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ..io import write_text

TEMPLATE = "lab_report.html.j2"
REPORT = "report.html"


@dataclass(frozen=True)
class EmbeddedFigure:
    """A PNG as the template uses it: its data URI, its path relative to the report, its size."""

    src: str
    file: str
    width: int
    height: int


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (the IHDR chunk always comes first)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def embed(path: Path, relative_to: Path) -> EmbeddedFigure:
    data = path.read_bytes()
    width, height = png_size(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return EmbeddedFigure(uri, path.relative_to(relative_to).as_posix(), width, height)


def _num(value: float | None, digits: int = 3) -> str:
    """A number for the page: fixed digits, and a dash where there is none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage for the page, and a dash where there is none."""
    return "–" if value is None else f"{_num(100 * value, digits)}%"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("actmax.lab", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    return env


def render_report(
    metrics: Mapping, figures: Mapping[str, EmbeddedFigure], reading: Mapping[str, list[str]]
) -> str:
    """The report's HTML for one run."""
    return environment().get_template(TEMPLATE).render(m=metrics, figures=figures, reading=reading)


def write_report(
    run_dir: str | Path,
    metrics: Mapping,
    figure_files: Mapping[str, Path],
    reading: Mapping[str, list[str]],
) -> Path:
    """Render the report into `run_dir/report.html`, embedding the given PNG files."""
    run_dir = Path(run_dir)
    figures = {name: embed(Path(path), run_dir) for name, path in figure_files.items()}
    return write_text(run_dir / REPORT, render_report(metrics, figures, reading))
