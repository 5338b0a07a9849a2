"""Folders that appear whole: written under a temporary name beside their place, then renamed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def share_like_new_files(folder: Path) -> None:
    """Give a folder the permissions a plain `mkdir` and file writes would have had (temporary
    files and folders are created private)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


@contextmanager
def staged_cache_entry(folder: Path, complete: str) -> Iterator[Path]:
    """A fresh folder that becomes `folder` when the block succeeds.

    If another run finished the same entry meanwhile (its `complete` file exists), that one is
    kept; nothing half-written is ever left under the final name.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield staging
        share_like_new_files(staging)
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / complete).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
