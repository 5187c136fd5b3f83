"""Intensity calibration: one power per quadrant so the intensity dial moves the music in even steps.

The pipeline weighs the step from neutral music to the emotion's music by ``g * a**p`` (``a`` the intensity,
``g`` the guidance scale). How the music answers a weight ``w`` differs per quadrant: calm music, for one,
drops most of its velocity and pitch range in the first quarter of the weight. The recipe measures,
per quadrant, the critic's target probability and the clip statistics that the quadrant's real training
clips move (at least :data:`MOVES` from all clips' mean) on music generated at weights
:data:`LEVELS`, and picks the power ``p`` whose mean normalised response ``r(a**p)`` is closest to ``a``:
``a = 0.5`` then carries about half of the way from average music to the quadrant's.
The powers are kept in the prior's config (``intensity_powers``); the pipeline reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..data.emopia import QUADRANT_CATEGORIES
from .dataset import MusicClip
from .representation import events_from_grid, grid_from_events
from .stats import CLIP_STATISTIC_NAMES, clip_statistics, note_array

if TYPE_CHECKING:
    from ..pipelines.pipeline_emo_music import EmoMusicPipeline

__all__ = ["LEVELS", "MOVES", "POWERS", "calibrate_intensity", "fit_intensity_power", "intensity_response", "moving_statistics", "normalised_response", "real_notes"]

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
    at each weight in ``levels`` (the intensity with power 1), each piece from its own seeded generator."""
    from .evaluation import critic_probabilities

    k = QUADRANT_CATEGORIES.index(category)
    out: dict[str, list[float]] = {m: [] for m in ("critic_target", *CLIP_STATISTIC_NAMES)}
    for j, w in enumerate(levels):
        sequences = []
        for start in range(0, count, batch):
            n = min(batch, count - start)
            gens = [torch.Generator().manual_seed(seed + 10_000 * j + start + i) for i in range(n)]
            sequences += pipe(f"{category}:{w:g}", num_bars=bars, batch_size=n, generator=gens, intensity_guidance=1.0).sequences
        probs = critic_probabilities(pipe.music_critic, pipe.emotion_bank, [grid_from_events(s) for s in sequences])
        stats = [clip_statistics(note_array(s, tempo=120.0)) for s in sequences]
        out["critic_target"].append(float(probs[:, k].mean()))
        for f in CLIP_STATISTIC_NAMES:
            out[f].append(float(np.mean([s[f] for s in stats])))
    return out


def normalised_response(response: dict[str, Sequence[float]]) -> np.ndarray | None:
    """The mean over measures of each measure's values normalised to 0 at the first level and 1 at the last
    (measures that do not move are left out; ``None`` when none moves)."""
    curves = []
    for values in response.values():
        v = np.asarray(values, dtype=float)
        if abs(v[-1] - v[0]) > 1e-9:
            curves.append((v - v[0]) / (v[-1] - v[0]))
    return np.mean(curves, axis=0) if curves else None


def fit_intensity_power(response: dict[str, Sequence[float]], levels: Sequence[float] = LEVELS,
                        powers: np.ndarray = POWERS) -> float:
    """The power ``p`` for which the :func:`normalised_response` at weight ``a**p`` is closest to ``a`` (least
    squares over the inner levels; linear between levels); 1 when no measure moves."""
    mean = normalised_response(response)
    if mean is None:
        return 1.0
    x = np.asarray(levels, dtype=float)
    inner = x[1:-1]
    errors = [float(np.sum((np.interp(inner**p, x, mean) - inner) ** 2)) for p in powers]
    return float(powers[int(np.argmin(errors))])


def calibrate_intensity(pipe: EmoMusicPipeline, clips: Sequence[MusicClip], count: int = 200, bars: int = 16,
                        seed: int = 7_000_000, batch: int = 10) -> dict[str, dict[str, Any]]:
    """Per quadrant category: the fitted ``power``, the ``measures`` it was fitted on (the critic's target
    probability and the statistics the quadrant's real ``clips`` move) and their ``response`` at :data:`LEVELS`."""
    moving = moving_statistics(clips, bars)
    out: dict[str, dict[str, Any]] = {}
    for k, cat in enumerate(QUADRANT_CATEGORIES):
        response = intensity_response(pipe, cat, count, bars, LEVELS, seed + 1_000_000 * k, batch)
        measures = ["critic_target", *moving.get(cat, {})]
        power = fit_intensity_power({m: response[m] for m in measures})
        out[cat] = {"power": power, "measures": measures, "response": response}
    return out
