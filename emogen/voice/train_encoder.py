"""Training and evaluation of the speech emotion encoder on RAVDESS with a speaker-independent split.

Loss per utterance of category k and RAVDESS intensity level (target intensity ``a``: 1.0 strong,
``normal_intensity`` normal, 0 neutral):

- cross-entropy over the bank's Gaussian log-likelihoods (the bank stays fixed: the encoder learns to
  land in its Gaussians);
- MSE between the bank's VAD read-out and ``a * anchor_vad[k]`` (the VAD of the directional target);
- MSE between the projected intensity along k and ``a`` (so strong clips land further out);
- an adversarial speaker classifier behind a gradient-reversal layer, so the embedding carries
  emotion and not identity.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..emotion import EmotionBank
from ..modules.gradient_reversal import GradientReversal
from .dataset import ClipFeatures
from .encoder import SpeechEmotionEncoder

__all__ = ["EncoderTrainConfig", "embed_clips", "evaluate_encoder", "speaker_probe", "train_encoder"]

logger = logging.getLogger(__name__)


@dataclass
class EncoderTrainConfig:
    """Hyper-parameters of :func:`train_encoder` (defaults reproduce the shipped checkpoint)."""

    train_actors: tuple[int, ...] = tuple(range(1, 17))
    val_actors: tuple[int, ...] = (17, 18)
    epochs: int = 40
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    crop_frames: int = 250
    normal_intensity: float = 0.6
    vad_weight: float = 1.0
    intensity_weight: float = 1.0
    speaker_weight: float = 0.3
    seed: int = 0
    encoder_kwargs: dict = field(default_factory=dict)


def _targets(items: list[ClipFeatures], bank: EmotionBank, normal_intensity: float) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.tensor([bank.category_index(c.clip.emotion) for c in items])
    amount = torch.tensor(
        [0.0 if c.clip.emotion == "neutral" else (1.0 if c.clip.intensity == "strong" else normal_intensity) for c in items]
    )
    return labels, amount


def _batch(items: list[ClipFeatures], crop: int | None, rng: np.random.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    seqs = []
    for c in items:
        x = c.encoder
        if crop is not None and rng is not None and len(x) > crop:
            start = int(rng.integers(0, len(x) - crop + 1))
            x = x[start : start + crop]
        seqs.append(x)
    length = max(len(s) for s in seqs)
    feats = np.zeros((len(seqs), length, seqs[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(seqs), length), dtype=np.float32)
    for n, s in enumerate(seqs):
        feats[n, : len(s)] = s
        mask[n, : len(s)] = 1.0
    return torch.from_numpy(feats).transpose(1, 2), torch.from_numpy(mask)


@torch.no_grad()
def embed_clips(encoder: SpeechEmotionEncoder, items: list[ClipFeatures], batch_size: int = 32) -> torch.Tensor:
    """Embeddings of whole clips, shape `(N, D)` (eval mode)."""
    encoder.eval()
    out = []
    for start in range(0, len(items), batch_size):
        feats, mask = _batch(items[start : start + batch_size], None, None)
        out.append(encoder(feats, mask).embedding)
    return torch.cat(out)


def evaluate_encoder(encoder: SpeechEmotionEncoder, bank: EmotionBank, items: list[ClipFeatures]) -> dict[str, float]:
    """8-class accuracy, unweighted average recall (UAR) and mean projected intensity of strong vs normal clips."""
    emb = embed_clips(encoder, items)
    ravdess_classes = sorted({c.clip.emotion for c in items}, key=bank.category_index)
    allowed = torch.tensor([bank.category_index(n) for n in ravdess_classes])
    with torch.no_grad():
        ll = bank.log_likelihood(emb)[:, allowed]
    pred = [ravdess_classes[i] for i in ll.argmax(-1).tolist()]
    truth = [c.clip.emotion for c in items]
    acc = float(np.mean([p == t for p, t in zip(pred, truth)]))
    recalls = [np.mean([p == t for p, t in zip(pred, truth) if t == k]) for k in ravdess_classes]
    strong, normal = [], []
    with torch.no_grad():
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


def pooled_raw_features(items: list[ClipFeatures]) -> np.ndarray:
    """The encoder's raw input summarised per clip (mean and std of every channel), for the probe baseline."""
    return np.stack([np.concatenate([c.encoder.mean(0), c.encoder.std(0)]) for c in items])


