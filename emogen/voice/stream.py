"""Convert a file of any length in bounded memory: read blocks, cut at pauses, convert, append to the output.

At most about two chunks of audio (``2 * chunk_seconds``) are held in memory at once, so a long recording
never has to fit in memory as a whole. Input is anything :func:`~emogen.voice.audio.probe_audio` accepts
(soundfile or PyAV); output is any of :data:`~emogen.voice.audio.OUTPUT_FORMATS` (wav, flac, ogg, mp3, m4a).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..utils import atomic_output
from .audio import SILENCE_DBFS, AudioInfo, AudioWriter, iter_audio_blocks, output_format, split_at_pauses

__all__ = ["check_not_silent", "convert_file", "file_peak", "iter_pause_chunks"]

logger = logging.getLogger(__name__)


def iter_pause_chunks(info: AudioInfo, chunk_seconds: float = 20.0) -> Iterator[np.ndarray]:
    """Yield consecutive float32 chunks (`(samples, channels)`) of at most ``chunk_seconds``, cut at pauses."""
    block = int(chunk_seconds * info.sample_rate)
    carry: np.ndarray | None = None
    for data in iter_audio_blocks(info, block):
        buffer = np.concatenate([carry, data]) if carry is not None and len(carry) else data
        spans = split_at_pauses(buffer.mean(axis=1), info.sample_rate, chunk_seconds)
        for start, end in spans[:-1]:
            yield buffer[start:end]
        carry = buffer[spans[-1][0] :]  # the last span may continue in the next block
    if carry is not None and len(carry):
        yield carry


def file_peak(info: AudioInfo, block_seconds: float = 60.0) -> float:
    """Peak absolute sample value of a file, read block by block (bounded memory)."""
    peak = 0.0
    for block in iter_audio_blocks(info, int(block_seconds * info.sample_rate)):
        if not np.all(np.isfinite(block)):
            msg = f"input {str(info.path)!r} contains NaN or infinite samples; fix the recording"
            raise InputError(msg)
        peak = max(peak, float(np.max(np.abs(block))) if block.size else 0.0)
    return peak


def check_not_silent(info: AudioInfo) -> float:
    """Read the file once and raise :class:`InputError` when it is all silence; returns its peak."""
    peak = file_peak(info)
    if peak <= 10 ** (SILENCE_DBFS / 20):
        msg = f"input {str(info.path)!r} is all silence (peak {20 * math.log10(max(peak, 1e-12)):.0f} dBFS); give a recording with speech in it"
        raise InputError(msg)
    return peak


def convert_file(
    info: AudioInfo,
    output: str | os.PathLike[str],
    convert: Callable[[np.ndarray, int], np.ndarray],
    chunk_seconds: float = 20.0,
    on_chunk: Callable[[float], None] | None = None,
    sample_rate: int | None = None,
) -> Path:
    """Convert ``info.path`` chunk by chunk with ``convert(chunk, sample_rate) -> mono audio`` into ``output``.

    The output is mono, written atomically (no partial file on failure), at ``sample_rate`` (default: the
    input's; mp3 beyond 48 kHz: 48 kHz), which ``convert`` must return; its format comes from the suffix
    (wav, flac, aiff, ogg, mp3, m4a). ``on_chunk(seconds)`` is called after each chunk with the input seconds
    it covered.
    """
    output = Path(output)
    output_format(output)  # an unknown suffix fails before any work
    out_rate = int(sample_rate or info.sample_rate)
    with atomic_output(output) as tmp, AudioWriter(tmp, out_rate, channels=1) as out:
        for chunk in iter_pause_chunks(info, chunk_seconds):
            if np.max(np.abs(chunk)) <= 10 ** (SILENCE_DBFS / 20):  # a silent stretch stays silent
                converted = np.zeros(round(len(chunk) * out_rate / info.sample_rate), dtype=np.float32)
            else:
                converted = convert(chunk, info.sample_rate)
            out.write(converted)
            if on_chunk is not None:
                on_chunk(len(chunk) / info.sample_rate)
    logger.info("wrote %s (%d samples)", output, out.frames_written)
    return output
