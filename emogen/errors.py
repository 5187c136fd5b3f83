"""Errors that emogen raises for bad input, each naming the problem and the fix.

The CLI turns every :class:`EmogenError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = ["EmogenError", "EmotionSpecError", "InputError", "NoFaceError", "DataNotFoundError", "CheckpointNotFoundError"]


class EmogenError(ValueError):
    """Base class for user-facing errors: the message says what is wrong and how to fix it."""


class EmotionSpecError(EmogenError):
    """An emotion string (``--emotion``) that cannot be parsed."""


class InputError(EmogenError):
    """An input file or argument that cannot be used (missing, corrupt, silent, out of range)."""


class NoFaceError(InputError):
    """An image or video without a usable face: none found, too small, or turned away from the camera."""


class DataNotFoundError(EmogenError):
    """The training/evaluation data folder (``EMOGEN_DATA``) is missing or incomplete."""


class CheckpointNotFoundError(EmogenError):
    """A pipeline checkpoint folder that is missing or incomplete."""
