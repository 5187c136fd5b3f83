"""GRID audio-visual corpus, speaker s1: video path, audio (inside the mp4) and word timings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataNotFoundError
from .paths import dataset_dir

__all__ = ["GRID_TIME_UNITS_PER_SECOND", "GridClip", "WordTiming", "load_grid", "read_align"]

#: ``.align`` files count time in 1/25000 s.
GRID_TIME_UNITS_PER_SECOND = 25000.0


@dataclass(frozen=True)
class WordTiming:
    """One word (or ``sil``/``sp`` pause) with start and end in seconds."""

    word: str
    start: float
    end: float


@dataclass(frozen=True)
class GridClip:
    """One GRID clip: its mp4 (25 fps video with 16 kHz audio) and its word timings."""

    video: Path
    words: tuple[WordTiming, ...]

    @property
    def transcript(self) -> str:
        """The spoken words, without pauses."""
        return " ".join(w.word for w in self.words if w.word not in ("sil", "sp"))


def read_align(path: str | os.PathLike[str]) -> tuple[WordTiming, ...]:
    """Parse a GRID ``.align`` file (``start end word`` per line, in 1/25000 s)."""
    words = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            start, end, word = parts
            words.append(WordTiming(word, int(start) / GRID_TIME_UNITS_PER_SECOND, int(end) / GRID_TIME_UNITS_PER_SECOND))
    return tuple(words)


def load_grid(root: str | os.PathLike[str] | None = None) -> list[GridClip]:
    """All GRID s1 clips that have both a video and an alignment, sorted by name."""
    folder = dataset_dir("grid-s1", root)
    clips = []
    for video in sorted((folder / "video").glob("*.mp4")):
        align = folder / "align" / f"{video.stem}.align"
        if align.is_file():
            clips.append(GridClip(video=video, words=read_align(align)))
    if not clips:
        msg = f"no GRID clips with alignments under {str(folder)!r}"
        raise DataNotFoundError(msg)
    return clips
