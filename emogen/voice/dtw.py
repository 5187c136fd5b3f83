"""Dynamic time warping between two feature sequences, vectorised along anti-diagonals (no numba)."""

from __future__ import annotations

import numpy as np

__all__ = ["dtw_path", "align_to_source"]


def dtw_path(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal monotonic alignment of ``source`` `(N, D)` and ``target`` `(M, D)` under Euclidean cost.

    Returns index arrays ``(i, j)`` of equal length, from ``(0, 0)`` to ``(N-1, M-1)``.
    """
    n, m = len(source), len(target)
    cost = np.sqrt(((source[:, None, :] - target[None, :, :]) ** 2).sum(-1))
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for k in range(2, n + m + 1):  # cells with i + j == k (1-based)
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    path_i, path_j = [n - 1], [m - 1]
    i, j = n, m
    while i > 1 or j > 1:
        options = (acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
        step = int(np.argmin(options))
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
        path_i.append(i - 1)
        path_j.append(j - 1)
    return np.array(path_i[::-1]), np.array(path_j[::-1])


def align_to_source(path_i: np.ndarray, path_j: np.ndarray, target: np.ndarray, num_source: int) -> np.ndarray:
    """Target rows mapped onto the source time axis: the mean of the target frames each source frame meets."""
    out = np.zeros((num_source,) + target.shape[1:], dtype=np.float64)
    counts = np.zeros(num_source)
    np.add.at(out, path_i, target[path_j])
    np.add.at(counts, path_i, 1.0)
    return out / np.maximum(counts, 1.0).reshape((-1,) + (1,) * (target.ndim - 1))
