"""Piano audio through the shipped soundfont, its fallback, the piano-roll picture and the CLI's audio outputs."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from emogen.cli.main import app
from emogen.errors import InputError
from emogen.music import soundfont
from emogen.music.representation import DURATION_CLASSES, EventSequence, NoteEvent
from emogen.music.soundfont import PEAK_CEILING, PIANO_SOUNDFONT, RELEASE_SECONDS, SAMPLE_RATE

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
needs_soundfont = pytest.mark.skipif(not soundfont.soundfont_available(), reason="midirenderer or the piano soundfont is missing")
WHOLE_NOTE = 7  # index of 16 sixteenths in DURATION_CLASSES: one bar, 2 s at 120 bpm


def _spectrum(audio: np.ndarray, start: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    part = mono[int(start * SAMPLE_RATE) : int((start + seconds) * SAMPLE_RATE)]
    magnitude = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    return np.fft.rfftfreq(len(part), 1 / SAMPLE_RATE), magnitude


def _level_db(audio: np.ndarray, start: float, end: float) -> float:
    part = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    return 20 * np.log10(np.sqrt(np.mean(part**2)) + 1e-12)


@pytest.fixture(scope="module")
def a4() -> np.ndarray:
    return soundfont.render_soundfont(EventSequence([NoteEvent(0, 0, 69, WHOLE_NOTE, 12)]))


def test_soundfont_is_shipped_small_with_its_licence():
    assert PIANO_SOUNDFONT.is_file() and PIANO_SOUNDFONT.stat().st_size < 6_000_000
    head = PIANO_SOUNDFONT.read_bytes()[:12]
    assert head[:4] == b"RIFF" and head[8:] == b"sfbk"
    licence = PIANO_SOUNDFONT.with_name("FluidR3Mono_GM.copyright").read_text()
    assert "(MIT)" in licence and "Permission is hereby granted" in licence


@needs_soundfont
def test_a4_is_a_piano_note_at_44k(a4):
    assert a4.dtype == np.float32 and a4.shape[1] == 2
    # one bar (2 s) plus the release tail
    assert abs(len(a4) / SAMPLE_RATE - (2.0 + RELEASE_SECONDS)) < 0.01
    peak = np.abs(a4).max()
    assert 0.05 < peak <= PEAK_CEILING + 1e-6  # clearly audible, nothing clipped
    freqs, mag = _spectrum(a4, 0.05, 1.0)
    assert abs(freqs[np.argmax(mag)] - 440.0) < 3.0
    # harmonics well above the noise floor between them (a struck string, not a sine)
    floor = np.median(mag[(freqs > 300) & (freqs < 3000)])
    for k in (2, 3):
        band = (freqs > 440 * k - 8) & (freqs < 440 * k + 8)
        assert mag[band].max() > 30 * floor, k
    # a piano decays while the key is held, and is damped after the note-off
    assert _level_db(a4, 0.05, 0.3) - _level_db(a4, 1.5, 1.95) > 6.0
    assert _level_db(a4, 1.5, 1.95) - _level_db(a4, 3.5, 4.0) > 20.0


@needs_soundfont
def test_chord_has_each_fundamental_and_length_follows_tempo():
    chord = [NoteEvent(0, 0, pitch, WHOLE_NOTE, 10) for pitch in (60, 64, 67)]  # C major, C4-E4-G4
    late = [NoteEvent(2, 8, 72, 3, 10)]  # a quarter note at bar 3, beat 3: the piece ends at bar 3, beat 4
    audio = soundfont.render_soundfont(EventSequence(chord + late), tempo=90.0)
    quarter = 60.0 / 90.0
    assert abs(len(audio) / SAMPLE_RATE - (11 * quarter + RELEASE_SECONDS)) < 0.01
    freqs, mag = _spectrum(audio, 0.05, 1.5)
    floor = np.median(mag[(freqs > 200) & (freqs < 600)])
    for f0 in (261.63, 329.63, 392.00):
        band = (freqs > f0 - 4) & (freqs < f0 + 4)
        assert mag[band].max() > 20 * floor, f0
    assert np.abs(audio).max() <= PEAK_CEILING + 1e-6


@needs_soundfont
def test_loud_dense_music_is_not_clipped():
    # ten-note chords at the top velocity on every beat would exceed full scale: the renderer scales them down
    # to the ceiling instead of clipping (clipped tops would be flat runs at the peak)
    chords = [NoteEvent(bar, pos, pitch, 3, 15) for bar in range(4) for pos in (0, 4, 8, 12)
              for pitch in (36, 40, 43, 48, 52, 55, 60, 64, 67, 72)]
    audio = soundfont.render_soundfont(EventSequence(chords))
    peak = np.abs(audio).max()
    assert abs(peak - PEAK_CEILING) < 1e-4 and np.sum(np.abs(audio) > 0.99 * peak) < 150


@needs_soundfont
def test_soft_music_stays_softer_than_loud_music():
    # pieces are not normalised one by one: velocity (and so the emotion's dynamics) sets the level
    def level(velocity: int) -> float:
        audio = soundfont.render_soundfont(EventSequence([NoteEvent(0, pos, 60, 3, velocity) for pos in (0, 4, 8, 12)]))
        return 10 * np.log10(np.mean(audio.astype(np.float64) ** 2))

    assert level(14) - level(4) > 6.0


def test_fallback_synth_warns_once_and_keeps_the_rate(monkeypatch, caplog):
    monkeypatch.setattr(soundfont, "soundfont_available", lambda *a: False)
    with caplog.at_level(logging.WARNING, logger="emogen.music.soundfont"):
        audio = soundfont.render_piano(EventSequence([NoteEvent(0, 0, 69, 3, 10)]))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage() and "additive synth" in warnings[0].getMessage()
    assert audio.ndim == 2 and audio.shape[1] == 1 and np.abs(audio).max() <= 1.0
    freqs, mag = _spectrum(audio, 0.0, 0.5)
    assert abs(freqs[np.argmax(mag)] - 440.0) < 5.0


def test_write_piano_formats(tmp_path):
    seq = EventSequence([NoteEvent(0, 0, 60, 5, 8)])
    path = soundfont.write_piano(seq, tmp_path / "c.flac")
    info = sf.info(str(path))
    assert info.samplerate == SAMPLE_RATE and info.format == "FLAC" and info.subtype == "PCM_16"
    with pytest.raises(InputError, match=r"\.wav or \.flac"):
        soundfont.write_piano(seq, tmp_path / "c.ogg")
    assert not (tmp_path / "c.ogg").exists()


def test_piano_roll_png(tmp_path):
    import cv2

    from emogen.music.roll import pitch_name, save_piano_roll

    assert (pitch_name(60), pitch_name(69), pitch_name(21)) == ("C4", "A4", "A0")
    events = [NoteEvent(bar, pos, 48 + (bar * 5 + pos) % 24, 3, vel) for bar in range(8) for pos, vel in ((0, 2), (8, 14))]
    path = save_piano_roll(EventSequence(events), tmp_path / "roll.png", title="calm:0.5")
    image = cv2.imread(str(path))
    assert image is not None and 600 <= image.shape[1] <= 2000 and 300 <= image.shape[0] <= 900
    # soft notes dark blue-violet, loud ones yellow-green (viridis, BGR)
    colours = {tuple(int(c) for c in px) for px in image.reshape(-1, 3)[::7]}
    assert any(r > 180 and g > 180 and b < 120 for b, g, r in colours)  # loud
    assert any(b > 90 and r < 90 and g < 90 for b, g, r in colours)  # soft


def test_extraction_script_rebuilds_the_shipped_soundfont(data_root, monkeypatch):
    source = data_root / "soundfonts" / "FluidR3Mono_GM.sf3"
    if not source.is_file():
        pytest.skip(f"{source} is missing")
    spec = importlib.util.spec_from_file_location("extract_piano_soundfont", REPO / "tools" / "extract_piano_soundfont.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    sf2, summary = module.extract(source, bank=0, program=0, attenuation_db=0.0)
    assert summary["preset"] == "Yamaha Grand Piano" and summary["samples"] == 20
    assert sf2 == PIANO_SOUNDFONT.read_bytes()


# --- CLI --------------------------------------------------------------------------------------------------


def _shipped_or_skip():
    from emogen.errors import CheckpointNotFoundError
    from emogen.pipeline_utils import checkpoint_path

    try:
        return checkpoint_path("music")
    except CheckpointNotFoundError:
        pytest.skip("checkpoints/music is not shipped in this checkout")


def _one_line_error(result) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@needs_soundfont
def test_cli_flac_and_plot_round_trip(tmp_path):
    _shipped_or_skip()
    out, roll = tmp_path / "sad.flac", tmp_path / "roll.png"
    result = runner.invoke(app, ["music", "-e", "sad:0.8", "--bars", "2", "--seed", "0", "-q", "-o", str(out), "--plot", str(roll)])
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(str(out))
    assert rate == SAMPLE_RATE and audio.shape[1] == 2
    longest = max(DURATION_CLASSES) * 0.125  # seconds of the longest note at 120 bpm
    assert 2 * 2.0 < len(audio) / rate <= 2 * 2.0 + longest + RELEASE_SECONDS  # 2 bars, a last note may ring past bar 2
    assert 0.02 < np.abs(audio).max() <= 1.0  # sad music is soft, but audible
    assert roll.stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roll.png", "sad.flac"]  # no temporary files left


@pytest.mark.parametrize(
    "args",
    [
        ["-o", "{tmp}/x.ogg"],
        ["-o", "{tmp}/x.mid", "--wav", "{tmp}/x.flac"],
        ["-o", "{tmp}/x.wav", "--plot", "{tmp}/roll.jpg"],
        ["-o", "{tmp}/x.wav", "--plot", "{tmp}/blocker/roll.png"],
    ],
)
def test_cli_bad_audio_or_plot_outputs_exit_2_without_files(tmp_path, args):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    result = runner.invoke(app, ["music", "--bars", "2", *[a.format(tmp=tmp_path) for a in args]])
    _one_line_error(result)
    assert [p.name for p in tmp_path.iterdir()] == ["blocker"]
