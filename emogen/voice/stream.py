"""Convert a file of any length in bounded memory: read blocks, cut at pauses, convert, append to the output.

At most about two chunks of audio (``2 * chunk_seconds``) are held in memory at once, so a long recording
never has to fit in memory as a whole.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import InputError
from ..utils import atomic_output
from .audio import SILENCE_DBFS, AudioInfo, split_at_pauses

__all__ = ["convert_file", "file_peak", "iter_pause_chunks"]

logger = logging.getLogger(__name__)


def iter_pause_chunks(info: AudioInfo, chunk_seconds: float = 20.0) -> Iterator[np.ndarray]:
    """Yield consecutive float32 chunks (`(samples, channels)`) of at most ``chunk_seconds``, cut at pauses."""
    block = int(chunk_seconds * info.sample_rate)
    carry = np.zeros((0, info.channels), dtype=np.float32)
    with sf.SoundFile(str(info.path)) as handle:
        while True:
            data = handle.read(block, dtype="float32", always_2d=True)
            last = len(data) < block
            buffer = np.concatenate([carry, data]) if len(carry) else data
            if len(buffer) == 0:
                return
            spans = split_at_pauses(buffer.mean(axis=1), info.sample_rate, chunk_seconds)
            keep = spans if last else spans[:-1]
            for start, end in keep:
                yield buffer[start:end]
            carry = buffer[spans[-1][0] :] if not last else carry[:0]
            if last:
                return


def file_peak(info: AudioInfo, block_seconds: float = 60.0) -> float:
    """Peak absolute sample value of a file, read block by block (bounded memory)."""
    peak = 0.0
    for block in sf.blocks(str(info.path), blocksize=int(block_seconds * info.sample_rate), dtype="float32", always_2d=True):
        if not np.all(np.isfinite(block)):
            msg = f"input {str(info.path)!r} contains NaN or infinite samples; fix the recording"
            raise InputError(msg)
        peak = max(peak, float(np.max(np.abs(block))) if block.size else 0.0)
    return peak


def convert_file(
    info: AudioInfo,
    output: str | os.PathLike[str],
    convert: Callable[[np.ndarray, int], np.ndarray],
    chunk_seconds: float = 20.0,
    on_chunk: Callable[[float], None] | None = None,
) -> Path:
    """Convert ``info.path`` chunk by chunk with ``convert(chunk, sample_rate) -> mono audio`` into ``output``.

    The output is written atomically (no partial file on failure), at the input's sample rate.
    ``on_chunk(seconds)`` is called after each chunk with the input seconds it covered.
    """
    output = Path(output)
    fmt = (output.suffix.lstrip(".") or "wav").upper()
    if fmt not in sf.available_formats():
        msg = f"output {str(output)!r}: unknown audio format {output.suffix!r}; use .wav, .flac or .ogg"
        raise InputError(msg)
    subtype = "PCM_16" if fmt in ("WAV", "FLAC", "AIFF") else None
    written = 0
    with atomic_output(output) as tmp:
        with sf.SoundFile(str(tmp), "w", samplerate=info.sample_rate, channels=1, format=fmt, subtype=subtype) as out:
            for chunk in iter_pause_chunks(info, chunk_seconds):
                if np.max(np.abs(chunk)) <= 10 ** (SILENCE_DBFS / 20):  # a silent stretch stays silent
                    converted = np.zeros(len(chunk), dtype=np.float32)
                else:
                    converted = convert(chunk, info.sample_rate)
                out.write(np.clip(converted, -1.0, 1.0))
                written += len(converted)
                if on_chunk is not None:
                    on_chunk(len(chunk) / info.sample_rate)
    logger.info("wrote %s (%d samples)", output, written)
    return output
