"""The shared emotion space: parsing (`EmotionSpec`), the bank of Gaussians (`EmotionBank`) and the
conditioning type every model receives (`EmotionCondition`)."""

from .bank import EmotionBank
from .condition import EmotionCondition
from .dropout import EmotionDropout
from .spec import EmotionSpec
from .taxonomy import ANCHOR_TERMS, CATEGORIES, SYNONYMS, VAD_ANCHORS, canonical_name

__all__ = [
    "ANCHOR_TERMS",
    "CATEGORIES",
    "SYNONYMS",
    "VAD_ANCHORS",
    "EmotionBank",
    "EmotionCondition",
    "EmotionDropout",
    "EmotionSpec",
    "canonical_name",
]
