"""Audio input and output for the voice pipeline: reading anything soundfile reads (and compressed or video
files, mp3/m4a/aac/mp4/mov/webm, through PyAV), validation, mono downmix, resampling, silence trimming and
splitting long recordings at pauses.

Every check raises :class:`~emogen.errors.InputError` with a message that names the file, the problem and
the fix, so the CLI can print it on one line and exit with code 2.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import InputError

__all__ = [
    "MODEL_SAMPLE_RATE",
    "AudioInfo",
    "check_audio",
    "decode_audio",
    "load_audio",
    "probe_audio",
    "resample",
    "save_audio",
    "split_at_pauses",
    "to_mono",
    "trim_silence",
]

logger = logging.getLogger(__name__)

#: Sample rate the voice models analyse at; inputs at other rates are resampled and converted back.
MODEL_SAMPLE_RATE = 16000
#: Default longest input (seconds) accepted without an explicit ``max_seconds``.
DEFAULT_MAX_SECONDS = 600.0
#: Peak level (dBFS) under which a recording counts as all silence.
SILENCE_DBFS = -60.0
#: Suffixes decoded with PyAV (FFmpeg) instead of soundfile, at the file's own rate.
PYAV_SUFFIXES = frozenset({".mp3", ".m4a", ".aac", ".mp4", ".mov", ".webm"})


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: sample rate, channels, frames and duration in seconds."""

    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / float(self.sample_rate) if self.sample_rate else 0.0


def probe_audio(path: str | os.PathLike[str], max_seconds: float | None = DEFAULT_MAX_SECONDS) -> AudioInfo:
    """Read a file's header and check it is audio, not empty and not longer than ``max_seconds``.

    ``max_seconds=None`` accepts any length.
    """
    path = Path(path)
    if not path.exists():
        msg = f"input {str(path)!r} does not exist; give the path of an audio file (wav, flac, ogg, ...)"
        raise InputError(msg)
    if path.is_dir():
        msg = f"input {str(path)!r} is a folder; give the path of an audio file"
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = f"input {str(path)!r} is an empty file (0 bytes); give a recording with speech in it"
        raise InputError(msg)
    if path.suffix.lower() in PYAV_SUFFIXES:
        result = _probe_pyav(path)
    else:
        try:
            info = sf.info(str(path))
        except Exception as error:  # soundfile raises LibsndfileError / RuntimeError / TypeError
            reason = " ".join(str(error).split())
            msg = f"input {str(path)!r} is not an audio file soundfile can read ({reason}); convert it to wav or flac"
            raise InputError(msg) from None
        result = AudioInfo(path=path, sample_rate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames))
    if result.frames <= 0 or result.sample_rate <= 0:
        msg = f"input {str(path)!r} has no audio samples (0 length); give a recording with speech in it"
        raise InputError(msg)
    if max_seconds is not None and result.seconds > max_seconds:
        msg = (
            f"input {str(path)!r} is {result.seconds:.0f} s long, more than --max-seconds {max_seconds:g}; "
            f"pass --max-seconds {math.ceil(result.seconds)} to process it (in chunks) or cut it shorter"
        )
        raise InputError(msg)
    return result


def check_audio(audio: np.ndarray, sample_rate: int, name: str = "audio") -> np.ndarray:
    """Validate an in-memory signal (1-D mono or 2-D ``(samples, channels)``) and return it as float32.

    Raises :class:`InputError` for a bad rate, no samples, non-finite values or all silence.
    """
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1000:
        msg = f"{name}: sample rate {sample_rate!r} is not a valid rate; give the rate in Hz, e.g. 16000"
        raise InputError(msg)
    array = np.asarray(audio)
    if array.ndim not in (1, 2) or array.size == 0 or array.shape[0] == 0:
        msg = f"{name} has no samples (shape {tuple(array.shape)}); give a recording with speech in it"
        raise InputError(msg)
    if not np.issubdtype(array.dtype, np.number):
        msg = f"{name} must hold numbers, got dtype {array.dtype}"
        raise InputError(msg)
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        msg = f"{name} contains NaN or infinite samples; fix the recording"
        raise InputError(msg)
    peak = float(np.max(np.abs(array)))
    if peak <= 10 ** (SILENCE_DBFS / 20):
        msg = f"{name} is all silence (peak {20 * math.log10(max(peak, 1e-12)):.0f} dBFS); give a recording with speech in it"
        raise InputError(msg)
    return array


def load_audio(
    path: str | os.PathLike[str], max_seconds: float | None = DEFAULT_MAX_SECONDS
) -> tuple[np.ndarray, int]:
    """Read any file soundfile reads (any rate, any channel count) as float32 ``(samples, channels)``.

    mp3, m4a, aac and the audio track of mp4, mov and webm files are decoded with PyAV at their own rate.
    Raises :class:`InputError` for a missing, non-audio, empty, all-silent or too long file.
    """
    info = probe_audio(path, max_seconds=max_seconds)
    if info.path.suffix.lower() in PYAV_SUFFIXES:
        audio, sample_rate = decode_audio(info.path)
        return check_audio(audio, sample_rate, name=f"input {str(info.path)!r}"), sample_rate
    try:
        audio, sample_rate = sf.read(str(info.path), dtype="float32", always_2d=True)
    except Exception as error:
        reason = " ".join(str(error).split())
        msg = f"input {str(info.path)!r} could not be decoded ({reason}); convert it to wav or flac"
        raise InputError(msg) from None
    return check_audio(audio, int(sample_rate), name=f"input {str(info.path)!r}"), int(sample_rate)


