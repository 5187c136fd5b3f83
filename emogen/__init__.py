"""emogen: emotional media generation (portrait, voice, music) steered by one shared emotion space.

``EmotionSpec`` and the errors are plain Python; the torch-backed names (``EmotionBank``, ``EmotionCondition``)
load on first use, so importing emogen is instant.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._lazy import lazy_exports
from .emotion.spec import EmotionSpec
from .errors import EmogenError

__all__ = ["EmogenError", "EmotionBank", "EmotionCondition", "EmotionSpec", "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, {"EmotionBank": "emotion.bank", "EmotionCondition": "emotion.condition"})
