"""WORLD vocoder features with pyworld: log-F0, energy, spectral envelope as a mel-cepstrum (WORLD's
coded spectral envelope, whose 0th coefficient is the frame energy) and band aperiodicity.

Analysis uses ``dio`` + ``stonemask`` (much faster than ``harvest``) at a 5 ms frame period, which keeps
the converter faster than real time on a CPU. Resynthesis from the (modified) features keeps the
speaker's own spectral envelope, so the voice stays the speaker's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

with warnings.catch_warnings():  # pyworld imports pkg_resources, which warns on new setuptools
    warnings.simplefilter("ignore")
    import pyworld

__all__ = ["F0_RANGE_PERCENTILES", "FRAME_PERIOD_MS", "NUM_MCEP", "WorldFeatures", "analyze", "continuous_log_f0", "decode_envelope", "f0_range", "scale_log_f0_change", "synthesize"]

#: Analysis frame period in milliseconds.
FRAME_PERIOD_MS = 5.0
#: Dimensions of the coded spectral envelope (mel-cepstrum; coefficient 0 is energy).
NUM_MCEP = 40


@dataclass
class WorldFeatures:
    """WORLD features of one mono signal.

    Args:
        f0 (`np.ndarray` of shape `(frames,)`): F0 in Hz, 0 where unvoiced.
        mcep (`np.ndarray` of shape `(frames, NUM_MCEP)`): coded spectral envelope (mel-cepstrum).
        coded_ap (`np.ndarray` of shape `(frames, bands)`): coded band aperiodicity.
        sample_rate (`int`): sample rate of the analysed signal.
        frame_period (`float`): frame period in ms.
    """

    f0: np.ndarray
    mcep: np.ndarray
    coded_ap: np.ndarray
    sample_rate: int
    frame_period: float = FRAME_PERIOD_MS

    @property
    def num_frames(self) -> int:
        """Number of analysis frames."""
        return int(self.f0.shape[0])

    @property
    def voiced(self) -> np.ndarray:
        """Boolean voicing decision per frame."""
        return self.f0 > 0

    def time_scale(self, factor: float) -> WorldFeatures:
        """Stretch the frame sequence by ``factor`` (> 1 slower, < 1 faster) by linear interpolation.

        Voicing is resampled by nearest neighbour, so F0 never interpolates across a voiced/unvoiced edge.
        """
        stretched = stretch_f0(self.f0, factor)
        if stretched is None:
            return self
        pos, f0 = stretched
        return replace(
            self,
            f0=f0,
            mcep=_interp_rows(self.mcep, pos),
            coded_ap=_interp_rows(self.coded_ap, pos),
        )


def stretch_f0(f0: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Frame positions and F0 of a track stretched by ``factor`` (None when nothing changes).

    Returns the fractional source position of each output frame (for :func:`_interp_rows` of the other
    features) and the stretched F0: log-F0 interpolated, voicing by nearest neighbour, so F0 never
    interpolates across a voiced/unvoiced edge.
    """
    frames = int(f0.shape[0])
    if abs(factor - 1.0) < 1e-4 or frames < 2:
        return None
    pos = np.linspace(0.0, frames - 1, max(2, int(round(frames * factor))))
    nearest = np.clip(np.round(pos).astype(int), 0, frames - 1)
    lf0 = continuous_log_f0(f0)
    return pos, np.where((f0 > 0)[nearest], np.exp(_interp_rows(lf0[:, None], pos)[:, 0]), 0.0)


def _interp_rows(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, values.shape[0] - 1)
    w = (pos - lo)[:, None]
    return (1 - w) * values[lo] + w * values[hi]


def continuous_log_f0(f0: np.ndarray) -> np.ndarray:
    """Log-F0 with unvoiced frames filled by linear interpolation (edges hold the nearest voiced value).

    An all-unvoiced input gives log(100 Hz) everywhere.
    """
    voiced = f0 > 0
    if not voiced.any():
        return np.full(f0.shape, np.log(100.0))
    idx = np.arange(len(f0))
    return np.interp(idx, idx[voiced], np.log(f0[voiced]))


#: Percentiles of voiced log-F0 whose distance is the contour's range (as eGeMAPS' F0 range: 20th to 80th).
F0_RANGE_PERCENTILES = (20.0, 80.0)


