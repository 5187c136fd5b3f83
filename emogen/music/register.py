"""Keep a piece's notes in its register: octave-fold notes far outside the rest.

The prior now and then decodes a single note far below or above everything else in the piece (mostly a deep bass
note from a pitch code that is rare in the training codes): a third to a half of its pieces hold a note more than an
octave beyond their 5th-95th pitch percentile, against 15 % of real EMOPIA clips, and that one note is the
clearest statistic telling generated from real music (see the music model card). :func:`fold_into_register` moves
each such note by whole octaves to the edge of the piece's register: its pitch class, so the harmony, is kept, as an
arranger keeps a voicing in reach.
"""

from __future__ import annotations

import numpy as np

from emogen.music.representation import BarGrid

__all__ = ["REGISTER_PERCENTILES", "fold_into_register", "has_far_notes"]

#: The percentiles of a piece's pitches that span its register.
REGISTER_PERCENTILES = (5.0, 95.0)


def _octave_shifts(pitches: np.ndarray, margin: float) -> np.ndarray:
    """Semitones (whole octaves) that bring each of a piece's ``pitches`` within ``margin`` of its register (0 for the
    notes already there)."""
    low, high = np.percentile(pitches, REGISTER_PERCENTILES)
    below = np.ceil(np.maximum(low - margin - pitches, 0) / 12)  # octaves up
    above = np.ceil(np.maximum(pitches - high - margin, 0) / 12)  # octaves down
    return (12 * (below - above)).astype(np.int64)


def has_far_notes(pitches: np.ndarray, margin: float = 12.0) -> bool:
    """Whether any of a piece's ``pitches`` lies more than ``margin`` semitones below the 5th or above the 95th
    percentile of them all (the "stray notes" the music benchmarks count; False for no notes)."""
    pitches = np.asarray(pitches)
    return bool(pitches.size and _octave_shifts(pitches, margin).any())


def fold_into_register(grid: BarGrid, margin: float) -> BarGrid:
    """``grid`` with every note more than ``margin`` semitones below the 5th (above the 95th) percentile of its pitches
    moved up (down) by whole octaves until it is within ``margin`` of them.

    A folded note that lands on a cell where a note already starts is dropped (the existing note is kept); one that
    would leave the keyboard stays. The grid is returned unchanged when nothing lies outside; ``margin`` must be at
    least 0.
    """
    if margin < 0:
        raise ValueError(f"register margin must be >= 0 semitones, got {margin!r}")
    bars, positions, pitches = np.nonzero(grid.onsets)
    if pitches.size == 0:
        return grid
    shift = _octave_shifts(pitches, margin)
    shift[(pitches + shift < 0) | (pitches + shift >= grid.onsets.shape[-1])] = 0  # never off the keyboard
    moved = shift != 0
    if not moved.any():
        return grid
    onsets, durations, velocities = grid.onsets.copy(), grid.durations.copy(), grid.velocities.copy()
    source = (bars[moved], positions[moved], pitches[moved])
    target = (bars[moved], positions[moved], pitches[moved] + shift[moved])
    free = ~grid.onsets[target]
    moved_durations, moved_velocities = durations[source], velocities[source]
    for array in (onsets, durations, velocities):
        array[source] = 0
    keep = tuple(t[free] for t in target)
    onsets[keep] = True
    durations[keep] = moved_durations[free]
    velocities[keep] = moved_velocities[free]
    return BarGrid(onsets, durations, velocities, grid.tempo)
