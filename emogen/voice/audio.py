"""Audio input and output for the voice pipeline: reading anything soundfile reads (wav, flac, ogg/opus, ...)
and compressed or video files (mp3, m4a/aac, the audio track of mp4/mov/webm/mkv) through PyAV, whole or in
blocks, at the file's own rate and channel count; writing wav, flac, ogg, mp3 or m4a, whole or block by
block (:class:`AudioWriter`); validation, mono downmix, resampling, silence trimming and splitting long
recordings at pauses. PyAV is a pip wheel that bundles FFmpeg's libraries: no system ffmpeg is needed.

Every check raises :class:`~emogen.errors.InputError` with a message that names the file, the problem and
the fix, so the CLI can print it on one line and exit with code 2.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import InputError

__all__ = [
    "AUDIO_SUFFIXES",
    "MODEL_SAMPLE_RATE",
    "OUTPUT_FORMATS",
    "AudioInfo",
    "AudioWriter",
    "check_audio",
    "decode_audio",
    "iter_audio_blocks",
    "load_audio",
    "output_format",
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
#: Suffixes decoded with PyAV (FFmpeg) instead of soundfile, at the file's own rate. Any other file that
#: soundfile cannot read is tried with PyAV too.
PYAV_SUFFIXES = frozenset({".mp3", ".m4a", ".aac", ".mp4", ".m4v", ".mov", ".webm", ".mkv", ".mka", ".3gp", ".wma"})
#: Suffixes a folder given as batch input is scanned for.
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".au", ".caf", ".w64"}) | PYAV_SUFFIXES
#: Output formats (suffix without the dot) and how each is written: soundfile for PCM and Ogg Vorbis,
#: PyAV for the lossy codecs (encoder, container).
OUTPUT_FORMATS = {
    "wav": ("soundfile", "WAV", "PCM_16"),
    "flac": ("soundfile", "FLAC", "PCM_16"),
    "aiff": ("soundfile", "AIFF", "PCM_16"),
    "ogg": ("soundfile", "OGG", "VORBIS"),
    "mp3": ("pyav", "libmp3lame", "mp3"),
    "m4a": ("pyav", "aac", "ipod"),
}
#: Bit rate of mp3 and m4a output, per channel (bits per second).
LOSSY_BIT_RATE = 96_000


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: sample rate, channels, frames and duration in seconds."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    #: which library reads the file: ``"soundfile"`` or ``"pyav"`` (then ``frames`` is the header's estimate)
    backend: str = "soundfile"

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
            try:  # not a format libsndfile knows: perhaps one FFmpeg does (a webm named .opus, ...)
                result = _probe_pyav(path)
            except InputError:
                msg = f"input {str(path)!r} is not an audio file soundfile or PyAV can read ({reason}); convert it to wav or flac"
                raise InputError(msg) from None
        else:
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
    """Read a recording (any rate, any channel count) as float32 ``(samples, channels)`` and its rate.

    wav, flac, ogg (Vorbis, Opus) and what else soundfile reads are read with soundfile; mp3, m4a, aac and
    the audio track of mp4, mov, webm and mkv files are decoded with PyAV, at their own rate.
    Raises :class:`InputError` for a missing, non-audio, empty, all-silent or too long file.
    """
    info = probe_audio(path, max_seconds=max_seconds)
    if info.backend == "pyav":
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
    if seconds < 0 or rate <= 0 or channels <= 0:
        audio, rate = decode_audio(path)
        return AudioInfo(path=path, sample_rate=rate, channels=audio.shape[1], frames=audio.shape[0], backend="pyav")
    return AudioInfo(path=path, sample_rate=rate, channels=channels, frames=int(round(seconds * rate)), backend="pyav")


def _decode_error(path: Path, error: BaseException) -> InputError:
    reason = " ".join(str(error).split())
    return InputError(f"input {str(path)!r} could not be decoded ({reason}); convert it to wav or flac")


def _iter_pyav(path: Path) -> Iterator[np.ndarray]:
    """Decode the first audio track with PyAV, yielding float32 ``(samples, channels)`` pieces at the stream's rate."""
    container, stream = _open_audio_container(path)
    try:
        yield from _decode_pieces(container, stream, path)
    finally:
        container.close()


def _decode_pieces(container, stream, path: Path) -> Iterator[np.ndarray]:
    """The decoding loop of :func:`_iter_pyav`; every piece has the first frame's channel layout and the
    stream's rate, even if the file changes them midway (FFmpeg's resampler converts)."""
    import av  # FFmpeg bindings: only for compressed and video files

    try:
        resampler, channels = None, 0
        for frame in container.decode(stream):
            if resampler is None:  # packed float32 at the stream's own rate and the first frame's layout
                channels = len(frame.layout.channels)
                resampler = av.AudioResampler(format="flt", layout=frame.layout.name, rate=int(stream.rate))
            for piece in resampler.resample(frame):
                yield piece.to_ndarray().reshape(-1, channels)
        if resampler is not None:
            for piece in resampler.resample(None):
                yield piece.to_ndarray().reshape(-1, channels)
    except InputError:
        raise
    except Exception as error:  # av.error.* on corrupt data
        raise _decode_error(path, error) from None


