"""The shared emotion space: parsing (`EmotionSpec`), the bank of Gaussians (`EmotionBank`) and the
conditioning type every model receives (`EmotionCondition`).

The spec and the taxonomy are plain Python; the torch-backed classes load on first use.
"""

from __future__ import annotations

from .._lazy import lazy_exports
from .spec import EmotionSpec
from .taxonomy import ANCHOR_TERMS, CATEGORIES, SYNONYMS, VAD_ANCHORS, canonical_name

__all__ = [
    "ANCHOR_TERMS",
    "CATEGORIES",
    "SYNONYMS",
    "CriticReading",
    "VAD_ANCHORS",
    "EmotionBank",
    "EmotionCondition",
    "EmotionDropout",
    "EmotionReading",
    "EmotionSpec",
    "canonical_name",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {"EmotionBank": "bank", "EmotionCondition": "condition", "EmotionDropout": "dropout", "EmotionReading": "reading", "CriticReading": "reading"},
)
