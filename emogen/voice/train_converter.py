"""Training of the conversion denoiser on RAVDESS neutral -> emotion pairs aligned by DTW.

Pairs: every neutral clip of an actor and statement with every emotional clip of the same actor and
statement (both repetitions, both intensity levels), plus neutral -> neutral pairs at intensity 0. The
target's features are mapped onto the source's 20 ms frames along the DTW path on the mel-cepstrum; the
model learns the (lightly smoothed) deltas of log-F0, energy and low-order mel-cepstrum, conditioned on
the bank embedding of the target: category at intensity 1.0 for "strong", ``normal_intensity`` for
"normal", neutral for neutral pairs, with :class:`~emogen.emotion.EmotionDropout` for guidance.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch
from diffusers import DDPMScheduler

from ..emotion import EmotionBank, EmotionDropout
from .dataset import ClipFeatures
from .denoiser import VoiceConversionDenoiser, condition_features, pool_frames
from .dtw import align_to_source, dtw_path
from .world import continuous_log_f0

__all__ = ["ConversionPair", "ConverterTrainConfig", "build_pairs", "rate_slopes", "train_converter"]

logger = logging.getLogger(__name__)


@dataclass
class ConversionPair:
    """One aligned training pair at the model frame rate."""

    condition: np.ndarray  # (frames, cond_channels) raw source features
    delta: np.ndarray  # (frames, out_channels) raw target - source deltas
    spec: str  # emotion spec of the target, e.g. "angry:1"
    log_duration_ratio: float  # log(target seconds / source seconds)
    emotion: str
    amount: float


def _smooth(x: np.ndarray, taps: int = 5) -> np.ndarray:
    window = np.hanning(taps + 2)[1:-1]
    window /= window.sum()
    padded = np.pad(x, ((taps // 2, taps // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, c], window, mode="valid") for c in range(x.shape[1])], axis=1)


def make_pair(source: ClipFeatures, target: ClipFeatures, spec: str, amount: float, num_modified_mcep: int, utterance_norm: bool = True) -> ConversionPair:
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
    )


def build_pairs(items: list[ClipFeatures], normal_intensity: float, num_modified_mcep: int, utterance_norm: bool = True) -> list[ConversionPair]:
    """All neutral -> emotion pairs (same actor and statement) and neutral -> neutral pairs of ``items``."""
    by_key: dict[tuple[int, int], list[ClipFeatures]] = defaultdict(list)
    for item in items:
        by_key[(item.clip.actor, item.clip.statement)].append(item)
    pairs = []
    for group in by_key.values():
        sources = [g for g in group if g.clip.emotion == "neutral"]
        for source in sources:
            for target in group:
                if target.clip.emotion == "neutral":
                    spec, amount = "neutral:1", 0.0
                else:
                    amount = 1.0 if target.clip.intensity == "strong" else normal_intensity
                    spec = f"{target.clip.emotion}:{amount:g}"
                pairs.append(make_pair(source, target, spec, amount, num_modified_mcep, utterance_norm))
    return pairs


def rate_slopes(pairs: list[ConversionPair], categories: list[str]) -> list[float]:
    """Least-squares log-duration change per unit intensity for each category (0 where no data)."""
    slopes = []
    for name in categories:
        rows = [(p.amount, p.log_duration_ratio) for p in pairs if p.emotion == name and p.amount > 0]
        if not rows:
            slopes.append(0.0)
            continue
        a, r = np.array(rows).T
        slopes.append(float((a * r).sum() / (a * a).sum()))
    return slopes


@dataclass
class ConverterTrainConfig:
    """Hyper-parameters of :func:`train_converter` (defaults reproduce the shipped checkpoint)."""

    train_actors: tuple[int, ...] = tuple(range(1, 17))
    steps: int = 4000
    batch_size: int = 32
    crop_frames: int = 128
    lr: float = 1e-3
    normal_intensity: float = 0.6
    cfg_dropout: float = 0.1
    num_train_timesteps: int = 1000
    seed: int = 0
    denoiser_kwargs: dict = field(default_factory=lambda: {"utterance_norm": True})


def make_scheduler(num_train_timesteps: int = 1000) -> DDPMScheduler:
    """The training noise schedule (cosine, v-prediction); inference swaps in DDIM via ``from_config``."""
    return DDPMScheduler(
        num_train_timesteps=num_train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="v_prediction",
        clip_sample=False,
    )


def _crop_batch(pairs: list[ConversionPair], crop: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    conds, deltas, masks = [], [], []
    for p in pairs:
        n = len(p.delta)
        start = int(rng.integers(0, max(1, n - crop + 1)))
        c, d = p.condition[start : start + crop], p.delta[start : start + crop]
        m = np.ones(len(d), dtype=np.float32)
        if len(d) < crop:
            pad = crop - len(d)
            c = np.pad(c, ((0, pad), (0, 0)), mode="edge")
            d = np.pad(d, ((0, pad), (0, 0)))
            m = np.pad(m, (0, pad))
        conds.append(c)
        deltas.append(d)
        masks.append(m)
    as_t = lambda xs: torch.from_numpy(np.stack(xs))  # noqa: E731
    return as_t(conds).transpose(1, 2), as_t(deltas).transpose(1, 2), as_t(masks)


def train_converter(
    pairs: list[ConversionPair], bank: EmotionBank, config: ConverterTrainConfig, accelerator=None
) -> tuple[VoiceConversionDenoiser, DDPMScheduler]:
    """Train the denoiser on ``pairs``; returns the model (with statistics and rate slopes) and its scheduler."""
    torch.manual_seed(config.seed)  # training script only
    rng = np.random.default_rng(config.seed)
    kwargs = dict(config.denoiser_kwargs)
    kwargs["rate_slopes"] = rate_slopes(pairs, bank.categories)
    model = VoiceConversionDenoiser(**kwargs)
    conds = np.concatenate([p.condition for p in pairs])
    deltas = np.concatenate([p.delta for p in pairs])
    model.cond_mean.copy_(torch.from_numpy(conds.mean(0)))
    model.cond_std.copy_(torch.from_numpy(conds.std(0) + 1e-3))
    model.delta_std.copy_(torch.from_numpy(deltas.std(0) + 1e-3))
    scheduler = make_scheduler(config.num_train_timesteps)
    dropout = EmotionDropout(config.cfg_dropout, seed=config.seed)
    conditions = {spec: bank.condition(spec) for spec in sorted({p.spec for p in pairs})}
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    lr_schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.steps, pct_start=0.05)
    if accelerator is not None:
        model, optimizer = accelerator.prepare(model, optimizer)
    # neutral pairs are rare: sample them as often as one emotion at one intensity
    weights = np.array([4.0 if p.amount == 0 else 1.0 for p in pairs])
    weights /= weights.sum()
    alphas = scheduler.alphas_cumprod
    start, running = time.time(), 0.0
    model.train()
    raw = model.module if hasattr(model, "module") else model
    for step in range(config.steps):
        idx = rng.choice(len(pairs), size=config.batch_size, p=weights)
        batch = [pairs[i] for i in idx]
        cond, delta, mask = _crop_batch(batch, config.crop_frames, rng)
        x0 = delta / raw.delta_std[None, :, None]
        emotion = dropout(type(conditions[batch[0].spec]).cat([conditions[p.spec] for p in batch]))
        t = torch.from_numpy(rng.integers(0, scheduler.config.num_train_timesteps, size=len(batch)))
        noise = torch.from_numpy(rng.standard_normal(x0.shape).astype(np.float32))
        noisy = scheduler.add_noise(x0, noise, t)
        a = alphas[t].sqrt()[:, None, None]
        s = (1 - alphas[t]).sqrt()[:, None, None]
        v_target = a * noise - s * x0
        pred = model(noisy, t, raw.normalize_condition(cond), emotion.embedding, emotion.mask).sample
        loss = (((pred - v_target) ** 2).mean(1) * mask).sum() / mask.sum()
        optimizer.zero_grad()
        if accelerator is not None:
            accelerator.backward(loss)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        lr_schedule.step()
        running = 0.98 * running + 0.02 * float(loss.detach()) if step else float(loss.detach())
        if step % 100 == 0 or step == config.steps - 1:
            logger.info("step %d loss %.4f (%.0f s)", step, running, time.time() - start)
    model.eval()
    return raw, scheduler
