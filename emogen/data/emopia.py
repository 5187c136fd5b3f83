"""EMOPIA piano clips: quadrant labels from the file names and the official song-level split."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataNotFoundError
from .paths import dataset_dir

__all__ = ["QUADRANTS", "QUADRANT_CATEGORIES", "QUADRANT_EMOTIONS", "QUADRANT_VA", "EmopiaClip", "load_emopia"]

#: Quadrant -> sign of (valence, arousal) (Russell's circumplex, as EMOPIA defines them).
QUADRANT_VA: dict[str, tuple[float, float]] = {"Q1": (1.0, 1.0), "Q2": (-1.0, 1.0), "Q3": (-1.0, -1.0), "Q4": (1.0, -1.0)}
#: Quadrant -> the emogen category closest to its description in the EMOPIA paper.
QUADRANT_EMOTIONS: dict[str, str] = {"Q1": "happy", "Q2": "angry", "Q3": "sad", "Q4": "calm"}
#: The quadrants in label order (index 0-3); every quadrant list, label and read-out uses this order.
QUADRANTS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")
#: The bank categories of :data:`QUADRANTS`, in the same order (what the music critic reads out).
QUADRANT_CATEGORIES: tuple[str, ...] = tuple(QUADRANT_EMOTIONS[q] for q in QUADRANTS)


@dataclass(frozen=True)
class EmopiaClip:
    """One EMOPIA MIDI clip: its path, quadrant, song id and split (train/val/test)."""

    path: Path
    quadrant: str
    song: str
    split: str

    @property
    def name(self) -> str:
        """Clip name without the ``.mid`` ending, as in the split files."""
        return self.path.stem


def load_emopia(root: str | os.PathLike[str] | None = None, split: str | None = None) -> list[EmopiaClip]:
    """EMOPIA clips with their official split; ``split`` in {"train", "val", "test"} keeps only that one."""
    folder = dataset_dir("emopia", root)
    split_of: dict[str, str] = {}
    for name in ("train", "val", "test"):
        csv_path = folder / f"{name}.csv"
        if not csv_path.is_file():
            msg = f"EMOPIA split file {str(csv_path)!r} is missing"
            raise DataNotFoundError(msg)
        with csv_path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                split_of[row["fname"]] = name
    clips = []
    for path in sorted((folder / "midis").glob("*.mid")):
        quadrant, _, rest = path.stem.partition("_")
        song = rest.rsplit("_", 1)[0]
        if path.stem in split_of and quadrant in QUADRANT_VA:
            clips.append(EmopiaClip(path=path, quadrant=quadrant, song=song, split=split_of[path.stem]))
    if split is not None:
        if split not in ("train", "val", "test"):
            msg = f"EMOPIA split must be train, val or test, got {split!r}"
            raise ValueError(msg)
        clips = [c for c in clips if c.split == split]
    return clips
