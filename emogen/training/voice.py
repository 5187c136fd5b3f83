"""The voice recipe: feature cache -> speech emotion encoder -> conversion denoiser -> pipeline folder.

``emogen train voice --output checkpoints/voice`` runs :func:`train_voice`, which reproduces the shipped
checkpoint (see its model card) on a 2-core CPU in well under an hour; both models train through
:func:`~emogen.training.fit`, so the same code runs on GPUs through accelerate. Split by actor: train
01-16, validation 17-18, test 19-20.

Encoder loss per utterance of category k and RAVDESS intensity level (target intensity ``a``: 1.0
strong, ``normal_intensity`` normal, 0 neutral): cross-entropy over the bank's Gaussian log-likelihoods
(the bank stays fixed), MSE between the bank's VAD read-out and ``a * anchor_vad[k]``, MSE between the
projected intensity along k and ``a``, and an adversarial speaker classifier behind a gradient-reversal
layer. Converter loss: v-prediction MSE on DTW-aligned neutral -> emotion pairs
(:mod:`emogen.voice.pairs`), conditioned on the bank embedding of the target, with
:class:`~emogen.emotion.EmotionDropout` for classifier-free guidance.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..emotion import EmotionBank, EmotionDropout
from ..modules import GradientReversal
from ..schedulers import DDIMScheduler
from ..voice.dataset import ClipFeatures, build_cache
from ..voice.denoiser import VoiceConversionDenoiser
from ..voice.encoder import SpeechEmotionEncoder
from ..voice.evaluation import embed_clips, evaluate_encoder, pad_frames, pooled_raw_features, speaker_probe
from ..voice.pairs import ConversionPair, build_pairs, rate_slopes
from .cards import voice_model_card
from .loop import FitConfig, FitResult, GeneratorState, seeded_init
from .recipe import TrainRun, finish_recipe, train_state_dir
from .sampling import EpochSampler

__all__ = ["ConverterTrainConfig", "EncoderTrainConfig", "VoiceTrainConfig", "make_scheduler", "train_converter", "train_encoder", "train_voice"]

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


@dataclass
class VoiceTrainConfig:
    """The whole recipe: the feature cache folder, the test actors and both models' hyper-parameters."""

    cache: str = "runs/voice_cache"
    test_actors: tuple[int, ...] = (19, 20)
    encoder: EncoderTrainConfig = field(default_factory=EncoderTrainConfig)
    converter: ConverterTrainConfig = field(default_factory=ConverterTrainConfig)


def make_scheduler(num_train_timesteps: int = 1000) -> DDIMScheduler:
    """The noise schedule the denoiser trains and samples with (cosine, v-prediction, DDIM sampling)."""
    return DDIMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                         prediction_type="v_prediction", clip_sample=False)


# --------------------------------------------------------------------------------------------- encoder
def _crop(frames: np.ndarray, crop: int, gen: torch.Generator) -> np.ndarray:
    if len(frames) <= crop:
        return frames
    start = int(torch.randint(0, len(frames) - crop + 1, (1,), generator=gen))
    return frames[start : start + crop]


def _encoder_targets(items: list[ClipFeatures], bank: EmotionBank, normal_intensity: float) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.tensor([bank.category_index(c.clip.emotion) for c in items])
    amount = torch.tensor([0.0 if c.clip.emotion == "neutral" else (1.0 if c.clip.intensity == "strong" else normal_intensity) for c in items])
    return labels, amount


