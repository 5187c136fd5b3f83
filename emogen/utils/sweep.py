"""How a measure follows an intensity sweep, shared by the benchmarks of every modality.

The issues ask the same of every intensity dial: the measure moves monotonically with the asked intensity
(Spearman ``rho`` at least :data:`MIN_RHO` in size) and in roughly even steps (no single step carrying more
than :data:`MAX_STEP_SHARE` of the total change).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_STEP_SHARE", "MIN_RHO", "even_sweep", "sweep_shape"]

#: Least Spearman correlation (in size) of a measure with the intensity.
MIN_RHO = 0.9
#: Largest share of the total change one step may carry.
MAX_STEP_SHARE = 0.5


def sweep_shape(levels: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """How a measure follows a sweep: Spearman ``rho`` of ``values`` against ``levels`` and ``largest_step``,
    the largest absolute step between neighbouring levels as a share of the summed absolute steps (1/(n-1) for
    an even, monotone sweep; 1 when a single step carries everything; 0 when nothing moves)."""
    from scipy.stats import spearmanr

    values = np.asarray(values, dtype=np.float64)
    steps = np.abs(np.diff(values))
    total = steps.sum()
    rho = float(spearmanr(levels, values).statistic) if np.ptp(values) > 0 else 0.0
    return {"rho": rho, "largest_step": float(steps.max() / total) if total > 0 else 0.0}


def even_sweep(shape: dict[str, float], signed: bool = False) -> bool:
    """Whether a :func:`sweep_shape` is monotone and even enough: ``rho`` at least :data:`MIN_RHO` (in size unless
    ``signed``, which asks for a rise) and no step above :data:`MAX_STEP_SHARE`. One swapped pair of five levels
    gives a Spearman of exactly 0.9, which floating point computes as 0.8999...: it passes."""
    rho = shape["rho"] if signed else abs(shape["rho"])
    return bool(rho >= MIN_RHO - 1e-9 and shape["largest_step"] <= MAX_STEP_SHARE)
