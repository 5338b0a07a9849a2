"""One exception type for every mistake a user can make, so the CLI can print one line for it."""

from __future__ import annotations


class ActmaxError(Exception):
    """A problem with the user's input (a flag, a file, a layer name): shown as one line, exit 2."""


class LayerNotFoundError(ActmaxError, KeyError):
    """A layer name or index that the model does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(ActmaxError):
    """A data file that is missing, unreadable or not what it claims to be."""
