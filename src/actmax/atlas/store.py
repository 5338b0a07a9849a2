"""The atlas folder's working state: the plan it was started with and one file per finished shard.

A shard's file appears whole or not at all (written beside its place and moved in), so after a
crash every file present is a finished shard and `--resume` can skip it. The plan is kept in
`atlas.json`; resuming with another model, data set or settings is refused.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ActmaxError
from ..io import ensure_writable_dir, write_atomic, write_json
from .plan import Plan, Shard

PLAN_FILE = "atlas.json"
SHARDS = "shards"


class ShardStore:
    """Shard results as `.npz` files under `<out>/shards/`, and the plan beside them."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.folder = self.out / SHARDS

    def path(self, shard: Shard) -> Path:
        return self.folder / f"{shard.name}.npz"

    def done(self, shard: Shard) -> bool:
        return self.path(shard).exists()

    def write(self, shard: Shard, arrays: dict[str, np.ndarray]) -> Path:
        return write_atomic(self.path(shard), lambda tmp: _savez(tmp, arrays))

    def read(self, shard: Shard) -> dict[str, np.ndarray]:
        path = self.path(shard)
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {key: npz[key] for key in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ActmaxError(f"{path} is unreadable ({exc}); delete it and resume") from None

    def open(self, plan: Plan, resume: bool) -> None:
        """Start a new atlas in an empty (or new) folder, or check that `resume` continues the
        same one. Nothing already there is ever overwritten without `resume`."""
        ensure_writable_dir(self.out)
        recorded = self.out / PLAN_FILE
        if recorded.exists():
            if not resume:
                raise ActmaxError(
                    f"{self.out} already holds an atlas: pass --resume to finish it, or choose "
                    "another --out"
                )
            self._check_same(plan, recorded)
        elif any(self.out.iterdir()):
            raise ActmaxError(
                f"{self.out} is not empty and holds no atlas: choose a new or empty --out"
            )
        write_json(recorded, {"fingerprint": plan.fingerprint, "plan": plan.describe()})

    def _check_same(self, plan: Plan, recorded: Path) -> None:
        try:
            before = json.loads(recorded.read_text(encoding="utf-8"))["plan"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ActmaxError(f"{recorded} is unreadable ({exc})") from None
        now = json.loads(json.dumps(plan.describe()))
        if before != now:
            differ = [key for key in now if before.get(key) != now[key]]
            raise ActmaxError(
                f"{self.out} was started with another {', '.join(differ) or 'plan'}: resume "
                "with the same model, data and settings, or choose another --out"
            )


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
