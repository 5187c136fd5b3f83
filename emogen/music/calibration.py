"""Intensity calibration: one power per quadrant so the intensity dial moves the music in even steps.

The pipeline weighs the step from neutral music to the emotion's music by ``g * a**p`` (``a`` the intensity,
``g`` the guidance scale). How the music answers a weight ``w`` differs per quadrant: calm music, for one,
drops most of its velocity and pitch range in the first quarter of the weight. The recipe measures,
per quadrant, the critic's target probability and the clip statistics that the quadrant's real training
clips move (at least :data:`MOVES` from all clips' mean) on music generated at weights
:data:`LEVELS`, and picks the power ``p`` that makes the sweep most even: the one whose largest step, over
those measures at intensities ``a`` = :data:`LEVELS` (weights ``a**p``), carries the least share of its
measure's change (what the benchmark's sweep asks: no step above half).
The powers are kept in the prior's config (``intensity_powers``); the pipeline reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..data.emopia import QUADRANT_CATEGORIES
from ..utils.sweep import largest_step
from .dataset import MusicClip
from .representation import events_from_grid, grid_from_events
from .stats import CLIP_STATISTIC_NAMES, clip_statistics, note_array

if TYPE_CHECKING:
    from ..pipelines.pipeline_emo_music import EmoMusicPipeline

__all__ = ["LEVELS", "MOVES", "POWERS", "calibrate_intensity", "fit_intensity_power", "intensity_response", "moving_statistics", "real_notes", "step_shares"]

#: Guidance weights (as a share of the full-intensity weight) at which the response is measured.
LEVELS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
#: A quadrant moves a statistic when its clips' mean is at least this far (relative) from all clips' mean.
MOVES = 0.10
#: The powers tried (1 = the weight grows linearly with the intensity).
POWERS: np.ndarray = np.round(np.arange(0.5, 2.5001, 0.05), 2)


def real_notes(grid, bars: int):
    """A real clip read through the model's representation (its first ``bars`` bars) as notes at 120 bpm."""
    crop = type(grid)(grid.onsets[:bars], grid.durations[:bars], grid.velocities[:bars], grid.tempo)
    return note_array(events_from_grid(crop), tempo=120.0)


def moving_statistics(clips: Sequence[MusicClip], bars: int = 16, moves: float = MOVES) -> dict[str, dict[str, float]]:
    """Per quadrant category, the clip statistics its clips move: ``{name: relative difference}`` of the
    quadrant's mean from all ``clips``' mean, for those at least ``moves`` away."""
    stats = [(clip.category, clip_statistics(real_notes(clip.grid, bars))) for clip in clips]
    overall = {f: float(np.mean([s[f] for _, s in stats])) for f in CLIP_STATISTIC_NAMES}
    out: dict[str, dict[str, float]] = {}
    for cat in QUADRANT_CATEGORIES:
        own = [s for c, s in stats if c == cat]
        if not own:
            continue
        shift = {f: float(np.mean([s[f] for s in own])) / overall[f] - 1.0 for f in CLIP_STATISTIC_NAMES if overall[f]}
        out[cat] = {f: v for f, v in shift.items() if abs(v) >= moves}
    return out


@torch.no_grad()
def intensity_response(pipe: EmoMusicPipeline, category: str, count: int, bars: int = 16, levels: Sequence[float] = LEVELS,
                       seed: int = 0, batch: int = 10) -> dict[str, list[float]]:
    """Mean critic target probability (``critic_target``) and clip statistics of ``count`` pieces generated
    at each weight in ``levels`` (the intensity with power 1), each piece from its own seeded generator; every
    level uses the same seeds, so the differences between levels are the weight's, not the seeds'."""
    from .evaluation import critic_probabilities

    k = QUADRANT_CATEGORIES.index(category)
    out: dict[str, list[float]] = {m: [] for m in ("critic_target", *CLIP_STATISTIC_NAMES)}
    for w in levels:
        sequences = []
        for start in range(0, count, batch):
            n = min(batch, count - start)
            gens = [torch.Generator().manual_seed(seed + start + i) for i in range(n)]
            sequences += pipe(f"{category}:{w:g}", num_bars=bars, batch_size=n, generator=gens, intensity_guidance=1.0).sequences
        probs = critic_probabilities(pipe.music_critic, pipe.emotion_bank, [grid_from_events(s) for s in sequences])
        stats = [clip_statistics(note_array(s, tempo=120.0)) for s in sequences]
        out["critic_target"].append(float(probs[:, k].mean()))
        for f in CLIP_STATISTIC_NAMES:
            out[f].append(float(np.mean([s[f] for s in stats])))
    return out


def step_shares(response: dict[str, Sequence[float]], power: float, levels: Sequence[float] = LEVELS) -> dict[str, float]:
    """Each measure's :func:`~emogen.utils.sweep.largest_step` at intensities ``levels`` when the weight is
    ``a**power`` (the response measured at weights ``levels``, linear between them)."""
    x = np.asarray(levels, dtype=float)
    return {m: largest_step(np.interp(x**power, x, np.asarray(v, dtype=float))) for m, v in response.items()}


def fit_intensity_power(response: dict[str, Sequence[float]], levels: Sequence[float] = LEVELS,
                        powers: np.ndarray = POWERS, tolerance: float = 0.01) -> float:
    """The power ``p`` whose worst measure has the smallest largest step (:func:`step_shares`); among powers
    within ``tolerance`` of that, the one closest to 1. 1 when no measure moves."""
    moving = {m: v for m, v in response.items() if np.ptp(np.asarray(v, dtype=float)) > 1e-12}
    if not moving:
        return 1.0
    worst = np.array([max(step_shares(moving, p, levels).values()) for p in powers])
    near = [p for p, w in zip(powers, worst) if w <= worst.min() + tolerance]
    return float(min(near, key=lambda p: abs(p - 1.0)))


def calibrate_intensity(pipe: EmoMusicPipeline, clips: Sequence[MusicClip], count: int = 200, bars: int = 16,
                        seed: int = 7_000_000, batch: int = 10) -> dict[str, dict[str, Any]]:
    """Per quadrant category: the fitted ``power``, the ``measures`` it was fitted on (the critic's target
    probability and the statistics the quadrant's real ``clips`` move), every statistic's ``response`` at
    :data:`LEVELS`, and the worst measure's ``largest_step`` share with a linear weight and with the fitted power."""
    moving = moving_statistics(clips, bars)
    out: dict[str, dict[str, Any]] = {}
    for k, cat in enumerate(QUADRANT_CATEGORIES):
        response = intensity_response(pipe, cat, count, bars, LEVELS, seed + 1_000_000 * k, batch)
        measures = {m: response[m] for m in ("critic_target", *moving.get(cat, {}))}
        power = fit_intensity_power(measures)
        out[cat] = {"power": power, "measures": list(measures), "response": response,
                    "largest_step": {"linear": max(step_shares(measures, 1.0).values()), "fitted": max(step_shares(measures, power).values())}}
    return out