def decode_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Decode the first audio track of any file PyAV (FFmpeg) reads, at its own rate.

    Returns:
        `tuple`: float32 ``(samples, channels)`` and the sample rate. Raises :class:`InputError` for a file
        that is not audio, has no audio track or cannot be decoded.
    """
    path = Path(path)
    container, stream = _open_audio_container(path)
    try:
        rate = int(stream.rate or 0)
        chunks = list(_decode_pieces(container, stream, path))
    finally:
        container.close()
    if not chunks or rate <= 0:
        msg = f"input {str(path)!r} has no audio samples (0 length); give a recording with speech in it"
        raise InputError(msg)
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


def iter_audio_blocks(info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """Read a probed file as float32 ``(block_frames, channels)`` blocks (the last one shorter), in bounded memory.

    Example:
        >>> info = probe_audio("talk.m4a")  # doctest: +SKIP
        >>> peak = max(float(abs(block).max()) for block in iter_audio_blocks(info, 48000))  # doctest: +SKIP
    """
    block_frames = max(1, int(block_frames))
    if info.backend != "pyav":
        try:
            yield from sf.blocks(str(info.path), blocksize=block_frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise _decode_error(info.path, error) from None
        return
    pending: list[np.ndarray] = []
    size = 0
    for piece in _iter_pyav(info.path):
        pending.append(piece)
        size += len(piece)
        while size >= block_frames:
            buffer = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield buffer[:block_frames]
            rest = buffer[block_frames:]
            pending, size = ([rest] if len(rest) else []), len(rest)
    if size:
        yield np.concatenate(pending)


def output_format(path: str | os.PathLike[str]) -> str:
    """The output format of ``path`` from its suffix (no suffix: wav); :class:`InputError` for one emogen cannot write."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".") or "wav"
    if fmt == "aif":
        fmt = "aiff"
    if fmt not in OUTPUT_FORMATS:
        names = ", ".join(f".{name}" for name in OUTPUT_FORMATS)
        msg = f"output {str(path)!r}: cannot write audio format {path.suffix!r}; use one of {names}"
        raise InputError(msg)
    return fmt


class AudioWriter:
    """Write float audio block by block; the format comes from the suffix of ``path`` (see :data:`OUTPUT_FORMATS`).

    wav, flac and aiff are 16-bit PCM and ogg is Vorbis (soundfile); mp3 (LAME) and m4a (AAC) are encoded
    with PyAV at 96 kbit/s per channel, resampled by FFmpeg when the codec lacks the rate (mp3 stops at
    48 kHz). Samples are clipped to [-1, 1]. Not atomic by itself: write to the path
    :func:`~emogen.utils.atomic_output` yields.

    Args:
        path (`str` or `os.PathLike`): the file to write.
        sample_rate (`int`): rate of the blocks given to :meth:`write`.
        channels (`int`, *optional*, defaults to 1): channels of the blocks (mp3 and m4a: 1 or 2).

    Example:
        >>> with AudioWriter("out.m4a", 48000) as out:  # doctest: +SKIP
        ...     out.write(np.zeros(48000, dtype=np.float32))
    """

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int = 1) -> None:
        self.path = Path(path)
        self.format = output_format(self.path)
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self.frames_written = 0
        backend, codec, kind = OUTPUT_FORMATS[self.format]
        self._sound = self._container = self._stream = None
        if backend == "soundfile":
            self._sound = sf.SoundFile(str(self.path), "w", samplerate=self.sample_rate, channels=self.channels, format=codec, subtype=kind)
            return
        import av

        if self.channels not in (1, 2):
            msg = f"output {str(self.path)!r}: {self.format} output takes 1 or 2 channels, got {self.channels}; write wav or flac"
            raise InputError(msg)
        self._layout = "mono" if self.channels == 1 else "stereo"
        rates = av.codec.Codec(codec, "w").audio_rates
        rate = self.sample_rate if not rates or self.sample_rate in rates else min(rates, key=lambda r: abs(r - self.sample_rate))
        self._container = av.open(str(self.path), "w", format=kind)
        try:
            self._stream = self._container.add_stream(codec, rate=rate, layout=self._layout)
            self._stream.bit_rate = LOSSY_BIT_RATE * self.channels
        except BaseException:
            self._container.close()
            raise

    def write(self, block: np.ndarray) -> None:
        """Append ``block``: ``(samples,)`` when mono, else ``(samples, channels)``."""
        block = np.clip(np.asarray(block, dtype=np.float32), -1.0, 1.0)
        if len(block) == 0:
            return
        if self._sound is not None:
            self._sound.write(block)
        else:
            import av

            packed = np.ascontiguousarray(block.reshape(len(block), self.channels).reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(packed, format="flt", layout=self._layout)
            frame.sample_rate, frame.time_base, frame.pts = self.sample_rate, Fraction(1, self.sample_rate), self.frames_written
            self._container.mux(self._stream.encode(frame))
        self.frames_written += len(block)

    def close(self) -> None:
        """Flush the encoder and close the file."""
        if self._sound is not None:
            self._sound.close()
        elif self._container is not None:
            try:
                self._container.mux(self._stream.encode(None))
            finally:
                self._container.close()
                self._container = None

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
    """Write mono ``(samples,)`` or ``(samples, channels)`` audio, clipping to [-1, 1].

    The format comes from the suffix: wav, flac, aiff (16-bit PCM), ogg (Vorbis), mp3 or m4a (AAC); see
    :class:`AudioWriter`. Not atomic by itself.
    """
    audio = np.asarray(audio)
    with AudioWriter(path, sample_rate, channels=1 if audio.ndim == 1 else audio.shape[1]) as out:
        out.write(audio)


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
