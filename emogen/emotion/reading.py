"""`EmotionReading`: what an encoder hears or sees, read out of the shared emotion space; `CriticReading`: a
critic's calibrated reading, which also says when the critic is too unsure to name an emotion.

Plain Python (no torch), so the CLI can import it cheaply. :meth:`EmotionBank.read
<emogen.emotion.EmotionBank.read>` produces the first, :meth:`CriticReadout.read
<emogen.emotion.critic.CriticReadout.read>` the second (``emogen recognize voice / face / music``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import EmotionSpec

__all__ = ["UNCERTAIN", "CriticReading", "EmotionReading"]

#: What :attr:`CriticReading.label` says when the critic is not sure enough to name an emotion.
UNCERTAIN = "uncertain"


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


@dataclass(frozen=True)
class CriticReading(EmotionReading):
    """What a critic hears or sees: an :class:`EmotionReading` with calibrated probabilities, plus whether it is too
    unsure to name an emotion.

    Args:
        uncertain (`bool`, *optional*, defaults to `False`): the top probability is below ``threshold``, or the
            input is out of the critic's domain.
        threshold (`float`, *optional*, defaults to 0.0): the critic's ``uncertain_below`` when it was read.
        out_of_domain (`bool`, *optional*, defaults to `False`): the input is unlike anything the critic was
            trained on (the music critic: a descriptor beyond its training clips' range), so its probabilities
            say little; such a reading is also ``uncertain``.

    Example:
        >>> heard = CriticReading({"neutral": 0.3, "angry": 0.7}, (-0.5, 0.6, 0.3), "angry", 0.8, False, 0.4)
        >>> heard.label, round(heard.confidence, 2)
        ('angry:0.8', 0.7)
        >>> CriticReading({"neutral": 0.45, "angry": 0.55}, (0.0, 0.0, 0.0), "angry", 0.2, True, 0.6).label
        'uncertain'
    """

    uncertain: bool = False
    threshold: float = 0.0
    out_of_domain: bool = False

    @property
    def confidence(self) -> float:
        """The top (calibrated) probability."""
        return float(self.probabilities.get(self.category, max(self.probabilities.values(), default=0.0)))

    @property
    def label(self) -> str:
        """``"uncertain"`` when the critic is unsure, else the spec (e.g. ``angry:0.83``): what a CLI should print."""
        return UNCERTAIN if self.uncertain else self.spec.format()

    def to_dict(self, digits: int = 4) -> dict[str, object]:
        """:meth:`EmotionReading.to_dict` plus ``label``, ``uncertain``, ``confidence`` and ``out_of_domain``.

        ``emotion`` stays the best guess as a spec (so it can be passed on); ``label`` is ``"uncertain"``
        when ``uncertain`` is true.
        """
        out = super().to_dict(digits)
        out.update({"label": self.label, "uncertain": self.uncertain, "confidence": round(self.confidence, digits),
                    "out_of_domain": self.out_of_domain})
        return out

    def format_table(self, width: int = 40) -> str:
        """:meth:`EmotionReading.format_table`, whose first line says ``uncertain`` (and the best guess) when unsure."""
        table = super().format_table(width)
        if not self.uncertain:
            return table
        first, _, rest = table.partition("\n")
        guess = first.removeprefix("emotion: ")
        why = "the input is unlike the critic's training data" if self.out_of_domain else f"p {self.confidence:.2f} < {self.threshold:.2f}"
        return f"emotion: {UNCERTAIN} (best guess {guess}, {why})\n{rest}"