def train_encoder(
    train_items: list[ClipFeatures],
    val_items: list[ClipFeatures],
    bank: EmotionBank,
    config: EncoderTrainConfig,
    accelerator=None,
) -> tuple[SpeechEmotionEncoder, dict[str, float]]:
    """Train the encoder; returns the weights with the best validation UAR and their validation scores."""
    torch.manual_seed(config.seed)  # training script only: the library itself never seeds globally
    rng = np.random.default_rng(config.seed)
    encoder = SpeechEmotionEncoder(**config.encoder_kwargs)
    stacked = np.concatenate([c.encoder for c in train_items])
    encoder.feature_mean.copy_(torch.from_numpy(stacked.mean(0)))
    encoder.feature_std.copy_(torch.from_numpy(stacked.std(0) + 1e-3))
    bank.requires_grad_(False)
    speakers = sorted({c.clip.actor for c in train_items})
    speaker_index = {a: i for i, a in enumerate(speakers)}
    reverse = GradientReversal(0.0)
    speaker_head = nn.Sequential(nn.Linear(encoder.config.embedding_dim, 64), nn.ReLU(), nn.Linear(64, len(speakers)))
    params = list(encoder.parameters()) + list(speaker_head.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_items) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch)
    if accelerator is not None:
        encoder, speaker_head, optimizer = accelerator.prepare(encoder, speaker_head, optimizer)
    best_uar, best_state, best_scores = -1.0, None, {}
    directions = bank.directions
    anchors = bank.anchor_vad
    start = time.time()
    for epoch in range(config.epochs):
        encoder.train()
        speaker_head.train()
        reverse.scale = config.speaker_weight * min(1.0, epoch / max(1, config.epochs // 4))
        order = rng.permutation(len(train_items))
        totals = np.zeros(4)
        for b in range(steps_per_epoch):
            items = [train_items[i] for i in order[b * config.batch_size : (b + 1) * config.batch_size]]
            feats, mask = _batch(items, config.crop_frames, rng)
            feats = feats + 0.1 * torch.randn(feats.shape[0], feats.shape[1], 1)  # small channel/gain jitter
            labels, amount = _targets(items, bank, config.normal_intensity)
            emb = encoder(feats, mask).embedding
            ce = nn.functional.cross_entropy(bank.log_likelihood(emb), labels)
            vad = nn.functional.mse_loss(bank.vad(emb), amount[:, None] * anchors[labels])
            d = directions[labels]
            proj = ((emb - bank.means[0]) * d).sum(-1) / (d * d).sum(-1).clamp_min(1e-8)
            emotional = labels > 0
            inten = nn.functional.mse_loss(proj[emotional], amount[emotional]) if emotional.any() else emb.sum() * 0
            spk_labels = torch.tensor([speaker_index[c.clip.actor] for c in items])
            spk = nn.functional.cross_entropy(speaker_head(reverse(emb)), spk_labels)
            loss = ce + config.vad_weight * vad + config.intensity_weight * inten + spk
            optimizer.zero_grad()
            if accelerator is not None:
                accelerator.backward(loss)
            else:
                loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            optimizer.step()
            scheduler.step()
            totals += [ce.item(), vad.item(), inten.item(), spk.item()]
        scores = evaluate_encoder(encoder, bank, val_items)
        logger.info(
            "epoch %d ce %.3f vad %.3f int %.3f spk %.3f | val acc %.3f uar %.3f strong %.2f normal %.2f (%.0f s)",
            epoch, *(totals / steps_per_epoch), scores["accuracy"], scores["uar"],
            scores["intensity_strong"], scores["intensity_normal"], time.time() - start,
        )
        if scores["uar"] > best_uar:
            best_uar, best_scores = scores["uar"], scores
            best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    encoder.load_state_dict(best_state)
    encoder.eval()
    return encoder, best_scores