def train_encoder(train_items: list[ClipFeatures], val_items: list[ClipFeatures], bank: EmotionBank, config: EncoderTrainConfig,
                  run: TrainRun | None = None) -> tuple[SpeechEmotionEncoder, dict[str, float], FitResult]:
    """Train the encoder; returns the weights with the best validation UAR, their validation scores and the fit."""
    run = run or TrainRun()
    with seeded_init(config.seed):
        encoder = SpeechEmotionEncoder(**config.encoder_kwargs)
        stacked = np.concatenate([c.encoder for c in train_items])
        encoder.feature_mean.copy_(torch.from_numpy(stacked.mean(0)))
        encoder.feature_std.copy_(torch.from_numpy(stacked.std(0) + 1e-3))
        speakers = sorted({c.clip.actor for c in train_items})
        reverse = GradientReversal(0.0)
        speaker_head = nn.Sequential(nn.Linear(encoder.config.embedding_dim, 64), nn.ReLU(), nn.Linear(64, len(speakers)))
    speaker_index = {a: i for i, a in enumerate(speakers)}
    bank = bank.requires_grad_(False).to(run.device)
    sampler = EpochSampler(len(train_items), config.batch_size)
    device = run.device

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        epoch = i // sampler.steps_per_epoch
        reverse.scale = config.speaker_weight * min(1.0, epoch / max(1, config.epochs // 4))
        items = [train_items[n] for n in sampler.next(gen)]
        feats, mask = pad_frames([_crop(c.encoder, config.crop_frames, gen) for c in items])
        feats = feats + 0.1 * torch.randn(feats.shape[0], feats.shape[1], 1, generator=gen)  # small channel/gain jitter
        labels, amount = (x.to(device) for x in _encoder_targets(items, bank, config.normal_intensity))
        emb = encoder(feats.to(device), mask.to(device)).embedding
        ce = nn.functional.cross_entropy(bank.log_likelihood(emb), labels)
        vad = nn.functional.mse_loss(bank.vad(emb), amount[:, None] * bank.anchor_vad[labels])
        d = bank.directions[labels]
        proj = ((emb - bank.means[0]) * d).sum(-1) / (d * d).sum(-1).clamp_min(1e-8)
        emotional = labels > 0
        inten = nn.functional.mse_loss(proj[emotional], amount[emotional]) if emotional.any() else emb.sum() * 0
        spk_labels = torch.tensor([speaker_index[c.clip.actor] for c in items], device=device)
        spk = nn.functional.cross_entropy(speaker_head(reverse(emb)), spk_labels)
        loss = ce + config.vad_weight * vad + config.intensity_weight * inten + spk
        return {"loss": loss, "ce": ce, "vad": vad, "intensity": inten, "speaker": spk}

    def validate() -> float:
        scores = evaluate_encoder(encoder, bank, val_items)
        logger.info("encoder val: acc %.3f uar %.3f strong %.2f normal %.2f", scores["accuracy"], scores["uar"],
                    scores["intensity_strong"], scores["intensity_normal"])
        return scores["uar"]

    steps = config.epochs * sampler.steps_per_epoch
    fit_config = FitConfig(steps=steps, lr=config.lr, weight_decay=config.weight_decay, max_grad_norm=5.0, pct_start=0.3,
                           log_every=sampler.steps_per_epoch, seed=config.seed, desc="encoder")
    model = nn.ModuleDict({"encoder": encoder, "speaker_head": speaker_head})
    result = run.fit("encoder", model, step, fit_config, validate=validate, validate_every=sampler.steps_per_epoch, stateful=[sampler])
    encoder = encoder.to("cpu").eval()
    bank.to("cpu")
    return encoder, evaluate_encoder(encoder, bank, val_items), result


# ------------------------------------------------------------------------------------------- converter
def _crop_pairs(pairs: list[ConversionPair], crop: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    conds, deltas, masks = [], [], []
    for p in pairs:
        start = int(torch.randint(0, max(1, len(p.delta) - crop + 1), (1,), generator=gen))
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


def train_converter(pairs: list[ConversionPair], bank: EmotionBank, config: ConverterTrainConfig,
                    run: TrainRun | None = None) -> tuple[VoiceConversionDenoiser, DDIMScheduler, FitResult]:
    """Train the denoiser on ``pairs``; returns the model (with statistics and rate slopes), its scheduler and the fit."""
    run = run or TrainRun()
    kwargs = dict(config.denoiser_kwargs)
    kwargs["rate_slopes"] = rate_slopes(pairs, bank.categories)
    with seeded_init(config.seed):
        model = VoiceConversionDenoiser(**kwargs)
    conds, deltas = np.concatenate([p.condition for p in pairs]), np.concatenate([p.delta for p in pairs])
    model.cond_mean.copy_(torch.from_numpy(conds.mean(0)))
    model.cond_std.copy_(torch.from_numpy(conds.std(0) + 1e-3))
    model.delta_std.copy_(torch.from_numpy(deltas.std(0) + 1e-3))
    scheduler = make_scheduler(config.num_train_timesteps)
    dropout = EmotionDropout(config.cfg_dropout, seed=config.seed)
    conditions = {spec: bank.condition(spec) for spec in sorted({p.spec for p in pairs})}
    # neutral pairs are rare: sample them as often as one emotion at one intensity
    weights = torch.tensor([4.0 if p.amount == 0 else 1.0 for p in pairs], dtype=torch.float64)
    alphas = scheduler.alphas_cumprod
    device = run.device

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        batch = [pairs[n] for n in torch.multinomial(weights, config.batch_size, replacement=True, generator=gen).tolist()]
        cond, delta, mask = (x.to(device) for x in _crop_pairs(batch, config.crop_frames, gen))
        x0 = delta / model.delta_std[None, :, None]
        emotion = dropout(type(conditions[batch[0].spec]).cat([conditions[p.spec] for p in batch])).to(device)
        t = torch.randint(0, config.num_train_timesteps, (len(batch),), generator=gen)
        noise = torch.randn(x0.shape, generator=gen).to(device)
        noisy = scheduler.add_noise(x0, noise, t)
        a = alphas[t].sqrt()[:, None, None].to(device)
        s = (1 - alphas[t]).sqrt()[:, None, None].to(device)
        pred = model(noisy, t.to(device), model.normalize_condition(cond), emotion.embedding, emotion.mask).sample
        loss = (((pred - (a * noise - s * x0)) ** 2).mean(1) * mask).sum() / mask.sum()
        return {"loss": loss}

    fit_config = FitConfig(steps=config.steps, lr=config.lr, weight_decay=1e-4, max_grad_norm=1.0, pct_start=0.05,
                           log_every=100, seed=config.seed, desc="converter")
    result = run.fit("converter", model, step, fit_config, stateful=[GeneratorState(dropout.generator)])
    return model.to("cpu").eval(), scheduler, result


# ---------------------------------------------------------------------------------------------- recipe
def train_voice(output: str | os.PathLike[str], config: VoiceTrainConfig | None = None, data_root: str | None = None, *,
                resume: bool = False, checkpoint_every: int | None = None) -> dict:
    """Train the speech encoder and the conversion denoiser on RAVDESS; write the pipeline folder ``output``.

    The feature cache, the split and both models' hyper-parameters come from ``config`` (the shipped
    model's by default); ``resume`` and ``checkpoint_every`` as in :func:`~emogen.training.music.train_music`.
    Returns the scores (encoder validation/test, speaker probes, minutes), also in ``scores.json``.
    """
    from ..pipelines.pipeline_emo_voice import EmoVoicePipeline

    config = config or VoiceTrainConfig()
    run = TrainRun(checkpoint_dir=train_state_dir(output), resume=resume, checkpoint_every=checkpoint_every)
    enc_cfg, conv_cfg = config.encoder, config.converter
    with run.timed("total"):
        with run.timed("cache"):
            items = list(build_cache(config.cache, root=data_root).values())
        logger.info("feature cache ready: %d clips (%.1f min)", len(items), run.minutes["cache"])
        train = [c for c in items if c.clip.actor in enc_cfg.train_actors]
        val = [c for c in items if c.clip.actor in enc_cfg.val_actors]
        test = [c for c in items if c.clip.actor in config.test_actors]
        bank = EmotionBank().eval()

        # 1. speech emotion encoder (the speech critic), probed for speaker identity on unseen actors
        with run.timed("encoder"):
            encoder, val_scores, encoder_fit = train_encoder(train, val, bank, enc_cfg, run)
            test_scores = evaluate_encoder(encoder, bank, test)
            probe_items = val + test
            speakers = np.array([c.clip.actor for c in probe_items])
            probe = {
                "speaker_probe_embedding": speaker_probe(embed_clips(encoder, probe_items).numpy(), speakers),
                "speaker_probe_raw_features": speaker_probe(pooled_raw_features(probe_items), speakers),
                "speaker_probe_chance": 1.0 / len(set(speakers.tolist())),
            }
        logger.info("encoder: val %s test %s probe %s", val_scores, test_scores, probe)

        # 2. conversion denoiser on DTW-aligned pairs of the training actors
        with run.timed("converter"):
            pairs = build_pairs([c for c in items if c.clip.actor in conv_cfg.train_actors], conv_cfg.normal_intensity,
                                conv_cfg.denoiser_kwargs.get("num_modified_mcep", 13), conv_cfg.denoiser_kwargs.get("utterance_norm", False))
            logger.info("%d conversion pairs", len(pairs))
            denoiser, scheduler, converter_fit = train_converter(pairs, bank, conv_cfg, run)

    pipe = EmoVoicePipeline(denoiser=denoiser, scheduler=scheduler, emotion_bank=bank, speech_critic=encoder)
    scores = {
        "encoder_validation": val_scores,
        "encoder_test": test_scores,
        **probe,
        "num_pairs": len(pairs),
        "rate_slopes": dict(zip(bank.categories, denoiser.config.rate_slopes)),
        "minutes": dict(run.minutes),
        "config": json.loads(json.dumps(asdict(config), default=list)),
        "history": {"encoder": encoder_fit.history, "converter": converter_fit.history},
    }
    finish_recipe(pipe, output, scores, voice_model_card, run)
    return scores
