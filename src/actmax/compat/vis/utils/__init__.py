"""keras-vis' `vis.utils` package (`from vis.utils import utils`)."""

from . import utils

__all__ = ["utils"]
