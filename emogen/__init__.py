"""emogen: emotional media generation (portrait, voice, music) steered by one shared emotion space."""

from __future__ import annotations

__version__ = "0.1.0"

from .emotion import EmotionBank, EmotionCondition, EmotionSpec
from .errors import EmogenError

__all__ = ["EmogenError", "EmotionBank", "EmotionCondition", "EmotionSpec", "__version__"]
