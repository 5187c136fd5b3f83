"""MEAD-style front-view face clips: identity, emotion and level from the file names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..emotion.taxonomy import canonical_name
from ..errors import DataNotFoundError
from .paths import dataset_dir

__all__ = ["MeadClip", "load_mead", "parse_mead_name"]


@dataclass(frozen=True)
class MeadClip:
    """One MEAD clip (256x256, 25 fps, no audio)."""

    path: Path
    identity: str
    emotion: str  # canonical emogen category
    level: int


def parse_mead_name(path: str | os.PathLike[str]) -> MeadClip:
    """Decode ``<ID>_front_<emotion>_level<N>_<take>.mp4``; raises ``ValueError`` naming the file otherwise."""
    path = Path(path)
    parts = path.stem.split("_")
    emotion = canonical_name(parts[2]) if len(parts) == 5 else None
    if emotion is None or not parts[3].startswith("level"):
        msg = f"{path.name!r} is not a MEAD name like M030_front_angry_level3_001.mp4"
        raise ValueError(msg)
    return MeadClip(path=path, identity=parts[0], emotion=emotion, level=int(parts[3][5:]))


def load_mead(root: str | os.PathLike[str] | None = None) -> list[MeadClip]:
    """All MEAD-style clips, sorted by name."""
    folder = dataset_dir("mead-style", root)
    clips = [parse_mead_name(p) for p in sorted(folder.glob("*.mp4"))]
    if not clips:
        msg = f"no MEAD clips under {str(folder)!r}"
        raise DataNotFoundError(msg)
    return clips
