"""EMOPIA clips as bar grids with their quadrant (and category), for training and evaluation."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ..data.emopia import QUADRANT_EMOTIONS, load_emopia
from .features import clip_keys
from .representation import BarGrid, events_from_midi, grid_from_events

__all__ = ["MusicClip", "grid_key", "grid_tensors", "load_music_clips", "stack_grids", "transpose_tensor"]


@dataclass
class MusicClip:
    """One EMOPIA clip read into a :class:`BarGrid`."""

    name: str
    quadrant: str
    split: str
    grid: BarGrid

    @property
    def category(self) -> str:
        """The emogen category of the clip's quadrant (Q1 happy, Q2 angry, Q3 sad, Q4 calm)."""
        return QUADRANT_EMOTIONS[self.quadrant]


def load_music_clips(split: str | None = None, root: str | os.PathLike[str] | None = None, limit: int | None = None) -> list[MusicClip]:
    """Read EMOPIA clips of ``split`` (train/val/test, or all) as bar grids (a few seconds for all 1078).

    ``limit`` keeps that many clips evenly spaced over the (quadrant-sorted) list, so all quadrants appear.
    """
    found = load_emopia(root, split=split)
    if limit is not None and limit < len(found):
        found = [found[int(i * len(found) / limit)] for i in range(limit)]
    clips = []
    for clip in found:
        grid = grid_from_events(events_from_midi(clip.path))
        clips.append(MusicClip(name=clip.name, quadrant=clip.quadrant, split=clip.split, grid=grid))
    return clips


def stack_grids(grids: list[BarGrid], num_bars: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad/crop grids to ``num_bars`` (default: the longest) -> onsets, durations, velocities `(B, T, 16, 88)`
    and a bar mask `(B, T)`."""
    t = num_bars or max(g.num_bars for g in grids)
    shape = (len(grids), t, *grids[0].onsets.shape[1:])
    onsets = np.zeros(shape, dtype=bool)
    durations = np.zeros(shape, dtype=np.int64)
    velocities = np.zeros(shape, dtype=np.int64)
    mask = np.zeros((len(grids), t), dtype=np.float32)
    for i, g in enumerate(grids):
        n = min(t, g.num_bars)
        onsets[i, :n], durations[i, :n], velocities[i, :n], mask[i, :n] = g.onsets[:n], g.durations[:n], g.velocities[:n], 1.0
    return torch.from_numpy(onsets), torch.from_numpy(durations), torch.from_numpy(velocities), torch.from_numpy(mask)


def grid_tensors(grid: BarGrid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One piece's onsets (bool), durations and velocities (int64) as `(T, 16, 88)` tensors, what the models read."""
    return (torch.from_numpy(grid.onsets), torch.from_numpy(grid.durations.astype(np.int64)),
            torch.from_numpy(grid.velocities.astype(np.int64)))


def grid_key(grid: BarGrid) -> int:
    """The Krumhansl-Schmuckler key of a piece, ``12 * minor + tonic pitch class`` (see :func:`.features.clip_keys`)."""
    onsets, durations, _ = grid_tensors(grid)
    return int(clip_keys(onsets[None], durations[None])[0])


def transpose_tensor(x: torch.Tensor, semitones: int) -> torch.Tensor:
    """Shift the last (pitch) axis by ``semitones``, zero-filling (notes leaving the range are dropped)."""
    if semitones == 0:
        return x
    out = torch.zeros_like(x)
    if semitones > 0:
        out[..., semitones:] = x[..., :-semitones]
    else:
        out[..., :semitones] = x[..., -semitones:]
    return out
