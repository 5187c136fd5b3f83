"""Octave-folding of notes far outside a piece's register (`emogen.music.register`)."""

from __future__ import annotations

import numpy as np
import pytest

from emogen.music.register import fold_into_register, has_far_notes
from emogen.music.representation import NUM_PITCHES, BarGrid


def _grid(notes: list[tuple[int, int, int, int, int]], bars: int = 4) -> BarGrid:
    """A grid from (bar, position, pitch index, duration class, velocity bin) tuples."""
    shape = (bars, 16, NUM_PITCHES)
    onsets, durations, velocities = np.zeros(shape, bool), np.zeros(shape, np.int8), np.zeros(shape, np.int8)
    for bar, pos, pitch, dur, vel in notes:
        onsets[bar, pos, pitch], durations[bar, pos, pitch], velocities[bar, pos, pitch] = True, dur, vel
    return BarGrid(onsets, durations, velocities, 120.0)


def _notes(grid: BarGrid) -> set[tuple[int, int, int, int, int]]:
    b, p, k = np.nonzero(grid.onsets)
    return {(int(x), int(y), int(z), int(grid.durations[x, y, z]), int(grid.velocities[x, y, z])) for x, y, z in zip(b, p, k)}


# a line in the middle register (pitch indices 36-47) on every sixteenth of four bars: enough notes that one or two
# more do not move its 5th-95th percentiles
MELODY = [(bar, pos, 36 + (3 * bar + pos) % 12, 2, 8) for bar in range(4) for pos in range(16)]


def test_far_bass_note_moves_by_octaves_into_the_register_keeping_its_element_values():
    grid = _grid([*MELODY, (1, 4, 3, 5, 11)])  # 33 semitones below the melody
    folded = fold_into_register(grid, margin=12)
    moved = _notes(folded) - set(MELODY)
    assert len(moved) == 1
    (bar, pos, pitch, dur, vel) = moved.pop()
    assert (bar, pos, dur, vel) == (1, 4, 5, 11)  # same time, duration and velocity
    assert pitch % 12 == 3 % 12  # same pitch class
    low = np.percentile([n[2] for n in _notes(grid)], 5)
    assert low - 12 <= pitch < low - 12 + 12  # the smallest whole-octave move that brings it within the margin
    assert set(MELODY) <= _notes(folded)  # the other notes are untouched
    assert folded.onsets.sum() == grid.onsets.sum()


def test_far_high_note_moves_down():
    grid = _grid([*MELODY, (0, 6, 85, 1, 3)])
    folded = fold_into_register(grid, margin=5)
    high = np.percentile([n[2] for n in _notes(grid)], 95)
    pitches = [n[2] for n in _notes(folded) - set(MELODY)]
    assert len(pitches) == 1 and pitches[0] <= high + 5 and pitches[0] % 12 == 85 % 12


def test_notes_inside_the_margin_and_empty_grids_are_unchanged():
    grid = _grid(MELODY)
    assert fold_into_register(grid, margin=0) is grid  # nothing beyond its own 5th-95th percentiles by more than 0
    empty = _grid([])
    assert fold_into_register(empty, margin=12) is empty


def test_a_fold_onto_an_existing_note_keeps_the_existing_one():
    low_note = (0, 0, 3, 6, 15)  # folds up by two octaves, to pitch index 27
    grid = _grid([*MELODY, low_note])
    landing = fold_into_register(grid, margin=12)
    target = (_notes(landing) - set(MELODY)).pop()
    occupied = _grid([*MELODY, (0, 0, target[2], 1, 1), low_note])
    folded = fold_into_register(occupied, margin=12)
    assert folded.onsets.sum() == occupied.onsets.sum() - 1
    assert (0, 0, target[2], 1, 1) in _notes(folded)


def test_negative_margin_is_refused():
    with pytest.raises(ValueError, match="margin"):
        fold_into_register(_grid(MELODY), margin=-1)


def test_far_notes_are_detected_before_and_not_after_folding():
    grid = _grid([*MELODY, (2, 8, 2, 1, 1)])
    pitches = np.nonzero(grid.onsets)[2]
    assert has_far_notes(pitches) and not has_far_notes(np.nonzero(_grid(MELODY).onsets)[2])
    assert not has_far_notes(np.nonzero(fold_into_register(grid, margin=12).onsets)[2])
    assert not has_far_notes(np.array([]))
