"""The package's error types: each is a problem the user can act on, and its message says how.

The ``m2h`` command and the nodes catch these (and only these) to report one clear line; any other
exception is a bug and keeps its traceback. Each is also a ``ValueError``, as the bad value it
reports is one.
"""

from __future__ import annotations


class M2HError(ValueError):
    """An error the user can act on; the message names the problem and the fix."""


class ConfigError(M2HError):
    """A configuration value is unknown, of the wrong type, or out of range."""


class CheckpointError(M2HError):
    """A weights file is missing, unreadable, corrupted, or does not match the network."""


class DataError(M2HError):
    """A dataset, bag or image file is missing or not in the expected layout."""


class ImageError(M2HError):
    """An image cannot be used; ``reason`` is the short name it is counted under (e.g. ``encoding``)."""

    def __init__(self, message: str, reason: str = "layout"):
        super().__init__(message)
        self.reason = reason
