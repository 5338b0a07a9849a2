"""Safe file writing: each file appears whole or not at all; nothing is overwritten by accident."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ActmaxError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from others
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], Any]) -> Path:
    """Write a file through `writer(tmp_path)` and move it into place in one step."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically (the format follows the file's suffix) and close it."""
    import matplotlib.pyplot as plt

    suffix = Path(path).suffix.lstrip(".") or "png"
    try:
        return write_atomic(
            path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=suffix)
        )
    finally:
        plt.close(fig)


def check_new_file(
    path: str | os.PathLike, overwrite: bool = False, hint: str = "pass --overwrite to replace it"
) -> Path:
    """Refuse to replace a user's existing file unless asked to.

    Args:
        path: the file to be written.
        overwrite: whether replacing an existing file was asked for.
        hint: how to ask for it, in the error (the command line's flag by default).
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise ActmaxError(f"{p} already exists; {hint}")
    return p


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create `path` if needed and check that files can be written in it."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ActmaxError(f"cannot write to {p}: {exc.strerror or exc}") from None
    return p
