"""Hand-made statistics of a piece, read from its notes in seconds (not from the model's bar grid).

Used by the evaluation judge (:mod:`emogen.music.judge`) and the musicality metrics
(:mod:`emogen.music.metrics`); deliberately independent of the features the critic and VQ-VAE read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import symusic

from .representation import EventSequence, events_to_score

__all__ = ["NoteArray", "note_array", "piece_statistics", "STATISTIC_NAMES", "ONSET_MERGE_SECONDS"]

#: Onsets closer than this are one event (a rolled chord) when counting inter-onset intervals.
ONSET_MERGE_SECONDS = 0.05
# Krumhansl & Kessler (1982) key profiles, C major / C minor.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

STATISTIC_NAMES: tuple[str, ...] = (
    "note_density", "onset_density", "pitch_mean", "pitch_std", "pitch_range", "pitch_class_entropy",
    "major_corr", "minor_corr", "mode", "velocity_mean", "velocity_std", "ioi_mean", "ioi_std",
    "duration_mean", "polyphony",
)


@dataclass
class NoteArray:
    """Notes as arrays: onset and offset (seconds), pitch, velocity."""

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray


def note_array(piece: symusic.Score | EventSequence | str | os.PathLike[str], tempo: float | None = None) -> NoteArray:
    """Notes of a score, an event sequence (at ``tempo``) or a MIDI path, in seconds (all tracks)."""
    if isinstance(piece, EventSequence):
        piece = events_to_score(piece, tempo=tempo)
    elif not isinstance(piece, symusic.Score):
        piece = symusic.Score(str(piece))
    sec = piece.to("second")
    notes = [(n.time, n.time + n.duration, n.pitch, n.velocity) for t in sec.tracks if not t.is_drum for n in t.notes]
    a = np.array(notes, dtype=np.float64).reshape(-1, 4)
    order = np.lexsort((a[:, 2], a[:, 0]))
    a = a[order]
    return NoteArray(a[:, 0], a[:, 1], a[:, 2], a[:, 3])


def _onsets(notes: NoteArray) -> np.ndarray:
    times = np.unique(notes.start)
    if len(times) == 0:
        return times
    keep = np.concatenate([[True], np.diff(times) > ONSET_MERGE_SECONDS])
    return times[keep]


def _polyphony(notes: NoteArray) -> float:
    """Mean number of notes sounding at each onset event."""
    onsets = _onsets(notes)
    if len(onsets) == 0:
        return 0.0
    sounding = (notes.start[None, :] <= onsets[:, None] + ONSET_MERGE_SECONDS) & (notes.end[None, :] > onsets[:, None])
    return float(sounding.sum(1).mean())


def piece_statistics(notes: NoteArray) -> dict[str, float]:
    """The statistics named in :data:`STATISTIC_NAMES` (zeros for an empty piece)."""
    if len(notes.pitch) == 0:
        return dict.fromkeys(STATISTIC_NAMES, 0.0)
    span = max(float(notes.end.max() - notes.start.min()), 1.0)
    onsets = _onsets(notes)
    ioi = np.diff(onsets) if len(onsets) > 1 else np.array([span])
    dur = notes.end - notes.start
    hist = np.bincount(notes.pitch.astype(int) % 12, weights=np.clip(dur, 0.05, 4.0), minlength=12)
    pcs = hist / max(hist.sum(), 1e-9)
    nz = pcs[pcs > 0]
    major = max(np.corrcoef(np.roll(_MAJOR, k), hist)[0, 1] for k in range(12)) if hist.std() > 0 else 0.0
    minor = max(np.corrcoef(np.roll(_MINOR, k), hist)[0, 1] for k in range(12)) if hist.std() > 0 else 0.0
    return {
        "note_density": len(notes.pitch) / span,
        "onset_density": len(onsets) / span,
        "pitch_mean": float(notes.pitch.mean()),
        "pitch_std": float(notes.pitch.std()),
        "pitch_range": float(notes.pitch.max() - notes.pitch.min()),
        "pitch_class_entropy": float(-(nz * np.log2(nz)).sum()),
        "major_corr": float(major),
        "minor_corr": float(minor),
        "mode": float(major - minor),
        "velocity_mean": float(notes.velocity.mean()),
        "velocity_std": float(notes.velocity.std()),
        "ioi_mean": float(ioi.mean()),
        "ioi_std": float(ioi.std()),
        "duration_mean": float(np.clip(dur, 0, 8).mean()),
        "polyphony": _polyphony(notes),
    }
