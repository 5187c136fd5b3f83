"""RAVDESS speech: file-name codes to emotion, intensity, statement, repetition and actor; parallel pairs.

File names are ``03-01-EE-II-SS-RR-AA.flac`` (modality, channel, emotion, intensity, statement,
repetition, actor). Actors with odd numbers are male.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataNotFoundError
from .paths import dataset_dir

__all__ = ["RAVDESS_CATEGORIES", "RAVDESS_EMOTIONS", "RAVDESS_STATEMENTS", "RavdessClip", "load_ravdess", "parallel_pairs", "parse_ravdess_name"]

#: RAVDESS emotion code -> canonical emogen category.
RAVDESS_EMOTIONS: dict[int, str] = {
    1: "neutral",
    2: "calm",
    3: "happy",
    4: "sad",
    5: "angry",
    6: "fearful",
    7: "disgusted",
    8: "surprised",
}
#: The categories RAVDESS covers, in code order (it has no contempt): what the speech critic reads out.
RAVDESS_CATEGORIES: tuple[str, ...] = tuple(RAVDESS_EMOTIONS[code] for code in sorted(RAVDESS_EMOTIONS))
RAVDESS_STATEMENTS: dict[int, str] = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}


@dataclass(frozen=True)
class RavdessClip:
    """One RAVDESS recording and what its file name says about it."""

    path: Path
    emotion: str
    intensity: str  # "normal" or "strong"
    statement: int
    repetition: int
    actor: int

    @property
    def is_male(self) -> bool:
        """RAVDESS actors with odd numbers are male."""
        return self.actor % 2 == 1


def parse_ravdess_name(path: str | os.PathLike[str]) -> RavdessClip:
    """Decode a RAVDESS file name; raises ``ValueError`` naming the file if it does not follow the scheme."""
    path = Path(path)
    parts = path.stem.split("-")
    try:
        codes = [int(p) for p in parts]
        valid = len(codes) == 7 and codes[2] in RAVDESS_EMOTIONS and codes[3] in (1, 2)
        if not valid or codes[4] not in RAVDESS_STATEMENTS or codes[5] not in (1, 2):
            raise ValueError
    except ValueError:
        msg = f"{path.name!r} is not a RAVDESS name like 03-01-05-02-01-01-12.flac"
        raise ValueError(msg) from None
    return RavdessClip(
        path=path,
        emotion=RAVDESS_EMOTIONS[codes[2]],
        intensity="normal" if codes[3] == 1 else "strong",
        statement=codes[4],
        repetition=codes[5],
        actor=codes[6],
    )


def load_ravdess(root: str | os.PathLike[str] | None = None, actors: set[int] | None = None) -> list[RavdessClip]:
    """All clips under ``ravdess-speech/Actor_*``, optionally only those of ``actors``, sorted by path."""
    folder = dataset_dir("ravdess-speech", root)
    clips = [parse_ravdess_name(p) for p in sorted(folder.glob("Actor_*/*.flac"))]
    if not clips:
        msg = f"no RAVDESS .flac files under {str(folder)!r}"
        raise DataNotFoundError(msg)
    return [c for c in clips if actors is None or c.actor in actors]


def parallel_pairs(clips: list[RavdessClip]) -> list[tuple[RavdessClip, RavdessClip]]:
    """(neutral, emotional) pairs of the same actor, statement and repetition, for every emotion and intensity."""
    neutral = {(c.actor, c.statement, c.repetition): c for c in clips if c.emotion == "neutral"}
    pairs = []
    for clip in clips:
        source = neutral.get((clip.actor, clip.statement, clip.repetition))
        if clip.emotion != "neutral" and source is not None:
            pairs.append((source, clip))
    return pairs
