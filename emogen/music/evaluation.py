"""Scores of the music models on EMOPIA clips (used by the training recipe and the benchmarks).

- :func:`vq_loss_terms`, :func:`evaluate_vqvae`: VQ-VAE reconstruction losses, onset F1, codebook use;
- :func:`encode_clips`, :func:`prior_nll`: code sequences and the prior's held-out likelihood;
- :func:`critic_probabilities`, :func:`critic_predict`, :func:`quadrant_scores`: the critic's quadrant
  read-out (the bank posterior over the quadrant categories) and its accuracies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data.emopia import QUADRANT_CATEGORIES
from ..emotion import EmotionBank
from .critic import MusicEmotionEncoder
from .dataset import MusicClip, stack_grids, transpose_tensor
from .prior import EmotionCodePrior
from .representation import BarGrid
from .vqvae import ElementVQVAE

__all__ = ["bars_of", "critic_predict", "critic_probabilities", "encode_clips", "evaluate_vqvae", "prior_nll", "quadrant_scores", "vq_loss_terms"]


def bars_of(clips: Sequence[MusicClip]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every bar of ``clips`` stacked: onsets (bool), durations and velocities (int64), each `(bars, ...)`."""
    onsets = torch.from_numpy(np.concatenate([c.grid.onsets for c in clips]))
    durations = torch.from_numpy(np.concatenate([c.grid.durations for c in clips]).astype(np.int64))
    velocities = torch.from_numpy(np.concatenate([c.grid.velocities for c in clips]).astype(np.int64))
    return onsets, durations, velocities


def vq_loss_terms(model: ElementVQVAE, onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reconstruction (onset BCE; duration/velocity CE at onsets) and VQ losses of a batch of bars, plus the codes."""
    out = model(onsets, durations, velocities)
    on = onsets.float()
    cells = on.shape[1] * on.shape[2]
    bce = F.binary_cross_entropy_with_logits(out.logits.onset, on, reduction="mean") * cells / 16.0
    sel = onsets.bool()
    dur = F.cross_entropy(out.logits.duration[sel], durations[sel]) if sel.any() else on.sum() * 0
    vel = F.cross_entropy(out.logits.velocity[sel], velocities[sel]) if sel.any() else on.sum() * 0
    return {"onset": bce, "duration": dur, "velocity": vel, "vq": out.vq_loss, "codes": out.codes}


@torch.no_grad()
def evaluate_vqvae(model: ElementVQVAE, clips: Sequence[MusicClip]) -> dict[str, float]:
    """Held-out reconstruction: onset BCE and F1 (at p > 0.3), duration/velocity CE, codes used per codebook."""
    onsets, durations, velocities = bars_of(clips)
    terms = vq_loss_terms(model, onsets, durations, velocities)
    logits = model(onsets, durations, velocities).logits
    pred = logits.onset > -0.85  # p > 0.3: onsets are sparse, 0.5 is too strict
    tp = (pred & onsets).sum().item()
    f1 = 2 * tp / max(pred.sum().item() + onsets.sum().item(), 1)
    codes = terms["codes"]
    used = [len(torch.unique(codes[:, i])) for i in range(codes.shape[1])]
    return {"onset_bce": round(terms["onset"].item(), 4), "onset_f1": round(f1, 4),
            "duration_ce": round(terms["duration"].item(), 4), "velocity_ce": round(terms["velocity"].item(), 4),
            "codes_used": used}


@torch.no_grad()
def encode_clips(model: ElementVQVAE, clips: Sequence[MusicClip], transpositions: Sequence[int]) -> list[tuple[torch.Tensor, str]]:
    """Codes `(bars, tokens)` of every clip under every transposition, with the clip's category."""
    out = []
    for clip in clips:
        grid = [torch.from_numpy(a.astype(np.int64) if a.dtype != bool else a) for a in (clip.grid.onsets, clip.grid.durations, clip.grid.velocities)]
        for shift in transpositions:
            out.append((model.encode(*(transpose_tensor(x, shift) for x in grid)), clip.category))
    return out


@torch.no_grad()
def prior_nll(model: EmotionCodePrior, sequences: Sequence[tuple[torch.Tensor, str]], bank: EmotionBank, conditioned: bool = True) -> float:
    """Mean negative log-likelihood per code of held-out sequences (their first ``max_bars`` bars)."""
    total, count = 0.0, 0
    t = model.config.max_bars
    for seq, cat in sequences:
        codes = seq[None, :t]
        cond = bank.condition(cat)
        mask = cond.mask if conditioned else torch.zeros(1)
        logits = model(codes, cond.embedding, mask).logits
        for i, lg in enumerate(logits):
            total += F.cross_entropy(lg[0], codes[0, :, i], reduction="sum").item()
        count += codes.shape[1] * codes.shape[2]
    return total / max(count, 1)


@torch.no_grad()
def critic_probabilities(critic: MusicEmotionEncoder, bank: EmotionBank, grids: Sequence[BarGrid], max_bars: int = 64,
                         batch: int = 32) -> np.ndarray:
    """`(n, 4)` quadrant probabilities (Q1..Q4) the critic gives each grid (its first ``max_bars`` bars):
    the bank posterior over the quadrant categories, as the pipeline reads it."""
    device = next(critic.parameters()).device
    out = []
    for i in range(0, len(grids), batch):
        part = grids[i : i + batch]
        o, d, v, m = (x.to(device) for x in stack_grids(list(part), min(max(g.num_bars for g in part), max_bars)))
        out.append(bank.posterior(critic(o, d, v, m).embedding, QUADRANT_CATEGORIES).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(QUADRANT_CATEGORIES)))


@torch.no_grad()
def critic_predict(critic: MusicEmotionEncoder, bank: EmotionBank, grids: Sequence[BarGrid], max_bars: int = 64) -> np.ndarray:
    """Quadrant index (0-3 for Q1..Q4) the critic gives each grid: the bank posterior over the quadrant categories."""
    return critic_probabilities(critic, bank, grids, max_bars).argmax(1)


def quadrant_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """4-quadrant accuracy and the arousal (Q1,Q2 vs Q3,Q4) and valence (Q1,Q4 vs Q2,Q3) accuracies."""
    arousal = lambda q: np.isin(q, [0, 1])  # noqa: E731
    valence = lambda q: np.isin(q, [0, 3])  # noqa: E731
    return {"quadrant": float(np.mean(pred == true)), "arousal": float(np.mean(arousal(pred) == arousal(true))),
            "valence": float(np.mean(valence(pred) == valence(true)))}
