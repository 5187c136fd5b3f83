"""Symbolic representation: MIDI -> note events split into musical elements -> bar grids -> MIDI.

The scheme (documented here because it is emogen's own, read with symusic):

* Time is read in quarter notes (``symusic.Score.to("quarter")``) and quantised to a sixteenth-note
  grid; a bar is 16 sixteenths (4/4). EMOPIA's clips are piano transcriptions written at a nominal
  120 bpm that is not aligned with the music's beat, so for EMOPIA a "bar" is a 2-second window.
* Every note becomes a :class:`NoteEvent` with one field per musical element: ``bar`` and
  ``position`` (rhythm), ``pitch`` (MIDI 21-108, the piano), ``duration`` (one of
  :data:`DURATION_CLASSES`, in sixteenths) and ``velocity`` (one of :data:`NUM_VELOCITY_BINS` bins).
  The clip's tempo is kept beside them (:class:`EventSequence`).
* For the models the events become a :class:`BarGrid`: per bar, a `(16, 88)` onset grid plus the
  duration class and velocity bin of each onset.

``events_from_midi`` -> ``events_to_midi`` keeps every note's bar, position, pitch, and its duration and
velocity up to their quantisation (tests/test_music_representation.py checks the round trip).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic

from ..errors import InputError

__all__ = [
    "DURATION_CLASSES",
    "LOWEST_PITCH",
    "NUM_PITCHES",
    "NUM_VELOCITY_BINS",
    "POSITIONS_PER_BAR",
    "BarGrid",
    "EventSequence",
    "NoteEvent",
    "events_from_midi",
    "events_from_score",
    "events_to_midi",
    "events_to_score",
    "grid_from_events",
    "events_from_grid",
    "load_midi",
    "duration_class",
    "velocity_bin",
]

#: Sixteenth-note grid positions in a 4/4 bar.
POSITIONS_PER_BAR = 16
#: The 88 piano keys, A0 (21) to C8 (108).
LOWEST_PITCH = 21
NUM_PITCHES = 88
#: Note durations in sixteenths; a note takes the nearest class in log-time.
DURATION_CLASSES: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
#: Velocity bins of width 8 over 0-127; a bin decodes to its centre.
NUM_VELOCITY_BINS = 16
_LOG_DURATIONS = np.log(np.asarray(DURATION_CLASSES, dtype=np.float64))


def duration_class(sixteenths: np.ndarray | float) -> np.ndarray:
    """Index into :data:`DURATION_CLASSES` nearest (in log-time) to a duration in sixteenths."""
    d = np.log(np.clip(np.asarray(sixteenths, dtype=np.float64), 0.5, None))
    return np.abs(d[..., None] - _LOG_DURATIONS).argmin(-1)


def velocity_bin(velocity: np.ndarray | int) -> np.ndarray:
    """Velocity bin (0-15) of MIDI velocities (1-127)."""
    return np.clip(np.asarray(velocity) // (128 // NUM_VELOCITY_BINS), 0, NUM_VELOCITY_BINS - 1)


def velocity_value(bin_index: np.ndarray | int) -> np.ndarray:
    """MIDI velocity at the centre of a velocity bin."""
    width = 128 // NUM_VELOCITY_BINS
    return np.clip(np.asarray(bin_index) * width + width // 2, 1, 127)


@dataclass(frozen=True)
class NoteEvent:
    """One note split into its musical elements (all integers)."""

    bar: int
    position: int
    pitch: int
    duration: int  # index into DURATION_CLASSES
    velocity: int  # velocity bin


@dataclass
class EventSequence:
    """The note events of a piece plus its tempo (quarter notes per minute)."""

    events: list[NoteEvent] = field(default_factory=list)
    tempo: float = 120.0

    @property
    def num_bars(self) -> int:
        """Bars spanned by the events (0 when empty)."""
        return max((e.bar for e in self.events), default=-1) + 1


@dataclass
class BarGrid:
    """Bar-level arrays the models read and write.

    Args:
        onsets (`np.ndarray` of shape `(bars, 16, 88)`, bool): a note starts at (position, pitch).
        durations (`np.ndarray` of shape `(bars, 16, 88)`, int8): duration class at each onset.
        velocities (`np.ndarray` of shape `(bars, 16, 88)`, int8): velocity bin at each onset.
        tempo (`float`): quarter notes per minute.
    """

    onsets: np.ndarray
    durations: np.ndarray
    velocities: np.ndarray
    tempo: float = 120.0

    @property
    def num_bars(self) -> int:
        """Number of bars."""
        return int(self.onsets.shape[0])

    def transpose(self, semitones: int) -> BarGrid:
        """Shift every pitch by ``semitones``; notes leaving the piano range are dropped."""
        def shift(a: np.ndarray) -> np.ndarray:
            out = np.zeros_like(a)
            if semitones >= 0:
                out[..., semitones:] = a[..., : NUM_PITCHES - semitones]
            else:
                out[..., :semitones] = a[..., -semitones:]
            return out

        return BarGrid(shift(self.onsets), shift(self.durations), shift(self.velocities), self.tempo)


def load_midi(path: str | os.PathLike[str]) -> symusic.Score:
    """Read a MIDI file, raising :class:`~emogen.errors.InputError` when it is missing, corrupt or empty."""
    source = Path(path)
    if not source.is_file():
        msg = f"MIDI file {str(source)!r} does not exist; give the path of a .mid file"
        raise InputError(msg)
    try:
        score = symusic.Score(str(source))
    except Exception as error:  # symusic raises plain RuntimeErrors on bad bytes
        msg = f"MIDI file {str(source)!r} cannot be read ({' '.join(str(error).split())[:80]}); is it a valid .mid file?"
        raise InputError(msg) from None
    if sum(len(t.notes) for t in score.tracks if not t.is_drum) == 0:
        msg = f"MIDI file {str(source)!r} has no pitched notes; give a file with at least one note"
        raise InputError(msg)
    return score


def events_from_score(score: symusic.Score) -> EventSequence:
    """Quantise every pitched note of ``score`` (all non-drum tracks merged) into :class:`NoteEvent`\\ s."""
    quarter = score.to("quarter")
    tempo = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
    cells: dict[tuple[int, int], tuple[int, int]] = {}
    for track in quarter.tracks:
        if track.is_drum:
            continue
        for note in track.notes:
            if not LOWEST_PITCH <= note.pitch < LOWEST_PITCH + NUM_PITCHES:
                continue
            step = int(round(note.time * 4))
            dur = int(duration_class(max(note.duration * 4, 0.5)))
            vel = int(velocity_bin(note.velocity))
            key = (step, note.pitch)
            if key in cells:  # two notes on one cell: keep the longer duration and louder velocity
                dur, vel = max(dur, cells[key][0]), max(vel, cells[key][1])
            cells[key] = (dur, vel)
    events = [
        NoteEvent(step // POSITIONS_PER_BAR, step % POSITIONS_PER_BAR, pitch, dur, vel)
        for (step, pitch), (dur, vel) in sorted(cells.items())
    ]
    return EventSequence(events=events, tempo=tempo)


def events_from_midi(path: str | os.PathLike[str]) -> EventSequence:
    """Read a MIDI file into quantised note events (see :func:`events_from_score`)."""
    return events_from_score(load_midi(path))


def events_to_score(sequence: EventSequence, ticks_per_quarter: int = 480, tempo: float | None = None) -> symusic.Score:
    """Write events as a one-track piano :class:`symusic.Score` at ``tempo`` (default: the sequence's)."""
    score = symusic.Score(ticks_per_quarter)
    qpm = float(tempo if tempo is not None else sequence.tempo)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    track = symusic.Track(name="Piano", program=0, is_drum=False)
    tick = ticks_per_quarter // 4
    for e in sequence.events:
        start = (e.bar * POSITIONS_PER_BAR + e.position) * tick
        track.notes.append(
            symusic.Note(start, DURATION_CLASSES[e.duration] * tick, int(e.pitch), int(velocity_value(e.velocity)))
        )
    track.notes.sort()
    score.tracks.append(track)
    return score


def events_to_midi(sequence: EventSequence, path: str | os.PathLike[str], tempo: float | None = None) -> Path:
    """Write events to a standard MIDI file (type 1, one piano track) and return the path."""
    events_to_score(sequence, tempo=tempo).dump_midi(str(path))
    return Path(path)


def grid_from_events(sequence: EventSequence, num_bars: int | None = None) -> BarGrid:
    """Place events on a `(bars, 16, 88)` grid; ``num_bars`` pads or crops (default: the events' span)."""
    bars = sequence.num_bars if num_bars is None else num_bars
    onsets = np.zeros((bars, POSITIONS_PER_BAR, NUM_PITCHES), dtype=bool)
    durations = np.zeros(onsets.shape, dtype=np.int8)
    velocities = np.zeros(onsets.shape, dtype=np.int8)
    for e in sequence.events:
        if e.bar < bars:
            idx = (e.bar, e.position, e.pitch - LOWEST_PITCH)
            onsets[idx], durations[idx], velocities[idx] = True, e.duration, e.velocity
    return BarGrid(onsets, durations, velocities, sequence.tempo)


def events_from_grid(grid: BarGrid) -> EventSequence:
    """The note events of a bar grid, in time then pitch order."""
    bars, positions, pitches = np.nonzero(grid.onsets)
    events = [
        NoteEvent(int(b), int(p), int(k) + LOWEST_PITCH, int(grid.durations[b, p, k]), int(grid.velocities[b, p, k]))
        for b, p, k in zip(bars, positions, pitches)
    ]
    return EventSequence(events=events, tempo=grid.tempo)
