"""`emogen voice` / `emogen recognize voice`: bad input exits 2 with one line and no output; a RAVDESS
neutral clip converts with the shipped checkpoint, keeping the length (up to the rate) and the pitch range."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from emogen.cli.main import app
from emogen.errors import CheckpointNotFoundError
from emogen.pipeline_utils import checkpoint_path

runner = CliRunner()
NEUTRAL = "ravdess-speech/Actor_19/03-01-01-01-01-01-19.flac"


def shipped() -> None:
    try:
        checkpoint_path("voice")
    except CheckpointNotFoundError:
        pytest.skip("needs the shipped checkpoints/voice (train it with `emogen train voice`)")


def error_lines(result) -> list[str]:
    text = result.stderr if getattr(result, "stderr", None) else result.output
    return [line for line in text.splitlines() if line.strip()]


def make_bad(kind: str, path):
    if kind == "not-audio":
        path.write_text("this is not audio")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zero-length":
        sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    elif kind == "silence":
        sf.write(path, np.zeros(16000, dtype=np.float32), 16000)
    elif kind == "three-hours":  # 3 h at 1 kHz, 8-bit: 10.8 MB on disk
        with sf.SoundFile(path, "w", samplerate=1000, channels=1, subtype="PCM_U8", format="WAV") as handle:
            block = np.zeros(1000 * 600, dtype=np.float32)
            for _ in range(18):
                handle.write(block)
    return path


@pytest.mark.parametrize("kind", ["not-audio", "empty", "zero-length", "silence", "three-hours"])
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, kind):
    source = make_bad(kind, tmp_path / "in.wav")
    out = tmp_path / "out.wav"
    result = runner.invoke(app, ["voice", "--input", str(source), "--emotion", "angry:0.8", "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not out.exists()
    assert not list(tmp_path.glob(".out.wav*"))


def test_unknown_emotion_exits_2(data_root, tmp_path):
    out = tmp_path / "out.wav"
    result = runner.invoke(app, ["voice", "-i", str(data_root / NEUTRAL), "-e", "angy:0.8", "-o", str(out)])
    assert result.exit_code == 2
    assert "did you mean 'angry'" in result.output
    assert not out.exists()


def test_recognize_bad_input_exits_2(tmp_path):
    result = runner.invoke(app, ["recognize", "voice", str(make_bad("not-audio", tmp_path / "x.wav"))])
    assert result.exit_code == 2 and len(error_lines(result)) == 1


@pytest.mark.parametrize("emotion, low, high", [("neutral", 0.9, 1.1), ("angry:0.8", 1.0, 2.0)])
def test_voice_converts_a_ravdess_clip(data_root, tmp_path, emotion, low, high):
    shipped()
    source = data_root / NEUTRAL
    out = tmp_path / "out.wav"
    args = ["voice", "-i", str(source), "-e", emotion, "--seed", "0", "-q", "--rate", "1"]
    result = runner.invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    x, sr_in = sf.read(source)
    y, sr_out = sf.read(out)
    assert sr_out == sr_in
    assert abs(len(y) - len(x)) <= 0.01 * len(x)
    from emogen.voice.world import analyze

    f0_in, f0_out = analyze(x, sr_in).f0, analyze(y.astype(np.float64), sr_out).f0
    ratio = np.median(f0_out[f0_out > 0]) / np.median(f0_in[f0_in > 0])
    # the speaker's register is kept: neutral stays put, anger raises it as acted anger does (RAVDESS: ~1.5x)
    assert low < ratio < high
    again = tmp_path / "again.wav"
    assert runner.invoke(app, [*args, "-o", str(again)]).exit_code == 0
    np.testing.assert_array_equal(sf.read(again)[0], y)


def test_recognize_voice_prints_distribution_and_vad(data_root):
    shipped()
    result = runner.invoke(app, ["recognize", "voice", str(data_root / "ravdess-speech/Actor_20/03-01-05-02-01-01-20.flac")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("emotion: ")
    assert "valence" in result.output and "arousal" in result.output and "angry" in result.output
