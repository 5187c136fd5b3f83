"""Cross-modal: ``emogen music --emotion auto --from voice.wav`` composes in the emotion heard in a voice."""

from __future__ import annotations

import pytest
import soundfile as sf
from typer.testing import CliRunner

from emogen.cli.main import app

runner = CliRunner()


def _clip(data_root, actor: int, emotion_code: int) -> str:
    return str(data_root / "ravdess-speech" / f"Actor_{actor:02d}" / f"03-01-{emotion_code:02d}-02-01-01-{actor:02d}.flac")


def test_auto_music_takes_the_emotion_heard_in_the_voice(data_root, tmp_path):
    from emogen.voice.recognize import recognize_emotion

    clip = _clip(data_root, 19, 5)  # strong angry, a test actor
    audio, rate = sf.read(clip)
    heard = recognize_emotion(audio, rate).spec.format()
    out = tmp_path / "auto.mid"
    result = runner.invoke(app, ["music", "--emotion", "auto", "--from", clip, "--bars", "4", "--seed", "0", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"heard in {clip.rsplit('/', 1)[-1]}: {heard}" in result.output
    # the same emotion typed by hand gives the same file: --from only resolves the spec
    typed = tmp_path / "typed.mid"
    result = runner.invoke(app, ["music", "--emotion", heard, "--bars", "4", "--seed", "0", "-o", str(typed), "-q"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == typed.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--emotion", "auto"], "add --from"),
        (["--emotion", "happy:0.5", "--from", "x.wav"], "only read with --emotion auto"),
    ],
)
def test_auto_and_from_must_come_together(tmp_path, args, message):
    out = tmp_path / "out.mid"
    result = runner.invoke(app, ["music", *args, "-o", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_from_a_file_that_is_not_audio_fails_cleanly(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    out = tmp_path / "out.mid"
    result = runner.invoke(app, ["music", "--emotion", "auto", "--from", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert not out.exists()
