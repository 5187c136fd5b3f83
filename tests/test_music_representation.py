"""MIDI -> element events -> MIDI round trips, bar grids and bad MIDI input."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import symusic

from emogen.errors import InputError
from emogen.music.representation import (
    DURATION_CLASSES,
    EventSequence,
    NoteEvent,
    events_from_grid,
    events_from_midi,
    events_to_midi,
    grid_from_events,
    load_midi,
)


def _score(notes: list[tuple[int, int, int, int]], tpq: int = 480) -> symusic.Score:
    score = symusic.Score(tpq)
    track = symusic.Track(name="p", program=0, is_drum=False)
    for start, dur, pitch, vel in notes:
        track.notes.append(symusic.Note(start, dur, pitch, vel))
    score.tracks.append(track)
    return score


def test_grid_aligned_notes_survive_the_round_trip(tmp_path):
    # sixteenth = 120 ticks at 480 tpq; durations on the classes; velocities at bin centres
    notes = [(0, 480, 60, 68), (120, 240, 64, 76), (1920 + 360, 960, 67, 100), (1920 * 3, 120, 21, 4), (1920 * 3, 3840, 108, 124)]
    path = tmp_path / "in.mid"
    _score(notes).dump_midi(str(path))
    events = events_from_midi(path)
    assert len(events.events) == len(notes)
    out = events_to_midi(events, tmp_path / "out.mid")
    back = pretty_midi.PrettyMIDI(str(out))  # any MIDI reader opens it
    got = sorted((round(n.start * 8), round((n.end - n.start) * 8), n.pitch, n.velocity) for n in back.instruments[0].notes)
    # 120 bpm: one sixteenth = 0.125 s
    want = sorted((s // 120, d // 120, p, v) for s, d, p, v in notes)
    assert got == want


def test_events_grid_round_trip():
    seq = EventSequence([NoteEvent(0, 0, 60, 3, 8), NoteEvent(0, 4, 64, 1, 9), NoteEvent(2, 15, 100, 9, 15)], tempo=96.0)
    grid = grid_from_events(seq)
    assert grid.onsets.shape == (3, 16, 88)
    assert events_from_grid(grid).events == seq.events
    assert events_from_grid(grid).tempo == 96.0


def test_transpose_drops_notes_leaving_the_piano():
    grid = grid_from_events(EventSequence([NoteEvent(0, 0, 60, 0, 8), NoteEvent(0, 0, 107, 0, 8)]))
    up = grid.transpose(2)
    assert [e.pitch for e in events_from_grid(up).events] == [62]


def test_emopia_clip_round_trip_keeps_notes(data_root, tmp_path):
    path = next((data_root / "emopia" / "midis").glob("Q3_*.mid"))
    events = events_from_midi(path)
    assert len(events.events) > 50
    again = events_from_midi(events_to_midi(events, tmp_path / "clip.mid"))
    assert again.events == events.events
    original = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
    # merging only happens for notes on the same sixteenth and key
    assert len(events.events) <= len(original)
    assert len(events.events) >= 0.8 * len(original)
    assert max(e.duration for e in events.events) < len(DURATION_CLASSES)


@pytest.mark.parametrize("content", [b"", b"not a midi file at all", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_corrupt_midi_is_an_input_error(tmp_path, content):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(InputError):
        load_midi(path)


def test_missing_and_empty_midi(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_midi(tmp_path / "nope.mid")
    empty = tmp_path / "empty.mid"
    _score([]).dump_midi(str(empty))
    with pytest.raises(InputError, match="no pitched notes"):
        load_midi(empty)


def test_velocity_and_duration_bins_are_monotone():
    from emogen.music.representation import duration_class, velocity_bin

    assert np.all(np.diff(velocity_bin(np.arange(1, 128))) >= 0)
    assert np.all(np.diff(duration_class(np.linspace(0.5, 40, 100))) >= 0)
