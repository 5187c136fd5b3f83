"""Audio features of the portrait motion model, one row per 25 fps video frame.

The voice package's encoder features (64 log-mels + normalised log-F0 + voicing at a 10 ms hop, 16 kHz)
are averaged over groups of 4 hops, so row ``t`` covers 40 ms starting at ``t / 25`` s, the same span as
video frame ``t``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AUDIO_FEATURE_DIM", "FEATURE_CHUNK_FRAMES", "FPS", "SAMPLE_RATE", "audio_features", "chunked_audio_features"]

#: Video frame rate of all portrait data and output.
FPS = 25
#: Sample rate the audio features are computed at.
SAMPLE_RATE = 16000
#: 64 log-mels + log-F0 + voicing.
AUDIO_FEATURE_DIM = 66
_HOPS_PER_FRAME = 4  # 10 ms hops per 40 ms video frame
#: Long signals are analysed in spans of this many frames (20 s), so memory stays flat on long clips.
FEATURE_CHUNK_FRAMES = 500


def audio_features(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, num_frames: int | None = None) -> np.ndarray:
    """Per-video-frame audio features of a mono signal.

    Args:
        audio (`np.ndarray`): mono float samples (resampled to 16 kHz when ``sample_rate`` differs).
        sample_rate (`int`): rate of ``audio`` in Hz.
        num_frames (`int`, *optional*): number of video frames to return; the last row is repeated (or
            rows dropped) to fit. Default: ``ceil(duration * 25)``.

    Returns:
        `np.ndarray` of shape `(num_frames, 66)` float32.
    """
    from ..voice.audio import resample
    from ..voice.features import encoder_features

    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if sample_rate != SAMPLE_RATE:
        x = resample(x, sample_rate, SAMPLE_RATE)
    if num_frames is None:
        num_frames = int(np.ceil(len(x) / SAMPLE_RATE * FPS))
    hop = SAMPLE_RATE // (FPS * _HOPS_PER_FRAME)
    # pad so the hop count covers num_frames whole video frames
    need = num_frames * _HOPS_PER_FRAME * hop + 400
    if len(x) < need:
        x = np.pad(x, (0, need - len(x)))
    feats = encoder_features(x, SAMPLE_RATE)
    usable = (len(feats) // _HOPS_PER_FRAME) * _HOPS_PER_FRAME
    pooled = feats[:usable].reshape(-1, _HOPS_PER_FRAME, feats.shape[1]).mean(axis=1)
    return np.ascontiguousarray(pooled[:num_frames], dtype=np.float32)


def chunked_audio_features(mono: np.ndarray, sample_rate: int, num_frames: int, chunk_frames: int = FEATURE_CHUNK_FRAMES) -> np.ndarray:
    """:func:`audio_features` of a long signal, span by span `(num_frames, 66)`.

    Each span starts on a frame boundary and carries one extra frame of audio, so its analysis windows
    see the samples the whole-signal analysis would; log-F0 is normalised per span (20 s), which is
    closer to the training clips (3 s) than one mean over a long recording.
    """
    from ..voice.audio import resample

    signal = resample(np.asarray(mono, dtype=np.float32), sample_rate, SAMPLE_RATE)
    per_frame = SAMPLE_RATE // FPS
    spans = []
    for start in range(0, num_frames, chunk_frames):
        count = min(chunk_frames, num_frames - start)
        piece = signal[start * per_frame : (start + count + 1) * per_frame]
        if len(piece) == 0:
            piece = np.zeros(per_frame, np.float32)
        spans.append(audio_features(piece, SAMPLE_RATE, count))
    return np.concatenate(spans)
