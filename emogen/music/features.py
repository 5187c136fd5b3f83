"""Per-bar element summaries (torch): what each element's encoder and the music critic read.

Each element sequence is summarised on its own, so the VQ-VAE's latent slice for an element only ever
sees that element (the MusER-style tie between elements and latent dimensions):

* rhythm: onset counts at each of the 16 positions in four registers split at C3, C4 and C5 (64 values);
* pitch: which of the 88 keys start a note in each beat (4 x 88 values), with no timing inside the beat;
* duration: mean duration class at each position and the bar's duration-class histogram (26 values);
* velocity: mean velocity bin at each position and the bar's velocity histogram (32 values).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .representation import DURATION_CLASSES, NUM_PITCHES, NUM_VELOCITY_BINS, POSITIONS_PER_BAR

__all__ = ["ELEMENTS", "ELEMENT_INPUT_SIZES", "REGISTER_SPLITS", "element_inputs"]

#: The musical elements, in the order of the latent slices and of the prior's tokens within a bar.
ELEMENTS: tuple[str, ...] = ("rhythm", "pitch", "duration", "velocity")
#: Indices of C3, C4, C5 on the 88-key axis: the register splits of the rhythm summary.
REGISTER_SPLITS = (48 - 21, 60 - 21, 72 - 21)
#: Index of C4 (MIDI 60) on the 88-key axis.
SPLIT_PITCH_INDEX = 60 - 21
BEATS_PER_BAR = 4
_NUM_DUR = len(DURATION_CLASSES)
ELEMENT_INPUT_SIZES: dict[str, int] = {
    "rhythm": (len(REGISTER_SPLITS) + 1) * POSITIONS_PER_BAR,
    "pitch": BEATS_PER_BAR * NUM_PITCHES,
    "duration": POSITIONS_PER_BAR + _NUM_DUR,
    "velocity": POSITIONS_PER_BAR + NUM_VELOCITY_BINS,
}


def element_inputs(onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor) -> dict[str, torch.Tensor]:
    """Summaries of `(N, 16, 88)` bars (onsets as 0/1 floats, durations/velocities as class indices).

    Returns one `(N, ELEMENT_INPUT_SIZES[e])` float tensor per element name.
    """
    on = onsets.float()
    n = on.shape[0]
    per_pos = on.sum(-1).clamp_min(1.0)
    edges = (0, *REGISTER_SPLITS, NUM_PITCHES)
    rhythm = torch.cat([on[..., a:b].sum(-1) for a, b in zip(edges[:-1], edges[1:])], dim=-1) / 2.0
    pitch = on.view(n, BEATS_PER_BAR, POSITIONS_PER_BAR // BEATS_PER_BAR, NUM_PITCHES).amax(2).flatten(1)
    count = on.sum((1, 2)).clamp_min(1.0)[:, None]
    dur_onehot = F.one_hot(durations.long(), _NUM_DUR).float() * on[..., None]
    dur_mean = (durations.float() * on).sum(-1) / per_pos / (_NUM_DUR - 1)
    duration = torch.cat([dur_mean, dur_onehot.sum((1, 2)) / count], dim=-1)
    vel_onehot = F.one_hot(velocities.long(), NUM_VELOCITY_BINS).float() * on[..., None]
    vel_mean = (velocities.float() * on).sum(-1) / per_pos / (NUM_VELOCITY_BINS - 1)
    velocity = torch.cat([vel_mean, vel_onehot.sum((1, 2)) / count], dim=-1)
    return {"rhythm": rhythm, "pitch": pitch, "duration": duration, "velocity": velocity}
