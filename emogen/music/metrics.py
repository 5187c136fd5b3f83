"""Musicality metrics: overlapping area of feature distributions (Yang & Lerch, 2020) and copying.

* :func:`overlapping_area`: area under ``min(p, q)`` of two Gaussian-KDE densities of a per-piece
  feature (1 = identical distributions). Yang & Lerch (2020), "On the evaluation of generative models in
  music", Neural Computing and Applications 32, compare generated and real sets this way.
* :func:`longest_copied_run`: the longest run of consecutive notes (onset step, pitch) of a generated
  piece that also appears, in the same order, in some training piece.
* :func:`realism_accuracy`: cross-validated accuracy of a logistic regression telling two sets of pieces
  apart from their statistics (0.5 = indistinguishable); run it on real-vs-real for the noise floor.
* :func:`sweep_shape` (from :mod:`emogen.utils.sweep`): Spearman correlation of a measure with the intensity
  steps and the share of its total change carried by the largest single step.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde

from ..utils.sweep import sweep_shape  # re-exported: the music benchmark's sweeps
from .representation import POSITIONS_PER_BAR, EventSequence

__all__ = ["MUSICALITY_FEATURES", "CopyIndex", "overlapping_area", "note_tokens", "longest_copied_run", "realism_accuracy", "sweep_shape"]

#: Per-piece features compared between generated and real music (names from :mod:`emogen.music.stats`).
MUSICALITY_FEATURES: tuple[str, ...] = ("pitch_range", "pitch_class_entropy", "polyphony", "note_density", "ioi_mean")


def overlapping_area(a: np.ndarray, b: np.ndarray, points: int = 512) -> float:
    """Overlapping area of the KDE densities of samples ``a`` and ``b`` (in [0, 1])."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    pad = 0.1 * (hi - lo + 1e-9)
    grid = np.linspace(lo - pad, hi + pad, points)

    def density(x: np.ndarray) -> np.ndarray:
        if np.ptp(x) < 1e-9:
            x = x + np.linspace(-1e-3, 1e-3, len(x)) * (abs(x.mean()) + 1)
        return gaussian_kde(x)(grid)

    pa, pb = density(a), density(b)
    return float(np.trapezoid(np.minimum(pa, pb), grid))


def note_tokens(sequence: EventSequence) -> list[tuple[int, int]]:
    """(steps since the previous note's onset, pitch) for every note in time/pitch order."""
    steps = sorted((e.bar * POSITIONS_PER_BAR + e.position, e.pitch) for e in sequence.events)
    out, prev = [], None
    for step, pitch in steps:
        out.append((0 if prev is None else step - prev, pitch))
        prev = step
    return out


class CopyIndex:
    """Hashed n-grams of the training pieces, built lazily per length and reused across queries."""

    def __init__(self, training: list[list[tuple[int, int]]]) -> None:
        self.training = training
        self._pools: dict[int, set[tuple]] = {}

    @staticmethod
    def grams(seq: list[tuple[int, int]], n: int) -> set[tuple]:
        """Runs of ``n`` tokens; the first token keeps only its pitch (a copy may start anywhere)."""
        return {(seq[i][1],) + tuple(seq[i + 1 : i + n]) for i in range(len(seq) - n + 1)}

    def contains_run(self, generated: list[tuple[int, int]], n: int) -> bool:
        """Whether some run of ``n`` generated tokens appears in a training piece."""
        if n not in self._pools:
            pool: set[tuple] = set()
            for seq in self.training:
                pool |= self.grams(seq, n)
            self._pools[n] = pool
        return bool(self.grams(generated, n) & self._pools[n])

    def longest_run(self, generated: list[tuple[int, int]]) -> int:
        """Length of the longest run of ``generated`` found contiguously in a training piece.

        Runs are searched upward by doubling, then by bisection: copied runs are short (a handful of notes),
        and each length tried keeps a pool of every training n-gram of that length, so never trying long
        lengths keeps the memory small (bisecting from the whole length built pools of hundreds of tokens,
        about 15 GB for the benchmark).
        """
        n = 1
        while n <= len(generated) and self.contains_run(generated, n):
            n *= 2
        lo, hi = n // 2, min(n - 1, len(generated))  # a run of lo is copied (or lo = 0); of n, not (or n is too long)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.contains_run(generated, mid):
                lo = mid
            else:
                hi = mid - 1
        return lo


def longest_copied_run(generated: list[tuple[int, int]], training: list[list[tuple[int, int]]] | CopyIndex) -> int:
    """Length of the longest run of ``generated`` tokens found contiguously in any training sequence."""
    index = training if isinstance(training, CopyIndex) else CopyIndex(training)
    return index.longest_run(generated)


def realism_accuracy(a: np.ndarray, b: np.ndarray, folds: int = 5, repeats: int = 5, c: float = 1.0, seed: int = 0) -> float:
    """Mean stratified ``folds``-fold accuracy of a standardised logistic regression telling rows of ``a`` from rows of ``b``.

    ``a`` `(n, F)` and ``b`` `(m, F)` are per-piece statistics; the larger set is subsampled to the smaller
    one's size in every repeat, so chance is 0.5. Each of ``repeats`` repeats reshuffles the folds.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = min(len(a), len(b))
    if n < folds:
        msg = f"realism_accuracy needs at least folds={folds} rows in each set, got {len(a)} and {len(b)}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    scores = []
    for r in range(repeats):
        x = np.concatenate([a[rng.permutation(len(a))[:n]], b[rng.permutation(len(b))[:n]]])
        y = np.r_[np.zeros(n), np.ones(n)]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed + r)
        scores.append(cross_val_score(model, x, y, cv=cv).mean())
    return float(np.mean(scores))