def f0_range(log_f0: np.ndarray, voiced: np.ndarray) -> float:
    """Range of a log-F0 contour over its voiced frames: the distance of :data:`F0_RANGE_PERCENTILES`."""
    low, high = np.percentile(log_f0[voiced], F0_RANGE_PERCENTILES)
    return float(high - low)


def scale_log_f0_change(log_f0: np.ndarray, change: np.ndarray, voiced: np.ndarray, strength: float) -> np.ndarray:
    """The log-F0 contour ``log_f0`` after ``strength`` times the change ``change``, with its range moving evenly.

    Adding ``strength * change`` moves the level evenly but not the range: a change that reshapes the contour
    (partly against the source's own excursions) first narrows the range and then widens it. So the change is
    split, over the voiced frames, into its mean (the level), its projection on the source's excursions from
    their mean (a scale of the source's own contour) and the rest (a new shape). The level and the new shape
    are scaled by ``strength``; the source's excursions get the scale (found by bisection) that puts the
    contour's range (:func:`f0_range`) at ``strength`` of the way from the source's to that of
    ``log_f0 + change``. Both ends are exact; when no scale reaches the range (or the change would turn the
    source's contour upside down) the change is scaled plainly.

    Args:
        log_f0 (`np.ndarray` of shape `(frames,)`): the source's continuous log-F0 (:func:`continuous_log_f0`).
        change (`np.ndarray` of shape `(frames,)`): the full change of log-F0 (intensity 1).
        voiced (`np.ndarray` of shape `(frames,)`): bool, the voiced frames (the statistics are taken there).
        strength (`float`): the share of the change, the asked intensity.
    """
    v = np.asarray(voiced, dtype=bool)
    plain = log_f0 + strength * change
    if strength in (0.0, 1.0) or v.sum() < 5:
        return plain
    excursion = log_f0 - log_f0[v].mean()
    source_var = float(np.mean(excursion[v] ** 2))
    if source_var < 1e-12:
        return plain
    level = float(change[v].mean())
    beta = float(np.mean((change[v] - level) * excursion[v])) / source_var
    if 1 + beta <= 0:
        return plain
    base = log_f0 + strength * (change - beta * excursion)  # the level and the new shape; the excursions at scale 1
    target = (1 - strength) * f0_range(log_f0, v) + strength * f0_range(log_f0 + change, v)

    def contour(scale: float) -> np.ndarray:
        return base + (scale - 1) * excursion

    low, high = 0.0, 2.0 * max(1.0, 1 + beta)
    if not f0_range(contour(low), v) <= target <= f0_range(contour(high), v):
        return plain
    for _ in range(40):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if f0_range(contour(mid), v) < target else (low, mid)
    return contour(0.5 * (low + high))


def analyze(audio: np.ndarray, sample_rate: int, f0_floor: float = 60.0, f0_ceil: float = 700.0) -> WorldFeatures:
    """WORLD analysis of a mono float signal (dio + stonemask, cheaptrick, d4c), coded to low dimensions."""
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pyworld.dio(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_PERIOD_MS)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    sp = pyworld.cheaptrick(x, f0, times, sample_rate)
    ap = pyworld.d4c(x, f0, times, sample_rate)
    mcep = pyworld.code_spectral_envelope(sp, sample_rate, NUM_MCEP)
    coded_ap = pyworld.code_aperiodicity(ap, sample_rate)
    return WorldFeatures(f0=f0, mcep=mcep, coded_ap=coded_ap, sample_rate=sample_rate)


def decode_envelope(features: WorldFeatures) -> np.ndarray:
    """The spectral envelope (power) coded in ``features.mcep``, `(frames, fft_size // 2 + 1)` on CheapTrick's grid."""
    fs = features.sample_rate
    fft_size = pyworld.get_cheaptrick_fft_size(fs)
    return pyworld.decode_spectral_envelope(np.ascontiguousarray(features.mcep, dtype=np.float64), fs, fft_size)


def synthesize(features: WorldFeatures) -> np.ndarray:
    """WORLD resynthesis of (possibly modified) features to a float32 mono signal."""
    fs = features.sample_rate
    fft_size = pyworld.get_cheaptrick_fft_size(fs)
    sp = decode_envelope(features)
    ap = pyworld.decode_aperiodicity(np.ascontiguousarray(features.coded_ap, dtype=np.float64), fs, fft_size)
    f0 = np.ascontiguousarray(features.f0, dtype=np.float64)
    y = pyworld.synthesize(f0, sp, ap, fs, features.frame_period)
    return y.astype(np.float32)