def _open_audio_container(path: Path):
    """Open ``path`` with PyAV and return ``(container, first audio stream)``; InputError when impossible."""
    import av  # FFmpeg bindings: only for compressed and video files

    try:
        container = av.open(str(path))
    except Exception as error:  # av.error.InvalidDataError and friends
        reason = " ".join(str(error).split())
        msg = f"input {str(path)!r} is not an audio or video file PyAV can read ({reason}); convert it to wav or flac"
        raise InputError(msg) from None
    if not container.streams.audio:
        container.close()
        msg = f"input {str(path)!r} has no audio track; give a file with speech in it"
        raise InputError(msg)
    return container, container.streams.audio[0]


def _probe_pyav(path: Path) -> AudioInfo:
    """:class:`AudioInfo` of a file PyAV reads, from its header (decoding it when the header has no duration)."""
    container, stream = _open_audio_container(path)
    try:
        rate, channels = int(stream.rate or 0), int(stream.channels or 0)
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / 1_000_000  # av.time_base
        else:
            seconds = -1.0
    finally:
        container.close()
    if seconds < 0:
        audio, rate = decode_audio(path)
        return AudioInfo(path=path, sample_rate=rate, channels=audio.shape[1], frames=audio.shape[0])
    return AudioInfo(path=path, sample_rate=rate, channels=channels, frames=int(round(seconds * rate)))


def decode_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Decode the first audio track of any file PyAV (FFmpeg) reads, at its own rate.

    Returns:
        `tuple`: float32 ``(samples, channels)`` and the sample rate. Raises :class:`InputError` for a file
        that is not audio, has no audio track or cannot be decoded.
    """
    import av

    path = Path(path)
    container, stream = _open_audio_container(path)
    try:
        rate = int(stream.rate)
        resampler = None
        chunks: list[np.ndarray] = []
        for frame in container.decode(stream):
            if resampler is None:  # packed float32 at the stream's own rate and layout
                resampler = av.AudioResampler(format="flt", layout=frame.layout.name, rate=rate)
            channels = len(frame.layout.channels)
            chunks.extend(f.to_ndarray().reshape(-1, channels) for f in resampler.resample(frame))
        if resampler is not None:
            chunks.extend(f.to_ndarray().reshape(-1, channels) for f in resampler.resample(None))
    except InputError:
        raise
    except Exception as error:  # av.error.* on corrupt data
        reason = " ".join(str(error).split())
        msg = f"input {str(path)!r} could not be decoded ({reason}); convert it to wav or flac"
        raise InputError(msg) from None
    finally:
        container.close()
    if not chunks:
        msg = f"input {str(path)!r} has no audio samples (0 length); give a recording with speech in it"
        raise InputError(msg)
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of ``(samples, channels)`` audio; 1-D input is returned unchanged."""
    return audio if audio.ndim == 1 else audio.mean(axis=1)


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling along the first axis (exact rational ratio)."""
    if source_rate == target_rate:
        return audio
    from scipy.signal import resample_poly  # 1-1.5 s to import: only when the rates differ

    g = math.gcd(int(source_rate), int(target_rate))
    return resample_poly(audio, target_rate // g, source_rate // g, axis=0).astype(np.float32)


def save_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> None:
    """Write audio (format from the suffix, 16-bit PCM for wav), clipping to [-1, 1]."""
    path = Path(path)
    fmt = (path.suffix.lstrip(".") or "wav").upper()
    subtype = "PCM_16" if fmt in ("WAV", "FLAC", "AIFF") else None
    sf.write(str(path), np.clip(audio, -1.0, 1.0), int(sample_rate), format=fmt, subtype=subtype)


def frame_energy_db(audio: np.ndarray, sample_rate: int, hop_seconds: float = 0.01) -> np.ndarray:
    """Short-time RMS energy in dB of a mono signal, one value per ``hop_seconds``."""
    hop = max(1, int(round(hop_seconds * sample_rate)))
    n = len(audio) // hop
    if n == 0:
        return np.array([20 * math.log10(float(np.sqrt(np.mean(audio**2))) + 1e-9)])
    frames = audio[: n * hop].reshape(n, hop)
    return 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)


def trim_silence(audio: np.ndarray, sample_rate: int, top_db: float = 35.0, pad_seconds: float = 0.05) -> tuple[int, int]:
    """Sample range ``(start, end)`` of the speech in a mono signal: frames within ``top_db`` of the loudest."""
    energy = frame_energy_db(audio, sample_rate)
    active = np.flatnonzero(energy > energy.max() - top_db)
    hop = int(round(0.01 * sample_rate))
    pad = int(pad_seconds * sample_rate)
    if active.size == 0:
        return 0, len(audio)
    start = max(0, active[0] * hop - pad)
    end = min(len(audio), (active[-1] + 1) * hop + pad)
    return int(start), int(end)


def split_at_pauses(audio: np.ndarray, sample_rate: int, max_seconds: float = 20.0) -> list[tuple[int, int]]:
    """Cut a mono signal into consecutive ``(start, end)`` spans of at most ``max_seconds``, at pauses.

    Each cut goes to the quietest 100 ms window in the second half of the span, so words are not split.
    """
    total = len(audio)
    limit = int(max_seconds * sample_rate)
    if total <= limit:
        return [(0, total)]
    window = max(1, int(0.1 * sample_rate))
    spans, start = [], 0
    while total - start > limit:
        lo, hi = start + limit // 2, start + limit
        segment = audio[lo:hi]
        n = len(segment) // window
        power = np.mean(segment[: n * window].reshape(n, window) ** 2, axis=1)
        cut = lo + int(np.argmin(power)) * window + window // 2
        spans.append((start, cut))
        start = cut
    spans.append((start, total))
    return spans
