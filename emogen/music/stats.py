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

__all__ = [
    "NoteArray",
    "note_array",
    "piece_statistics",
    "clip_statistics",
    "key_clarity",
    "silent_share",
    "bar_repetition",
    "STATISTIC_NAMES",
    "CLIP_STATISTIC_NAMES",
    "ONSET_MERGE_SECONDS",
]

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

#: The statistics compared between generated and real clips of a quadrant (:func:`clip_statistics`).
CLIP_STATISTIC_NAMES: tuple[str, ...] = (
    "notes_per_second", "silent_share", "pitch_range", "pitch_mean", "velocity_mean", "polyphony", "key_clarity", "bar_repetition",
)
#: Seconds of one bar on the 16-sixteenth grid at the nominal 120 bpm (EMOPIA's "bar", a 2-second window).
BAR_SECONDS = 2.0
STEP_SECONDS = BAR_SECONDS / 16


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


def _key_correlations(notes: NoteArray) -> tuple[float, float]:
    """Best correlation of the duration-weighted pitch-class histogram with a major and with a minor key profile."""
    dur = notes.end - notes.start
    hist = np.bincount(notes.pitch.astype(int) % 12, weights=np.clip(dur, 0.05, 4.0), minlength=12)
    if len(notes.pitch) == 0 or hist.std() == 0:
        return 0.0, 0.0
    major = max(np.corrcoef(np.roll(_MAJOR, k), hist)[0, 1] for k in range(12))
    minor = max(np.corrcoef(np.roll(_MINOR, k), hist)[0, 1] for k in range(12))
    return float(major), float(minor)


def key_clarity(notes: NoteArray) -> float:
    """Krumhansl-Schmuckler key clarity: the highest correlation of the piece's duration-weighted pitch-class
    histogram with any of the 24 Krumhansl-Kessler key profiles (0 for an empty or flat histogram)."""
    return max(_key_correlations(notes))


def silent_share(notes: NoteArray, window: float = 0.5) -> float:
    """Share of the ``window``-second windows from time 0 to the last note-off in which no note sounds."""
    if len(notes.pitch) == 0:
        return 1.0
    edges = np.arange(0.0, float(notes.end.max()) + 1e-9, window)
    if len(edges) == 0:
        return 0.0
    busy = ((notes.start[None, :] < edges[:, None] + window) & (notes.end[None, :] > edges[:, None])).any(1)
    return float(1.0 - busy.mean())


def bar_repetition(notes: NoteArray, bar_seconds: float = BAR_SECONDS, step_seconds: float = STEP_SECONDS) -> float:
    """How much bars repeat earlier bars: for each bar after the first (with notes), the highest Jaccard
    similarity of its set of (sixteenth in the bar, pitch) onsets with that of any earlier bar; the mean."""
    steps = np.round(notes.start / step_seconds).astype(int)
    per_bar = int(round(bar_seconds / step_seconds))
    bars: dict[int, set[tuple[int, int]]] = {}
    for st, p in zip(steps, notes.pitch.astype(int)):
        bars.setdefault(int(st) // per_bar, set()).add((int(st) % per_bar, p))
    order = sorted(bars)
    scores = []
    for i, b in enumerate(order[1:], start=1):
        cur = bars[b]
        scores.append(max(len(cur & bars[a]) / len(cur | bars[a]) for a in order[:i]))
    return float(np.mean(scores)) if scores else 0.0


def clip_statistics(notes: NoteArray) -> dict[str, float]:
    """The statistics named in :data:`CLIP_STATISTIC_NAMES` (what the realism table and classifier compare)."""
    base = piece_statistics(notes)
    return {
        "notes_per_second": base["note_density"],
        "silent_share": silent_share(notes),
        "pitch_range": base["pitch_range"],
        "pitch_mean": base["pitch_mean"],
        "velocity_mean": base["velocity_mean"],
        "polyphony": base["polyphony"],
        "key_clarity": max(base["major_corr"], base["minor_corr"]),
        "bar_repetition": bar_repetition(notes),
    }


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
    major, minor = _key_correlations(notes)
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
