"""keras-vis' `vis` package on actmax (see `actmax.compat` for what differs from keras-vis).

Two keras-vis versions disagree on what saliency and Grad-CAM return. The flavour chooses:

- "fork" (the default): the keras-vis fork the lab installs, and PyPI's keras-vis 0.4.1: both
  maps are jet-coloured uint8 RGB images (H, W, 3), ready for `plt.imshow` and `overlay`.
- "master": keras-vis' master branch (0.5.0): float maps (H, W) in [0, 1]; `visualize_saliency`
  takes `keepdims=True` for the gradient's own shape, and `wrt_tensor`.

Set it with `actmax.compat.vis.set_flavour("master")`, or for a whole process with the
environment variable `ACTMAX_KERAS_VIS=master`.
"""

from __future__ import annotations

import os

from ...errors import ActmaxError

__all__ = ["FLAVOURS", "flavour", "set_flavour"]

FLAVOURS = ("fork", "master")
_chosen: list[str] = [os.environ.get("ACTMAX_KERAS_VIS", "fork")]


def flavour() -> str:
    """The keras-vis version whose saliency and Grad-CAM outputs the API follows."""
    name = _chosen[0]
    if name not in FLAVOURS:
        raise ActmaxError(f"ACTMAX_KERAS_VIS is {name!r}; choose one of {', '.join(FLAVOURS)}")
    return name


def set_flavour(name: str) -> str:
    """Follow a keras-vis version from now on; returns the previous one.

    Args:
        name: "fork" or "master".
    """
    if name not in FLAVOURS:
        raise ActmaxError(
            f"unknown keras-vis flavour {name!r}; choose one of {', '.join(FLAVOURS)}"
        )
    previous, _chosen[0] = _chosen[0], name
    return previous
