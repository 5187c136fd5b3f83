"""Objective conversion metrics against a reference recording, after DTW alignment: mel-cepstral
distortion (dB) and log-F0 RMSE."""

from __future__ import annotations

import math

import numpy as np

from .dtw import dtw_path
from .audio import trim_silence
from .world import WorldFeatures, analyze

__all__ = ["FidelityScores", "fidelity", "fidelity_audio", "mel_cepstral_distortion"]

_MCD_CONST = 10.0 / math.log(10.0) * math.sqrt(2.0)


def mel_cepstral_distortion(a: np.ndarray, b: np.ndarray) -> float:
    """Mean MCD in dB between aligned mel-cepstra `(frames, dims)` (coefficient 0, the energy, excluded)."""
    diff = a[:, 1:] - b[:, 1:]
    return float(np.mean(_MCD_CONST * np.sqrt((diff**2).sum(-1))))


class FidelityScores(tuple):
    """``(mcd_db, log_f0_rmse)`` of one comparison."""

    @property
    def mcd(self) -> float:
        return self[0]

    @property
    def log_f0_rmse(self) -> float:
        return self[1]


def fidelity(converted: WorldFeatures, reference: WorldFeatures, order: int = 25) -> FidelityScores:
    """MCD (dB, coefficients 1..order-1) and log-F0 RMSE (natural log of Hz, frames voiced in both) after
    DTW on the mel-cepstrum. Pass features of silence-trimmed signals (see :func:`fidelity_audio`)."""
    a, b = converted.mcep[:, :order], reference.mcep[:, :order]
    path_a, path_b = dtw_path(a[:, 1:], b[:, 1:])
    mcd = mel_cepstral_distortion(a[path_a], b[path_b])
    fa, fb = converted.f0[path_a], reference.f0[path_b]
    both = (fa > 0) & (fb > 0)
    rmse = float(np.sqrt(np.mean((np.log(fa[both]) - np.log(fb[both])) ** 2))) if both.any() else float("nan")
    return FidelityScores((mcd, rmse))


def fidelity_audio(converted: np.ndarray, reference: np.ndarray, sample_rate: int) -> FidelityScores:
    """:func:`fidelity` of two mono signals at the model rate, each trimmed to its speech first."""
    feats = []
    for signal in (converted, reference):
        start, end = trim_silence(signal, sample_rate, pad_seconds=0.05)
        feats.append(analyze(signal[start:end], sample_rate))
    return fidelity(*feats)
