"""How long `actmax lab` takes: the full run with training, then again with the model reused.

    python benchmarks/lab.py [--quick] [--keep DIR]

Prints the wall time of each stage and of the whole command (a fresh process each time, so
imports count), with the targets: under 180 s with training, under 20 s with the model reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"train": 180.0, "reuse": 20.0}
STAGES = ("model", "judge", "visualize", "attribution", "figures")


def run(out: Path, cache: Path, quick: bool) -> tuple[float, dict]:
    command = [sys.executable, "-m", "actmax", "lab", "--out", str(out), "--cache", str(cache)]
    if quick:
        command.append("--quick")
    began = time.perf_counter()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    return wall, json.loads((out / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="benchmark `actmax lab --quick`")
    parser.add_argument("--keep", type=Path, help="keep the runs and the cache in this folder")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="actmax-lab-bench-"))
    cache = root / "cache"
    print(f"{'run':<8}{'total':>9}" + "".join(f"{s:>12}" for s in STAGES))
    for name in ("train", "reuse"):
        wall, metrics = run(root / name, cache, args.quick)
        stages = metrics["timing"]["stages_s"]
        row = "".join(f"{stages.get(s, 0):>12.2f}" for s in STAGES)
        target = (
            ""
            if args.quick
            else f"   target {TARGETS[name]:.0f} s: ratio {wall / TARGETS[name]:.2f}"
        )
        print(f"{name:<8}{wall:>9.2f}{row}{target}")
    print(f"runs in {root}")


if __name__ == "__main__":
    main()
