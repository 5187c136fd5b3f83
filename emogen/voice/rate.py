"""Speaking rate: how much longer or shorter an utterance becomes in an emotion, learned from parallel pairs.

Acted emotional speech changes its duration by about the same *time* per phrase rather than by one factor:
over the RAVDESS and nEMO pairs (neutral -> emotion, same speaker and sentence), the longer the sentence,
the smaller its log duration change. RAVDESS' seven-syllable statements lengthen when angry (1.18x on the
training actors), nEMO's Polish sentences, about twelve syllables, shorten (0.89x). One factor per emotion
can follow only one of the corpora, so the model is, per emotion category ``k`` and unit of intensity,

    log(duration factor) = s_k + u_k * (log n - log n_ref)

with ``n`` the number of syllable nuclei of the source (:func:`count_syllable_nuclei`, clamped to the range
seen in training) and ``n_ref`` the training sources' typical count. :func:`fit_rate_model` fits ``s`` and ``u``
by weighted least squares (each corpus weighted equally); the result travels in the conversion denoiser's
config (:class:`~emogen.voice.denoiser.VoiceConversionDenoiser`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from .world import WorldFeatures, decode_envelope

__all__ = ["NUCLEI_BAND_HZ", "RateModel", "RateSample", "count_syllable_nuclei", "fit_rate_model", "rate_fit_table"]

#: The band whose envelope energy peaks once per syllable nucleus (vowels), in Hz.
NUCLEI_BAND_HZ = (300.0, 2500.0)
#: Smallest dip (dB) between two peaks of the band energy for them to count as two nuclei.
NUCLEI_PROMINENCE_DB = 4.0
#: Peaks more than this (dB) below the loudest are not counted.
NUCLEI_FLOOR_DB = 30.0
#: Shortest time between two nuclei (seconds).
NUCLEI_MIN_GAP_SECONDS = 0.08


def count_syllable_nuclei(world: WorldFeatures) -> int:
    """Number of syllable nuclei in ``world``: peaks of the 300-2500 Hz energy of its spectral envelope.

    The energy (dB, smoothed over 20 ms, read every 10 ms) counts a peak when it rises at least
    :data:`NUCLEI_PROMINENCE_DB` above the dips around it, lies within :data:`NUCLEI_FLOOR_DB` of the loudest
    frame and is at least :data:`NUCLEI_MIN_GAP_SECONDS` from the previous one. On RAVDESS' statements
    (seven syllables, "Kids are talking by the door") it counts 7.2 on average over neutral clips.
    """
    from scipy.signal import find_peaks, savgol_filter

    if world.num_frames == 0:
        return 0
    envelope = decode_envelope(world)
    freqs = np.linspace(0.0, world.sample_rate / 2, envelope.shape[1])
    band = envelope[:, (freqs >= NUCLEI_BAND_HZ[0]) & (freqs <= NUCLEI_BAND_HZ[1])].sum(1)
    level = 10 * np.log10(band + 1e-12)
    per_20ms = max(1, int(round(20.0 / world.frame_period)))
    per_10ms = max(1, int(round(10.0 / world.frame_period)))
    level = np.convolve(level, np.ones(per_20ms) / per_20ms, mode="same")[::per_10ms]
    if len(level) >= 7:
        level = savgol_filter(level, 7, 2)
    peaks, _ = find_peaks(level, prominence=NUCLEI_PROMINENCE_DB, height=level.max() - NUCLEI_FLOOR_DB,
                          distance=max(1, int(round(NUCLEI_MIN_GAP_SECONDS / 0.01))))
    return int(len(peaks))


class RateSample(Protocol):
    """What :func:`fit_rate_model` reads of a parallel pair (a :class:`~emogen.voice.pairs.ConversionPair` has it)."""

    emotion: str
    amount: float
    corpus: str
    log_duration_ratio: float
    source_syllables: int


@dataclass
class RateModel:
    """Per-category speaking-rate model (see the module docstring); all lists follow the bank's categories.

    Args:
        slopes (`list[float]`): ``s_k``, log duration change per unit intensity at ``reference_syllables``.
        length_slopes (`list[float]`): ``u_k``, its change per unit of log syllable count.
        reference_syllables (`float`): ``n_ref``.
        syllable_range (`tuple[float, float]`): the counts ``n`` is clamped to (those seen in training).
    """

    slopes: list[float]
    length_slopes: list[float]
    reference_syllables: float = 1.0
    syllable_range: tuple[float, float] = (1.0, 1.0)

    def to_config(self) -> dict:
        """Keyword arguments of :class:`~emogen.voice.denoiser.VoiceConversionDenoiser` that hold the model."""
        d = asdict(self)
        return {f"rate_{k}": list(v) if isinstance(v, (list, tuple)) else v for k, v in d.items()}

    def category_factors(self, categories: Sequence[str], syllables: float | None = None) -> dict[str, float]:
        """Duration factor at intensity 1 of each category with a slope, for a source of ``syllables`` nuclei
        (default: the reference count)."""
        x = self.log_length(syllables)
        return {k: float(np.exp(s + u * x)) for k, s, u in zip(categories, self.slopes, self.length_slopes) if s or u}

    def log_factor(self, index: int, amount: float, syllables: float | None) -> float:
        """Log duration factor of category ``index`` at intensity ``amount`` for a source of ``syllables`` nuclei."""
        return amount * (self.slopes[index] + self.length_slopes[index] * self.log_length(syllables))

    def log_length(self, syllables: float | None) -> float:
        """``log n - log n_ref`` with ``n`` clamped to the training range (0 for None)."""
        if syllables is None:
            return 0.0
        lo, hi = self.syllable_range
        return float(np.log(min(max(float(syllables), lo), hi)) - np.log(self.reference_syllables))


def fit_rate_model(samples: Sequence[RateSample], categories: Sequence[str], corpora: tuple[str, ...] | None = None) -> RateModel:
    """Least-squares :class:`RateModel` from the emotional pairs (``amount > 0``) of ``corpora`` (default: all).

    Each pair contributes ``log_duration_ratio ~ amount * (s_k + u_k * (log n - log n_ref))``; every corpus
    carries the same total weight, so nEMO's 3-4x more pairs do not drown RAVDESS. ``n_ref`` is the
    corpus-weighted geometric mean of the sources' counts, and the clamp range their 1st to 99th percentile.
    A category without pairs gets 0 for both slopes; one whose sources all have one length gets ``u_k = 0``.
    """
    used = [p for p in samples if p.amount > 0 and (corpora is None or p.corpus in corpora)]
    if not used:
        return RateModel([0.0] * len(categories), [0.0] * len(categories))
    counts = np.array([max(p.source_syllables, 1) for p in used], dtype=np.float64)
    corpus = np.array([p.corpus for p in used])
    weight = np.zeros(len(used))
    for name in set(corpus.tolist()):
        weight[corpus == name] = 1.0 / np.sum(corpus == name)
    lo, hi = (float(v) for v in np.percentile(counts, [1, 99]))
    log_n = np.log(np.clip(counts, lo, hi))
    log_ref = float(np.sum(weight * log_n) / weight.sum())
    slopes, length_slopes = [], []
    for name in categories:
        rows = np.array([p.emotion == name for p in used])
        if not rows.any():
            slopes.append(0.0)
            length_slopes.append(0.0)
            continue
        a = np.array([p.amount for p in used])[rows]
        y = np.array([p.log_duration_ratio for p in used])[rows]
        x = log_n[rows] - log_ref
        sw = np.sqrt(weight[rows])
        if np.ptp(x) > 1e-6:
            design = np.stack([a, a * x], axis=1)
            (s, u), *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
        else:
            s, u = float(np.sum(sw**2 * a * y) / np.sum(sw**2 * a * a)), 0.0
        slopes.append(float(s))
        length_slopes.append(float(u))
    return RateModel(slopes, length_slopes, float(np.exp(log_ref)), (lo, hi))


def rate_fit_table(samples: Sequence[RateSample], model: RateModel, categories: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Per corpus and category with emotional pairs in ``samples``: the pairs' geometric-mean duration factor
    (``real``), the model's for the same pairs (``fitted``), the number of pairs and the sources' mean count."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for corpus in sorted({p.corpus for p in samples}):
        for index, name in enumerate(categories):
            rows = [p for p in samples if p.corpus == corpus and p.emotion == name and p.amount > 0]
            if rows:
                table.setdefault(corpus, {})[name] = {
                    "real": float(np.exp(np.mean([p.log_duration_ratio for p in rows]))),
                    "fitted": float(np.exp(np.mean([model.log_factor(index, p.amount, p.source_syllables) for p in rows]))),
                    "pairs": len(rows),
                    "syllables": float(np.mean([p.source_syllables for p in rows])),
                }
    return table
