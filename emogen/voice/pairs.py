"""Conversion pairs: neutral -> emotion clips of the same speaker and sentence, aligned by DTW.

Pairs: every neutral clip of a speaker and sentence with every emotional clip of the same speaker and
sentence (RAVDESS: both repetitions, both intensity levels; nEMO: one clip per emotion, whose acted
intensity is not labelled), plus neutral -> neutral pairs at intensity 0. The
target's features are mapped onto the source's 20 ms frames along the DTW path on the mel-cepstrum; a pair
holds the source's condition features and the (lightly smoothed) deltas of log-F0, energy and low-order
mel-cepstrum that the conversion denoiser learns.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..data.nemo import NEMO_INTENSITY, NemoClip
from ..data.ravdess import RavdessClip
from .dataset import ClipFeatures
from .denoiser import condition_features, pool_frames
from .dtw import align_to_source, dtw_path
from .world import continuous_log_f0

__all__ = ["ConversionPair", "build_pairs", "make_pair", "pair_group", "rate_slopes", "target_amount"]


@dataclass
class ConversionPair:
    """One aligned training pair at the model frame rate."""

    condition: np.ndarray  # (frames, cond_channels) raw source features
    delta: np.ndarray  # (frames, out_channels) raw target - source deltas
    spec: str  # emotion spec of the target, e.g. "angry:1"
    log_duration_ratio: float  # log(target seconds / source seconds)
    emotion: str
    amount: float
    corpus: str = "ravdess"


def _smooth(x: np.ndarray, taps: int = 5) -> np.ndarray:
    window = np.hanning(taps + 2)[1:-1]
    window /= window.sum()
    padded = np.pad(x, ((taps // 2, taps // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, c], window, mode="valid") for c in range(x.shape[1])], axis=1)


def make_pair(source: ClipFeatures, target: ClipFeatures, spec: str, amount: float, num_modified_mcep: int, utterance_norm: bool = True,
              corpus: str = "ravdess") -> ConversionPair:
    """DTW-align ``target`` onto ``source`` and compute the smoothed feature deltas."""
    cond = condition_features(source.world, utterance_norm)
    src_lf0 = pool_frames(continuous_log_f0(source.world.f0)[:, None])[:, 0]
    tgt_lf0 = pool_frames(continuous_log_f0(target.world.f0)[:, None])[:, 0]
    src_mcep = pool_frames(source.world.mcep)
    tgt_mcep = pool_frames(target.world.mcep)
    path_i, path_j = dtw_path(src_mcep[:, 1:25], tgt_mcep[:, 1:25])
    tgt = np.concatenate([tgt_lf0[:, None], tgt_mcep[:, :num_modified_mcep]], axis=1)
    src = np.concatenate([src_lf0[:, None], src_mcep[:, :num_modified_mcep]], axis=1)
    delta = _smooth(align_to_source(path_i, path_j, tgt, len(src)) - src).astype(np.float32)
    return ConversionPair(
        condition=cond,
        delta=delta,
        spec=spec,
        log_duration_ratio=float(np.log(target.seconds / source.seconds)),
        emotion=target.clip.emotion,
        amount=amount,
        corpus=corpus,
    )


def pair_group(clip: RavdessClip | NemoClip) -> tuple[str, tuple]:
    """The corpus of a clip and its parallel group: RAVDESS (actor, statement), nEMO (speaker, sentence)."""
    if isinstance(clip, NemoClip):
        return "nemo", (clip.speaker, clip.sentence)
    return "ravdess", (clip.actor, clip.statement)


def target_amount(clip: RavdessClip | NemoClip, normal_intensity: float, unlabelled_intensity: float = NEMO_INTENSITY) -> float:
    """The intensity an emotional clip stands for: RAVDESS strong 1.0 / normal ``normal_intensity``, nEMO
    (not labelled) ``unlabelled_intensity``."""
    if isinstance(clip, NemoClip):
        return unlabelled_intensity
    return 1.0 if clip.intensity == "strong" else normal_intensity


def build_pairs(items: list[ClipFeatures], normal_intensity: float, num_modified_mcep: int, utterance_norm: bool = True,
                unlabelled_intensity: float = NEMO_INTENSITY) -> list[ConversionPair]:
    """All neutral -> emotion pairs (same speaker and sentence) and neutral -> neutral pairs of ``items``.

    A RAVDESS target is at intensity 1.0 (strong) or ``normal_intensity``; an nEMO target, whose intensity
    is not labelled, at ``unlabelled_intensity`` (as the speech critic's recipe reads it).
    """
    by_key: dict[tuple, list[ClipFeatures]] = defaultdict(list)
    for item in items:
        corpus, group = pair_group(item.clip)
        by_key[(corpus, *group)].append(item)
    pairs = []
    for (corpus, *_), group in by_key.items():
        sources = [g for g in group if g.clip.emotion == "neutral"]
        for source in sources:
            for target in group:
                if target.clip.emotion == "neutral":
                    spec, amount = "neutral:1", 0.0
                else:
                    amount = target_amount(target.clip, normal_intensity, unlabelled_intensity)
                    spec = f"{target.clip.emotion}:{amount:g}"
                pairs.append(make_pair(source, target, spec, amount, num_modified_mcep, utterance_norm, corpus))
    return pairs


def rate_slopes(pairs: list[ConversionPair], categories: list[str], corpora: tuple[str, ...] | None = None) -> list[float]:
    """Least-squares log-duration change per unit intensity for each category (0 where no data), from the
    pairs of ``corpora`` (default: all)."""
    slopes = []
    for name in categories:
        rows = [(p.amount, p.log_duration_ratio) for p in pairs if p.emotion == name and p.amount > 0 and (corpora is None or p.corpus in corpora)]
        if not rows:
            slopes.append(0.0)
            continue
        a, r = np.array(rows).T
        slopes.append(float((a * r).sum() / (a * a).sum()))
    return slopes
