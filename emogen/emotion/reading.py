"""`EmotionReading`: what an encoder hears or sees, read out of the shared emotion space.

Plain Python (no torch), so the CLI can import it cheaply. :meth:`EmotionBank.read
<emogen.emotion.EmotionBank.read>` produces it for every critic and for ``emogen recognize``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import EmotionSpec

__all__ = ["EmotionReading"]


@dataclass(frozen=True)
class EmotionReading:
    """One embedding read out of the bank.

    Args:
        probabilities (`dict[str, float]`): posterior over the read-out categories, in their order (sums to 1).
        vad (`tuple[float, float, float]`): valence, arousal, dominance: the bank's VAD head, or for a critic trained
            on categories only (music), the posterior-weighted anchors (:meth:`~emogen.emotion.EmotionBank.expected_vad`).
        category (`str`): most likely category.
        intensity (`float`): projected intensity along that category's direction, clipped to [0, 1]
            (0 for neutral).

    Example:
        >>> reading = EmotionReading({"neutral": 0.1, "angry": 0.9}, (-0.5, 0.6, 0.3), "angry", 0.834)
        >>> reading.spec.format()
        'angry:0.83'
    """

    probabilities: dict[str, float]
    vad: tuple[float, float, float]
    category: str
    intensity: float

    @property
    def spec(self) -> EmotionSpec:
        """The reading as a spec, e.g. ``angry:0.83`` (``neutral`` for neutral)."""
        if self.category == "neutral":
            return EmotionSpec.parse("neutral")
        return EmotionSpec.parse(f"{self.category}:{round(self.intensity, 2):g}")

    def to_dict(self, digits: int = 4) -> dict[str, object]:
        """The reading as JSON-ready values (rounded to ``digits``), as ``emogen recognize --json`` prints it."""
        return {
            "emotion": self.spec.format(),
            "category": self.category,
            "intensity": round(self.intensity, digits),
            "probabilities": {k: round(v, digits) for k, v in self.probabilities.items()},
            "vad": dict(zip(("valence", "arousal", "dominance"), (round(v, digits) for v in self.vad))),
        }

    def format_table(self, width: int = 40) -> str:
        """The reading as lines for a terminal: the spec, a bar per category (most likely first) and VAD."""
        lines = [f"emotion: {self.spec.format()}"]
        for name, p in sorted(self.probabilities.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {name:<10} {p:6.3f} {'#' * int(round(p * width))}")
        v, a, d = self.vad
        lines.append(f"valence {v:+.2f}  arousal {a:+.2f}  dominance {d:+.2f}")
        return "\n".join(lines)
