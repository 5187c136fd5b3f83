"""Frame features for the speech emotion encoder: log-mel spectrogram plus normalised log-F0 and voicing.

Everything is computed with numpy/pyworld at :data:`~emogen.voice.audio.MODEL_SAMPLE_RATE` with a 10 ms
hop, so the encoder needs no extra audio package.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pyworld

from .world import continuous_log_f0

__all__ = ["ENCODER_FEATURE_DIM", "HOP_SECONDS", "NUM_MELS", "encoder_features", "log_mel", "mel_filterbank"]

NUM_MELS = 64
HOP_SECONDS = 0.01
#: Channels per encoder frame: log-mel, then utterance-normalised log-F0, then voicing.
ENCODER_FEATURE_DIM = NUM_MELS + 2


@lru_cache(maxsize=4)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = NUM_MELS, fmin: float = 50.0, fmax: float | None = None) -> np.ndarray:
    """Triangular HTK-mel filterbank, shape `(n_mels, n_fft // 2 + 1)`."""
    fmax = fmax or sample_rate / 2

    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lower) / (center - lower)
    down = (upper - freqs[None]) / (upper - center)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


def log_mel(audio: np.ndarray, sample_rate: int, n_fft: int = 400) -> np.ndarray:
    """Log-mel spectrogram of a mono signal, shape `(frames, NUM_MELS)`, 25 ms Hann window, 10 ms hop."""
    hop = int(round(HOP_SECONDS * sample_rate))
    x = np.asarray(audio, dtype=np.float32)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    n = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(n_fft).astype(np.float32)[None]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return np.log(power @ mel_filterbank(sample_rate, n_fft).T + 1e-6).astype(np.float32)


def encoder_features(audio: np.ndarray, sample_rate: int, f0: np.ndarray | None = None) -> np.ndarray:
    """Encoder input frames, shape `(frames, ENCODER_FEATURE_DIM)`.

    ``f0`` (Hz, 10 ms frames) may be passed to reuse an analysis; otherwise dio + stonemask compute it.
    Log-F0 is centred on the utterance's voiced mean, so the pitch register of the speaker is removed.
    """
    mel = log_mel(audio, sample_rate)
    if f0 is None:
        x = np.ascontiguousarray(audio, dtype=np.float64)
        f0, t = pyworld.dio(x, sample_rate, f0_floor=60.0, f0_ceil=700.0, frame_period=HOP_SECONDS * 1000)
        f0 = pyworld.stonemask(x, f0, t, sample_rate)
    n = mel.shape[0]
    f0 = np.resize(f0, n) if len(f0) < n else f0[:n]
    voiced = f0 > 0
    lf0 = continuous_log_f0(f0)
    lf0 = lf0 - (lf0[voiced].mean() if voiced.any() else lf0.mean())
    return np.concatenate([mel, lf0[:, None] * 4.0, voiced[:, None].astype(np.float32)], axis=1).astype(np.float32)
