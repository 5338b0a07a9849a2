"""Where work runs: one rule for every command and function that takes a device.

None or "auto" means the first CUDA device when PyTorch sees one, else the CPU. A device that
cannot be used here (CUDA on a CPU-only build of PyTorch, an index past the last GPU, a name
PyTorch does not know) is refused with one line that says what is available, before any model
is loaded or any work is done.
"""

from __future__ import annotations

import torch

from .errors import ActmaxError

AUTO = "auto"


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on, checked to be usable.

    device: None or "auto" (CUDA when available, else the CPU), or a name such as "cpu",
        "cuda", "cuda:1", "mps", or a `torch.device`.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == AUTO):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, str):
        device = device.strip()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ActmaxError(
            f"unknown device {device!r}: use auto, cpu, cuda or cuda:N (available here: "
            f"{', '.join(available_devices())})"
        ) from None
    if resolved.type == "cuda":
        _check_cuda(resolved)
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ActmaxError(f"device {str(resolved)!r} is not available here: use cpu")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise ActmaxError(
            f"device {str(resolved)!r} is not supported: use {', '.join(available_devices())}"
        )
    return resolved


def _check_cuda(device: torch.device) -> None:
    if torch.version.cuda is None:
        raise ActmaxError(
            f"device {str(device)!r}: this PyTorch ({torch.__version__}) is built for the CPU "
            "only, so it sees no CUDA device: use cpu"
        )
    if not torch.cuda.is_available():
        raise ActmaxError(f"device {str(device)!r}: PyTorch sees no CUDA device here; use cpu")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ActmaxError(
            f"device {str(device)!r} does not exist: there {'is' if count == 1 else 'are'} "
            f"{count} CUDA device{'' if count == 1 else 's'} (cuda:0..cuda:{count - 1})"
        )


def available_devices() -> list[str]:
    """The device names that work here, e.g. ["auto", "cpu"] or ["auto", "cpu", "cuda:0"]."""
    names = [AUTO, "cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names
