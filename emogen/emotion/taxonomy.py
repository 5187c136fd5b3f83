"""The canonical emotion categories, their synonyms and their valence/arousal/dominance anchors.

Anchors are pleasure (valence), arousal and dominance coordinates in [-1, 1] from the PAD ratings of
emotion terms in

    Russell, J. A., & Mehrabian, A. (1977). Evidence for a three-factor theory of emotions.
    Journal of Research in Personality, 11(3), 273-294. https://doi.org/10.1016/0092-6566(77)90037-X

using the term given in ``ANCHOR_TERMS`` for each category (the same table that affective-computing
models such as ALMA, Gebhard 2005, build on). The study has no term for ``contempt``; its anchor is the
mean of ``disgusted`` and ``angry`` with dominance raised to ``angry``'s, following the placement of
contempt as a high-dominance, negative, mid-arousal state in the PAD literature. ``neutral`` is the
origin by definition.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["CATEGORIES", "VAD_ANCHORS", "ANCHOR_TERMS", "SYNONYMS", "canonical_name", "known_names"]

#: Canonical category names, in the order used by every tensor with a category axis.
CATEGORIES: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
    "contempt",
)

#: (valence, arousal, dominance) per category, each in [-1, 1]; see the module docstring for the source.
VAD_ANCHORS: MappingProxyType[str, tuple[float, float, float]] = MappingProxyType(
    {
        "neutral": (0.00, 0.00, 0.00),
        "calm": (0.68, -0.46, 0.06),  # "relaxed"
        "happy": (0.81, 0.51, 0.46),  # "happy"
        "sad": (-0.63, -0.27, -0.33),  # "sad"
        "angry": (-0.51, 0.59, 0.25),  # "angry"
        "fearful": (-0.64, 0.60, -0.43),  # "afraid"
        "disgusted": (-0.60, 0.35, 0.11),  # "disgusted"
        "surprised": (0.40, 0.67, -0.13),  # "surprised"
        "contempt": (-0.56, 0.47, 0.25),  # no term in the study: see module docstring
    }
)

#: The rated term each anchor was taken from (``None``: derived, see the module docstring).
ANCHOR_TERMS: MappingProxyType[str, str | None] = MappingProxyType(
    {
        "neutral": None,
        "calm": "relaxed",
        "happy": "happy",
        "sad": "sad",
        "angry": "angry",
        "fearful": "afraid",
        "disgusted": "disgusted",
        "surprised": "surprised",
        "contempt": None,
    }
)

#: Synonym -> canonical category. Canonical names map to themselves through :func:`canonical_name`.
SYNONYMS: MappingProxyType[str, str] = MappingProxyType(
    {
        "none": "neutral",
        "relaxed": "calm",
        "relax": "calm",
        "content": "calm",
        "serene": "calm",
        "peaceful": "calm",
        "tender": "calm",
        "joy": "happy",
        "joyful": "happy",
        "happiness": "happy",
        "glad": "happy",
        "excited": "happy",
        "sadness": "sad",
        "unhappy": "sad",
        "sorrow": "sad",
        "depressed": "sad",
        "anger": "angry",
        "mad": "angry",
        "furious": "angry",
        "fear": "fearful",
        "afraid": "fearful",
        "scared": "fearful",
        "anxious": "fearful",
        "disgust": "disgusted",
        "surprise": "surprised",
        "amazed": "surprised",
        "contemptuous": "contempt",
        "scorn": "contempt",
    }
)


def canonical_name(name: str) -> str | None:
    """Return the canonical category for ``name`` (case-insensitive), or ``None`` if it is unknown.

    Example:
        >>> canonical_name("Joy")
        'happy'
    """
    key = name.strip().lower()
    if key in VAD_ANCHORS:
        return key
    return SYNONYMS.get(key)


def known_names() -> list[str]:
    """All names the parser accepts: canonical categories first, then synonyms."""
    return list(CATEGORIES) + sorted(SYNONYMS)
