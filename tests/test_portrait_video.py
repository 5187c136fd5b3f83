"""mp4 output (H.264 + AAC through PyAV) and compressed audio input through the voice audio loader."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

av = pytest.importorskip("av")

from emogen.portrait.video import VideoWriter, video_codec  # noqa: E402
from emogen.voice.audio import decode_audio, load_audio, probe_audio  # noqa: E402


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _frames(n: int, size: int):
    for i in range(n):
        frame = np.full((size, size, 3), 40, np.uint8)
        frame[8:24, (3 * i) % (size - 16) :][:, :16] = 250
        yield frame


def test_round_trip_frames_and_audio(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=25, size=64, audio=_tone(2.0, 16000), sample_rate=16000) as writer:
        for frame in _frames(50, 64):
            writer.write(frame)
    assert writer.frames_written == 50
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary file left
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.width, video.height, video.pix_fmt) == (64, 64, "yuv420p")
        assert video.codec_context.name in ("h264", "mpeg4")
        assert audio.codec_context.name == "aac"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video)]
    assert len(frames) == 50 and frames[0].shape == (64, 64, 3)
    assert abs(float(frames[0][16, 8, 0]) - 250) < 30 and abs(float(frames[0][50, 50, 0]) - 40) < 20
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: playable while downloading
    wave, rate = load_audio(path)
    assert rate == 16000 and abs(len(wave) / rate - 2.0) < 0.1


def test_h264_encoder_is_available():
    assert video_codec() in ("libx264", "libopenh264", "h264")


def test_odd_size_and_unusual_rate(tmp_path):
    path = tmp_path / "odd.mp4"
    stereo = np.stack([_tone(1.0, 11000), _tone(1.0, 11000)], axis=1)
    with VideoWriter(path, fps=25, size=(33, 21), audio=stereo, sample_rate=11000) as writer:
        for _ in range(25):
            writer.write(np.zeros((21, 33, 3), np.uint8))
    with av.open(str(path)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (34, 22)
        assert container.streams.audio[0].rate == 48000  # AAC has no 11 kHz: resampled
    wave, rate = load_audio(path)
    assert wave.shape[1] == 2 and abs(len(wave) / rate - 1.0) < 0.1


def test_failing_writer_leaves_no_file(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(path, fps=25, size=32) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="frame must be"), VideoWriter(path, fps=25, size=32) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def _write_audio_file(path, codec: str, fmt: str, rate: int) -> None:
    wave = _tone(1.5, rate)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@pytest.mark.parametrize(("suffix", "codec", "fmt"), [(".m4a", "aac", "ipod"), (".mp3", "libmp3lame", "mp3")])
def test_compressed_audio_decodes_through_the_loader(tmp_path, suffix, codec, fmt):
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    path = tmp_path / f"speech{suffix}"
    _write_audio_file(path, codec, fmt, 22050)
    info = probe_audio(path)
    assert info.sample_rate == 22050 and abs(info.seconds - 1.5) < 0.15
    wave, rate = load_audio(path)
    assert rate == 22050 and wave.ndim == 2 and wave.dtype == np.float32
    assert abs(len(wave) / rate - 1.5) < 0.15 and 0.2 < np.abs(wave).max() < 0.4
    assert decode_audio(path)[0].shape == wave.shape


def test_corrupt_compressed_audio_is_an_input_error(tmp_path):
    from emogen.errors import InputError

    path = tmp_path / "broken.m4a"
    path.write_bytes(b"not really an m4a file" * 10)
    with pytest.raises(InputError, match="broken.m4a"):
        load_audio(path)
