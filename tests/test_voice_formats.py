"""Voice audio formats: wav, flac, ogg/opus, mp3, m4a/aac and the audio track of mp4/mov/webm read at their own
rate and channel count through PyAV (no system ffmpeg), whole or in blocks; wav, flac, ogg, mp3 and m4a written;
the CLI converts a 48 kHz stereo phone-style m4a. Test files are encoded with PyAV into tmp_path."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from emogen.errors import InputError
from emogen.testing import speechlike, tone
from emogen.voice.audio import AudioWriter, iter_audio_blocks, load_audio, output_format, probe_audio, save_audio

av = pytest.importorskip("av")

runner = CliRunner()
NEUTRAL = "ravdess-speech/Actor_19/03-01-01-01-01-01-19.flac"


def stereo(seconds: float, rate: int) -> np.ndarray:
    """Left: a 220 Hz tone; right: a quieter 330 Hz tone (so the channels differ)."""
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.4 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], axis=1).astype(np.float32)


def encode(path, audio: np.ndarray, rate: int, codec: str, fmt: str | None = None, video: str | None = None) -> None:
    """Encode ``(samples, channels)`` audio with PyAV, optionally beside a short black video track."""
    layout = "mono" if audio.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        if video is not None:
            picture = container.add_stream(video, rate=25)
            picture.width, picture.height, picture.pix_fmt = 64, 64, "yuv420p"
            for _ in range(int(len(audio) / rate * 25)):
                container.mux(picture.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")))
            container.mux(picture.encode(None))
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio.reshape(1, -1)), format="flt", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def dominant_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.argmax(spectrum) * rate / len(signal))


INPUTS = [
    ("speech.m4a", "aac", None, None, 48000),
    ("speech.aac", "aac", "adts", None, 44100),
    ("speech.mp3", "libmp3lame", None, None, 44100),
    ("speech.ogg", "libopus", "ogg", None, 48000),
    ("speech.opus", "libopus", "ogg", None, 48000),
    ("clip.mp4", "aac", None, "mpeg4", 48000),
    ("clip.mov", "aac", None, "mpeg4", 44100),
    ("clip.webm", "libopus", None, "libvpx", 48000),
]


@pytest.mark.parametrize(("name", "codec", "fmt", "video", "rate"), INPUTS)
def test_compressed_and_video_inputs_read_at_their_own_rate_in_stereo(tmp_path, name, codec, fmt, video, rate):
    if codec not in av.codecs_available or (video and video not in av.codecs_available):
        pytest.skip(f"this PyAV build lacks {codec} or {video}")
    path = tmp_path / name
    encode(path, stereo(1.5, rate), rate, codec, fmt, video)
    info = probe_audio(path)
    assert (info.sample_rate, info.channels) == (rate, 2) and abs(info.seconds - 1.5) < 0.1
    audio, sample_rate = load_audio(path)
    assert sample_rate == rate and audio.shape[1] == 2 and audio.dtype == np.float32
    assert abs(len(audio) / rate - 1.5) < 0.1
    middle = slice(rate // 4, rate // 4 + rate)  # one second away from the codec's edges
    assert abs(dominant_hz(audio[middle, 0], rate) - 220) < 3 and abs(dominant_hz(audio[middle, 1], rate) - 330) < 3
    blocks = list(iter_audio_blocks(info, rate // 3))
    assert all(len(b) == rate // 3 for b in blocks[:-1]) and 0 < len(blocks[-1]) <= rate // 3
    np.testing.assert_array_equal(np.concatenate(blocks), audio)


def test_a_file_soundfile_cannot_read_falls_back_to_pyav(tmp_path):
    path = tmp_path / "speech.wav"  # an m4a under a wrong name
    encode(path, stereo(1.0, 48000), 48000, "aac", "ipod")
    info = probe_audio(path)
    assert info.backend == "pyav" and info.sample_rate == 48000 and info.channels == 2


def test_video_without_audio_and_corrupt_files_are_input_errors(tmp_path):
    silent_video = tmp_path / "silent.mp4"
    with av.open(str(silent_video), "w") as container:
        picture = container.add_stream("mpeg4", rate=25)
        picture.width, picture.height, picture.pix_fmt = 64, 64, "yuv420p"
        for _ in range(5):
            container.mux(picture.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")))
        container.mux(picture.encode(None))
    with pytest.raises(InputError, match="no audio track"):
        load_audio(silent_video)
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(InputError, match="broken.mp3"):
        load_audio(broken)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(InputError, match="not an audio file"):
        probe_audio(text)


@pytest.mark.parametrize(("suffix", "exact"), [(".wav", True), (".flac", True), (".ogg", False), (".mp3", False), (".m4a", False)])
@pytest.mark.parametrize("channels", [1, 2])
def test_writer_formats_round_trip(tmp_path, suffix, exact, channels):
    rate = 48000
    audio = stereo(1.0, rate)[:, :channels]
    path = tmp_path / f"out{suffix}"
    with AudioWriter(path, rate, channels=channels) as out:
        for start in range(0, len(audio), 10000):  # block by block, as convert_file writes
            out.write(audio[start : start + 10000] if channels > 1 else audio[start : start + 10000, 0])
    assert out.frames_written == len(audio)
    back, sample_rate = load_audio(path)
    assert sample_rate == rate and back.shape[1] == channels
    assert abs(len(back) - len(audio)) < 0.03 * rate
    if exact:
        np.testing.assert_allclose(back, audio, atol=1e-4)
    assert abs(dominant_hz(back[rate // 4 : rate // 4 + rate // 2, 0], rate) - 220) < 3


def test_mp3_beyond_48k_is_resampled_and_unknown_suffixes_are_refused(tmp_path):
    save_audio(tmp_path / "hi.mp3", tone(1.0, f0=440, sr=96000), 96000)
    info = probe_audio(tmp_path / "hi.mp3")
    assert info.sample_rate == 48000 and abs(info.seconds - 1.0) < 0.1
    for bad in ("out.xyz", "out.mp4"):
        with pytest.raises(InputError, match=r"\.wav, \.flac"):
            output_format(tmp_path / bad)
    assert output_format(tmp_path / "noext") == "wav"


def shipped() -> None:
    from emogen.errors import CheckpointNotFoundError
    from emogen.pipeline_utils import checkpoint_path

    try:
        checkpoint_path("voice")
    except CheckpointNotFoundError:
        pytest.skip("needs the shipped checkpoints/voice (train it with `emogen train voice`)")


def phone_recording(data_root, path) -> np.ndarray:
    """A RAVDESS clip as a 48 kHz stereo AAC m4a, the way a phone records it."""
    from emogen.voice.audio import resample

    speech, rate = sf.read(data_root / NEUTRAL, dtype="float32")
    speech = resample(speech, rate, 48000)
    encode(path, np.stack([speech, 0.9 * speech], axis=1), 48000, "aac", "ipod")
    return speech


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".m4a"])
def test_cli_converts_a_48k_stereo_m4a(data_root, tmp_path, suffix):
    from emogen.cli.main import app

    shipped()
    source = tmp_path / "speech.m4a"
    speech = phone_recording(data_root, source)
    out = tmp_path / f"out{suffix}"
    result = runner.invoke(app, ["voice", "--input", str(source), "--emotion", "happy:0.7", "--rate", "1", "--seed", "0", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "mixed down" in result.output and "48000 Hz" in result.output
    converted, rate = load_audio(out)
    assert rate == 48000 and converted.shape[1] == 1
    assert abs(len(converted) - len(speech)) < 0.05 * 48000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_refuses_unknown_output_format_and_overwriting_the_input(tmp_path):
    from emogen.cli.main import app

    source = tmp_path / "in.wav"
    sf.write(source, speechlike(1.0), 16000)
    result = runner.invoke(app, ["voice", "-i", str(source), "-e", "angry:0.8", "-o", str(tmp_path / "out.xyz")])
    assert result.exit_code == 2 and "cannot write audio format" in result.output
    result = runner.invoke(app, ["voice", "-i", str(source), "-e", "angry:0.8", "-o", str(source)])
    assert result.exit_code == 2 and "is the input" in result.output
    result = runner.invoke(app, ["voice", "-i", str(source), "-e", "angry:0.8", "--format", "flac", "-o", str(tmp_path / "out.wav")])
    assert result.exit_code == 2 and "--format flac" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_recognize_voice_reads_an_m4a(data_root, tmp_path):
    from emogen.cli.main import app

    shipped()
    source = tmp_path / "speech.m4a"
    phone_recording(data_root, source)
    result = runner.invoke(app, ["recognize", "voice", str(source), "--json"])
    assert result.exit_code == 0, result.output
    assert '"vad"' in result.output
