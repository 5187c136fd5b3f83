"""Scores of the speech emotion encoder on cached RAVDESS clips (used by the training recipe and the benchmarks).

- :func:`pad_frames`: variable-length feature frames -> a padded batch and its mask;
- :func:`embed_clips`, :func:`evaluate_encoder`: embeddings and the 8-class accuracy, UAR and intensities;
- :func:`speaker_probe`, :func:`pooled_raw_features`: how much speaker identity an embedding keeps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..data.ravdess import RAVDESS_CATEGORIES
from ..emotion import EmotionBank
from .dataset import ClipFeatures
from .encoder import SpeechEmotionEncoder

__all__ = ["embed_clips", "evaluate_encoder", "pad_frames", "pooled_raw_features", "speaker_probe"]


def pad_frames(sequences: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames `(T_i, C)` of each clip -> features `(B, C, T)` zero-padded to the longest, and mask `(B, T)`."""
    length = max(len(s) for s in sequences)
    feats = np.zeros((len(sequences), length, sequences[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(sequences), length), dtype=np.float32)
    for n, s in enumerate(sequences):
        feats[n, : len(s)] = s
        mask[n, : len(s)] = 1.0
    return torch.from_numpy(feats).transpose(1, 2), torch.from_numpy(mask)


@torch.no_grad()
def embed_clips(encoder: SpeechEmotionEncoder, items: Sequence[ClipFeatures], batch_size: int = 32) -> torch.Tensor:
    """Embeddings of whole clips, shape `(N, D)` on the CPU (the encoder is put in eval mode)."""
    encoder.eval()
    device = encoder.feature_mean.device
    out = []
    for start in range(0, len(items), batch_size):
        feats, mask = pad_frames([c.encoder for c in items[start : start + batch_size]])
        out.append(encoder(feats.to(device), mask.to(device)).embedding.cpu())
    return torch.cat(out)


@torch.no_grad()
def evaluate_encoder(encoder: SpeechEmotionEncoder, bank: EmotionBank, items: Sequence[ClipFeatures]) -> dict[str, float]:
    """8-class accuracy, unweighted average recall (UAR) and mean projected intensity of strong vs normal clips.

    The prediction is the most likely RAVDESS category under the bank posterior over
    :data:`~emogen.data.ravdess.RAVDESS_CATEGORIES`; UAR averages the recall of the categories present.
    """
    emb = embed_clips(encoder, items).to(bank.means.device)
    pred = [RAVDESS_CATEGORIES[i] for i in bank.posterior(emb, RAVDESS_CATEGORIES).argmax(-1).tolist()]
    truth = [c.clip.emotion for c in items]
    present = [k for k in RAVDESS_CATEGORIES if k in set(truth)]
    acc = float(np.mean([p == t for p, t in zip(pred, truth)]))
    recalls = [np.mean([p == t for p, t in zip(pred, truth) if t == k]) for k in present]
    strong, normal = [], []
    for e, c in zip(emb, items):
        if c.clip.emotion == "neutral":
            continue
        value = float(bank.project_intensity(e[None], c.clip.emotion)[0])
        (strong if c.clip.intensity == "strong" else normal).append(value)
    return {
        "accuracy": acc,
        "uar": float(np.mean(recalls)),
        "intensity_strong": float(np.mean(strong)) if strong else math.nan,
        "intensity_normal": float(np.mean(normal)) if normal else math.nan,
    }


def speaker_probe(features: np.ndarray, speakers: np.ndarray, seed: int = 0) -> float:
    """Cross-validated (5-fold) accuracy of a linear speaker-ID probe (logistic regression on standardised inputs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(probe, features, speakers, cv=folds).mean())


def pooled_raw_features(items: Sequence[ClipFeatures]) -> np.ndarray:
    """The encoder's raw input summarised per clip (mean and std of every channel), for the probe baseline."""
    return np.stack([np.concatenate([c.encoder.mean(0), c.encoder.std(0)]) for c in items])
