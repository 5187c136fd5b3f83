"""Audio input validation, chunking at pauses, WORLD round trip and DTW (no checkpoint needed)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emogen.errors import InputError
from emogen.testing import tone
from emogen.voice.audio import check_audio, load_audio, probe_audio, split_at_pauses, trim_silence
from emogen.voice.dtw import align_to_source, dtw_path
from emogen.voice.world import analyze, synthesize

SR = 16000


def test_load_audio_any_rate_and_stereo(tmp_path):
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([tone(sr=44100), tone(sr=44100)], axis=1), 44100)
    audio, sr = load_audio(path)
    assert sr == 44100 and audio.shape == (44100, 2)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_text("not audio at all"), "not an audio file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: sf.write(p, np.zeros(0, dtype=np.float32), SR), "no audio samples"),
        (lambda p: sf.write(p, np.zeros(SR, dtype=np.float32), SR), "all silence"),
    ],
)
def test_bad_files_raise_input_error(tmp_path, make, match):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(InputError, match=match):
        load_audio(path)


def test_missing_file_and_too_long(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        probe_audio(tmp_path / "nope.wav")
    path = tmp_path / "long.wav"
    sf.write(path, tone(3.0), SR)
    with pytest.raises(InputError, match="--max-seconds"):
        probe_audio(path, max_seconds=1.0)
    assert probe_audio(path, max_seconds=None).seconds == pytest.approx(3.0)


def test_check_audio_rejects_nan():
    bad = tone()
    bad[10] = np.nan
    with pytest.raises(InputError, match="NaN"):
        check_audio(bad, SR)


def test_split_at_pauses_covers_input_and_cuts_in_silence():
    speech = tone(6.0)
    audio = np.concatenate([speech, np.zeros(SR // 2, dtype=np.float32), speech, np.zeros(SR // 2, dtype=np.float32), speech])
    spans = split_at_pauses(audio, SR, max_seconds=8.0)
    assert spans[0][0] == 0 and spans[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(end - start <= 8 * SR for start, end in spans)
    for _, cut in spans[:-1]:
        assert np.max(np.abs(audio[cut - 100 : cut + 100])) == 0.0


def test_trim_silence_finds_the_speech():
    audio = np.concatenate([np.zeros(SR, dtype=np.float32), tone(1.0), np.zeros(SR, dtype=np.float32)])
    start, end = trim_silence(audio, SR, pad_seconds=0.0)
    assert abs(start - SR) <= 160 and abs(end - 2 * SR) <= 160


def test_world_round_trip_keeps_length_and_pitch():
    audio = tone(1.0, f0=180.0)
    feats = analyze(audio, SR)
    assert np.median(feats.f0[feats.voiced]) == pytest.approx(180.0, rel=0.05)
    out = synthesize(feats)
    assert abs(len(out) - len(audio)) <= 0.01 * SR
    slower = feats.time_scale(1.5)
    assert slower.num_frames == pytest.approx(1.5 * feats.num_frames, abs=1)


def test_dtw_recovers_a_time_stretch():
    source = np.sin(np.linspace(0, 6, 50))[:, None]
    target = np.sin(np.linspace(0, 6, 100))[:, None]
    i, j = dtw_path(source, target)
    assert (i[0], j[0]) == (0, 0) and (i[-1], j[-1]) == (49, 99)
    assert np.all(np.diff(i) >= 0) and np.all(np.diff(j) >= 0)
    aligned = align_to_source(i, j, target, len(source))
    assert np.abs(aligned - source).max() < 0.15
