"""nEMO: acted Polish emotional speech (9 actors, six emotions, every sentence in every emotion).

``nemo-speech/data.tsv`` lists ``file_id`` (``{speaker}_{emotion}_{sentence}.wav``), ``emotion``,
``raw_text``, ``normalized_text``, ``speaker_id``, ``gender`` and ``age``; the audio is
``samples/{speaker}_{emotion}_{sentence}.opus`` (16 kHz mono Opus), decoded with PyAV through
:func:`~emogen.voice.audio.decode_audio`. nEMO (Christop, LREC-COLING 2024) is CC BY-NC-SA 4.0.

The split is by speaker and balanced by gender (5 male, 4 female): :data:`NEMO_SPLITS`.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError
from .paths import dataset_dir

__all__ = ["NEMO_CATEGORIES", "NEMO_EMOTIONS", "NEMO_INTENSITY", "NEMO_SPLITS", "NemoClip", "load_nemo", "read_nemo_audio"]

#: nEMO emotion label -> canonical emogen category.
NEMO_EMOTIONS: dict[str, str] = {
    "anger": "angry",
    "fear": "fearful",
    "happiness": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprised": "surprised",
}
#: The bank categories nEMO covers (no calm, disgusted or contempt).
NEMO_CATEGORIES: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "surprised")
#: The intensity an nEMO clip stands for in training (nEMO does not label how strongly each clip is acted).
NEMO_INTENSITY: float = 0.8
#: Speaker-independent split, balanced by gender: train 3 male + 3 female, validation 1 male, test 1 + 1.
NEMO_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("KS0", "MP0", "TP0", "EB0", "IC0", "MK0"),
    "validation": ("WR0",),
    "test": ("SM0", "KD0"),
}


@dataclass(frozen=True)
class NemoClip:
    """One nEMO recording and what ``data.tsv`` says about it."""

    path: Path
    emotion: str  # canonical emogen category
    speaker: str
    gender: str
    age: int
    sentence: int
    text: str

    @property
    def is_male(self) -> bool:
        """The speaker's gender as ``data.tsv`` gives it."""
        return self.gender == "male"


def _parse_row(row: dict[str, str], samples: Path) -> NemoClip:
    stem = Path(row["file_id"].strip()).stem
    speaker, label, sentence = stem.split("_")
    emotion = row["emotion"].strip()
    if emotion not in NEMO_EMOTIONS or label != emotion or speaker != row["speaker_id"].strip():
        msg = f"nEMO row {row['file_id']!r} does not match its emotion {emotion!r} / speaker {row['speaker_id'].strip()!r}"
        raise ValueError(msg)
    return NemoClip(
        path=samples / f"{stem}.opus",
        emotion=NEMO_EMOTIONS[emotion],
        speaker=speaker,
        gender=row["gender"].strip(),
        age=int(row["age"]),
        sentence=int(sentence),
        text=row["raw_text"].strip(),
    )


def load_nemo(root: str | os.PathLike[str] | None = None, speakers: set[str] | tuple[str, ...] | None = None) -> list[NemoClip]:
    """All clips listed in ``nemo-speech/data.tsv`` (optionally only ``speakers``), sorted by path.

    Raises :class:`~emogen.errors.DataNotFoundError` when the folder, ``data.tsv`` or a listed file is missing.

    Example:
        >>> clips = load_nemo(speakers={"WR0"})  # doctest: +SKIP
        >>> clips[0].emotion, clips[0].speaker  # doctest: +SKIP
        ('angry', 'WR0')
    """
    folder = dataset_dir("nemo-speech", root)
    table = folder / "data.tsv"
    if not table.is_file():
        msg = f"nEMO table {str(table)!r} is missing"
        raise DataNotFoundError(msg)
    with table.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    clips = sorted((_parse_row(row, folder / "samples") for row in rows), key=lambda c: c.path)
    missing = [c.path.name for c in clips if not c.path.is_file()]
    if missing:
        msg = f"{len(missing)} nEMO files listed in data.tsv are missing under {str(folder / 'samples')!r}, e.g. {missing[0]!r}"
        raise DataNotFoundError(msg)
    return [c for c in clips if speakers is None or c.speaker in speakers]


def read_nemo_audio(clip: NemoClip) -> tuple[np.ndarray, int]:
    """Decode one clip with PyAV: mono float32 samples and their rate (Opus decodes at 48 kHz)."""
    from ..voice.audio import decode_audio, to_mono

    audio, rate = decode_audio(clip.path)
    return to_mono(audio).astype(np.float32, copy=False), rate
