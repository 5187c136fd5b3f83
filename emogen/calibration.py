"""Calibration of a classifier's probabilities: expected calibration error and temperature scaling.

- :func:`expected_calibration_error`: ECE with equal-width confidence bins (Guo et al., 2017: "On
  Calibration of Modern Neural Networks"), the gap between how sure a model says it is and how often it
  is right, weighted by how many predictions fall in each bin;
- :func:`reliability_bins`: the per-bin confidence, accuracy and count behind it (for a reliability diagram);
- :func:`fit_temperature`: the single temperature ``T`` that minimises the negative log-likelihood of
  ``softmax(logits / T)`` on held-out data (fitted on validation speakers, songs or faces, applied everywhere after);
- :func:`negative_log_likelihood`, :func:`uncertain_threshold`.

numpy only (torch is not needed to score or fit one scalar). Used for the speech, music and face critics
(:mod:`emogen.training.voice`, :mod:`emogen.training.music`, :mod:`emogen.training.portrait`); a critic keeps its
temperature in its config (:class:`~emogen.emotion.critic.CriticReadout`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ece_interval",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "reliability_bins",
    "softmax",
    "uncertain_threshold",
]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise ``softmax(logits / temperature)``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, num_bins: int = 15) -> dict[str, np.ndarray]:
    """Confidence (top probability), accuracy and count per equal-width confidence bin.

    Bins are ``(k / n, (k + 1) / n]`` (the first also holds 0). Returns ``confidence``, ``accuracy`` (NaN
    for empty bins), ``count`` and the bin ``edges``.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(labels):
        msg = f"probabilities must be (N, K) with one label per row, got {probs.shape} and {labels.shape}"
        raise ValueError(msg)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    index = np.clip(np.ceil(confidence * num_bins).astype(int) - 1, 0, num_bins - 1)
    count = np.bincount(index, minlength=num_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(index, weights=confidence, minlength=num_bins) / count
        acc = np.bincount(index, weights=correct, minlength=num_bins) / count
    return {"confidence": conf, "accuracy": acc, "count": count, "edges": edges}


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, num_bins: int = 15) -> float:
    """ECE: ``sum_b |B_b| / N * |accuracy(B_b) - confidence(B_b)|`` over equal-width confidence bins.

    Args:
        probabilities (`np.ndarray` of shape `(N, K)`): predicted distributions.
        labels (`np.ndarray` of shape `(N,)`): true class indices (a label outside ``0..K-1`` is never correct).
        num_bins (`int`, *optional*, defaults to 15): confidence bins.

    Example:
        >>> p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
        >>> # 0.9 sure but right half the time (gap 0.4), 0.6 sure and always right (gap 0.4)
        >>> round(expected_calibration_error(p, np.array([0, 1, 0, 0])), 3)
        0.4
    """
    bins = reliability_bins(probabilities, labels, num_bins)
    filled = bins["count"] > 0
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float((bins["count"][filled] * gaps).sum() / bins["count"].sum())


def ece_interval(probabilities: np.ndarray, labels: np.ndarray, num_bins: int = 15, draws: int = 500, seed: int = 0) -> dict[str, float]:
    """How much an ECE measured on few clips can be trusted.

    Returns ``low`` / ``high``: the 5th and 95th percentiles of the ECE over bootstrap resamples of the
    clips; ``floor``: the mean ECE of a perfectly calibrated model with the same confidences (correctness
    drawn with the predicted top probability), which is above 0 on a finite set.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    n = len(labels)
    boot = [expected_calibration_error(probs[idx], labels[idx], num_bins) for idx in (rng.integers(0, n, n) for _ in range(draws))]
    top, pred = probs.max(axis=1), probs.argmax(axis=1)
    floor = []
    for _ in range(draws):
        right = rng.random(n) < top
        floor.append(expected_calibration_error(probs, np.where(right, pred, -1), num_bins))
    return {"low": float(np.percentile(boot, 5)), "high": float(np.percentile(boot, 95)), "floor": float(np.mean(floor))}


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean ``-log softmax(logits / T)[label]``."""
    probs = softmax(logits, temperature)
    return float(-np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-12)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 100.0)) -> float:
    """The temperature minimising :func:`negative_log_likelihood` (golden-section search over log T).

    The NLL of temperature scaling is unimodal in ``log T`` for a fixed set of logits, so a bracketing
    search finds the optimum without gradients. ``T > 1`` softens an over-confident model.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> labels = rng.integers(0, 4, 2000)
        >>> logits = rng.normal(size=(2000, 4)); logits[np.arange(2000), labels] += 1.0
        >>> 4.5 < fit_temperature(5 * logits, labels) < 5.5  # the calibrated logits were blown up 5x
        True
    """
    labels = np.asarray(labels)
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    golden = (math.sqrt(5) - 1) / 2
    f = lambda log_t: negative_log_likelihood(logits, labels, math.exp(log_t))  # noqa: E731
    a, b = lo, hi
    c, d = b - golden * (b - a), a + golden * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(80):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - golden * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + golden * (b - a)
            fd = f(d)
    return float(math.exp((a + b) / 2))


def uncertain_threshold(probabilities: np.ndarray, labels: np.ndarray, target_accuracy: float = 0.5,
                        candidates: np.ndarray | None = None) -> float:
    """The lowest top-probability threshold above which predictions are right at least ``target_accuracy`` of the time.

    Readings whose top probability falls below it are reported as "uncertain". Chosen on validation
    data; returns the largest candidate when none reaches the target.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    candidates = np.round(np.arange(0.2, 0.81, 0.05), 2) if candidates is None else np.asarray(candidates)
    for threshold in candidates:
        kept = confidence >= threshold
        if kept.sum() >= 10 and correct[kept].mean() >= target_accuracy:
            return float(threshold)
    return float(candidates[-1])
