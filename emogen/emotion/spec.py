"""`EmotionSpec`: the emotion a person asks for, parsed from a string and formatted back.

Accepted forms::

    happy                       one category at full intensity (same as ``happy:1``)
    happy:0.7                   one category at intensity 0.7 (in [0, 1])
    happy:0.6+surprised:0.3     a mixture: the directions add
    va:0.5,-0.2                 valence, arousal in [-1, 1]
    vad:0.5,-0.2,0.1            valence, arousal, dominance in [-1, 1]
    auto                        read the emotion from an input (e.g. a voice clip)

``EmotionSpec.parse(s).format()`` is the normalised string, and parsing it again gives an equal spec.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Literal

from ..errors import EmotionSpecError
from .taxonomy import canonical_name, known_names

__all__ = ["EmotionSpec"]

SpecKind = Literal["categorical", "va", "vad", "auto"]
_DECIMALS = 4


def _parse_number(text: str, what: str, source: str) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f"emotion {source!r}: {what} {text.strip()!r} is not a number; write e.g. 'happy:0.7' or 'va:0.5,-0.2'"
        raise EmotionSpecError(msg) from None
    if not math.isfinite(value):
        msg = f"emotion {source!r}: {what} must be a finite number, got {text.strip()!r}"
        raise EmotionSpecError(msg)
    return round(value, _DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0, so '-0' formats as '0'


def _format_number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class EmotionSpec:
    """A parsed emotion request.

    Args:
        kind (`str`): ``"categorical"``, ``"va"``, ``"vad"`` or ``"auto"``.
        components (`tuple[tuple[str, float], ...]`): for ``categorical``, (canonical name, intensity)
            pairs in the order given.
        coords (`tuple[float, ...]`): for ``va``/``vad``, the 2 or 3 coordinates.

    Example:
        >>> EmotionSpec.parse("Joy:0.6+surprise:.3").format()
        'happy:0.6+surprised:0.3'
    """

    kind: SpecKind
    components: tuple[tuple[str, float], ...] = ()
    coords: tuple[float, ...] = ()

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, text: str | EmotionSpec) -> EmotionSpec:
        """Parse ``text`` into a normalised spec, raising :class:`EmotionSpecError` with a fix on bad input."""
        if isinstance(text, EmotionSpec):
            return text
        if not isinstance(text, str):
            msg = f"emotion must be a string such as 'happy:0.7', got {type(text).__name__}"
            raise EmotionSpecError(msg)
        source = text
        body = text.strip().lower().replace(" ", "")
        if not body:
            msg = "emotion is empty; give a category such as 'happy:0.7' (see `emogen emotions`)"
            raise EmotionSpecError(msg)
        if body == "auto":
            return cls(kind="auto")
        for prefix, size in (("vad:", 3), ("va:", 2)):
            if body.startswith(prefix):
                return cls._parse_coords(body[len(prefix) :], size, prefix[:-1], source)
        return cls._parse_categorical(body, source)

    @classmethod
    def _parse_coords(cls, body: str, size: int, kind: str, source: str) -> EmotionSpec:
        names = ("valence", "arousal", "dominance")[:size]
        parts = body.split(",")
        if len(parts) != size:
            msg = f"emotion {source!r}: '{kind}:' takes {size} comma-separated numbers ({', '.join(names)}), got {len(parts)}"
            raise EmotionSpecError(msg)
        coords = tuple(_parse_number(p, name, source) for p, name in zip(parts, names))
        for name, value in zip(names, coords):
            if not -1.0 <= value <= 1.0:
                msg = f"emotion {source!r}: {name} {_format_number(value)} is outside [-1, 1]; scale it into that range"
                raise EmotionSpecError(msg)
        return cls(kind=kind, coords=coords)  # type: ignore[arg-type]

    @classmethod
    def _parse_categorical(cls, body: str, source: str) -> EmotionSpec:
        components: list[tuple[str, float]] = []
        for part in body.split("+"):
            if not part:
                msg = f"emotion {source!r}: empty term in the mixture; write e.g. 'happy:0.6+surprised:0.3'"
                raise EmotionSpecError(msg)
            name_text, sep, value_text = part.partition(":")
            name = canonical_name(name_text)
            if name is None:
                msg = f"emotion {source!r}: unknown emotion {name_text!r}"
                close = difflib.get_close_matches(name_text, known_names(), n=1, cutoff=0.6)
                if close:
                    msg += f"; did you mean {close[0]!r}?"
                msg += " (`emogen emotions` lists them)"
                raise EmotionSpecError(msg)
            intensity = _parse_number(value_text, "intensity", source) if sep else 1.0
            if not 0.0 <= intensity <= 1.0:
                msg = f"emotion {source!r}: intensity {_format_number(intensity)} of {name!r} is outside [0, 1]"
                raise EmotionSpecError(msg)
            if any(existing == name for existing, _ in components):
                msg = f"emotion {source!r}: {name!r} appears twice; give each emotion once"
                raise EmotionSpecError(msg)
            components.append((name, intensity))
        return cls(kind="categorical", components=tuple(components))

    # --------------------------------------------------------------- formatting
    def format(self) -> str:
        """The normalised string form; ``EmotionSpec.parse(spec.format()) == spec``."""
        if self.kind == "auto":
            return "auto"
        if self.kind in ("va", "vad"):
            return f"{self.kind}:" + ",".join(_format_number(c) for c in self.coords)
        return "+".join(f"{name}:{_format_number(a)}" for name, a in self.components)

    def __str__(self) -> str:
        return self.format()

    @property
    def total_intensity(self) -> float:
        """Sum of the component intensities (categorical specs), else 0."""
        return float(sum(a for _, a in self.components))

    @property
    def dominant(self) -> str | None:
        """The categorical component with the highest intensity, if any."""
        if not self.components:
            return None
        return max(self.components, key=lambda c: c[1])[0]
