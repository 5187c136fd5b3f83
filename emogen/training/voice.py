"""The voice recipe: feature cache -> speech emotion encoder (the critic) -> conversion denoiser -> pipeline folder.

``emogen train voice --output checkpoints/voice`` runs :func:`train_voice`, which reproduces the shipped
checkpoint (see its model card) on a 2-core CPU in well under an hour; both models train through
:func:`~emogen.training.fit`, so the same code runs on GPUs through accelerate. ``--only critic``
retrains just the critic inside an existing pipeline folder (:func:`train_critic_only`), ``--only converter``
just the converter (:func:`train_converter_only`). RAVDESS is split
by actor: train 01-16, validation 17-18, test 19-20; nEMO by speaker (:data:`~emogen.data.nemo.NEMO_SPLITS`).

Critic data (:func:`build_critic_data`): clean clips of RAVDESS and, in the shipped recipe, nEMO (mapped
onto the bank's categories), ``augment_copies`` degraded copies of every training clip
(:mod:`emogen.voice.augment`: speed, EQ, reverberation, band-limiting, noise at -5..30 dB SNR, level,
mp3/Opus), and non-speech negatives (noise, chords, hum, clicks, near-silence, EMOPIA music through the
additive synth). All frames come from :func:`~emogen.voice.recognize.speech_frames`, the function
recognition uses.

Encoder loss per utterance of category k and intensity ``a`` (1.0 strong, ``normal_intensity`` normal,
``unknown_intensity`` for nEMO, 0 neutral): cross-entropy over the bank's Gaussian log-likelihoods
restricted to the critic's categories (the bank stays fixed) against a target that is one-hot smoothed by
``label_smoothing`` (per corpus: ``corpus_smoothing``) for speech, smoothed further toward uniform for
speech below ``smooth_below_snr_db``, and uniform for non-speech; MSE between the bank's VAD read-out and
``a * anchor_vad[k]``, MSE between the projected intensity along k and ``a`` (both on speech at or above
that SNR), and an adversarial speaker classifier behind a gradient-reversal layer. After training, a
temperature fitted on the validation speakers (corpora weighted equally) and an "uncertain" threshold are
stored in the critic's config (:mod:`emogen.calibration`).

Converter loss: v-prediction MSE on DTW-aligned neutral -> emotion pairs of RAVDESS actors 01-16 and
nEMO's training speakers, corpora weighted equally (:mod:`emogen.voice.pairs`), conditioned on the bank embedding of the target, with
:class:`~emogen.emotion.EmotionDropout` for classifier-free guidance.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.nemo import NEMO_INTENSITY, NEMO_SPLITS
from ..emotion import EmotionBank, EmotionDropout
from ..modules import GradientReversal
from ..schedulers import DDIMScheduler
from ..voice.augment import NONSPEECH_KINDS, AugmentConfig
from ..voice.dataset import ClipFeatures, build_cache, build_nemo_cache
from ..voice.denoiser import VoiceConversionDenoiser
from ..voice.encoder import SpeechEmotionEncoder
from ..voice.evaluation import embed_clips, evaluate_encoder, pad_frames, pooled_raw_features, speaker_probe
from ..voice.pairs import ConversionPair, build_pairs, rate_slopes
from .cards import voice_model_card
from .loop import FitConfig, FitResult, GeneratorState, seeded_init
from .recipe import TrainRun, finish_recipe, replace_component, train_state_dir

__all__ = [
    "VOICE_STAGES",
    "ConverterTrainConfig",
    "CriticClip",
    "CriticData",
    "CriticItem",
    "EncoderTrainConfig",
    "VoiceTrainConfig",
    "build_critic_data",
    "converter_pairs",
    "cross_validate_critic",
    "calibrate_critic",
    "evaluate_critic",
    "make_scheduler",
    "ravdess_folds",
    "shipped_encoder_config",
    "train_converter",
    "train_converter_only",
    "train_critic_only",
    "train_encoder",
    "train_voice",
]

logger = logging.getLogger(__name__)

#: The stages ``only=`` runs on their own inside an existing pipeline folder.
VOICE_STAGES: tuple[str, ...] = ("critic", "converter")


@dataclass
class EncoderTrainConfig:
    """Hyper-parameters of :func:`train_encoder` and its data.

    The defaults are the plain RAVDESS-only recipe on the cached clean features (quick; what tests use);
    :func:`shipped_encoder_config` (the default of :class:`VoiceTrainConfig`) adds nEMO, augmentation and
    non-speech negatives and reproduces the shipped critic.

    Args:
        corpora (`tuple[str, ...]`): speech corpora, ``"ravdess"`` and/or ``"nemo"``.
        augment_copies (`int`): degraded copies of every training clip (:class:`~emogen.voice.augment.AugmentConfig`).
        nonspeech_per_kind (`int`): non-speech training clips per kind (EMOPIA music: ``music_clips`` rendered
            clips, ``nonspeech_per_kind`` excerpts in all).
        corpus_weights (`dict[str, float]`): share of each corpus (and ``"nonspeech"``) in the batches.
        smooth_below_snr_db (`float`): speech noisier than this gets a target smoothed toward uniform, by up
            to ``max_smoothing`` at ``smooth_below_snr_db - 10`` dB.
        label_smoothing (`float`): smoothing toward uniform of every speech target (caps how far out the
            embeddings are pushed, so the critic is less sure of itself on unseen speakers);
            ``corpus_smoothing`` overrides it per corpus (a corpus whose unseen speakers are harder to read gets
            more, so one temperature fits every corpus).
        ema_decay (`float`, *optional*): keep an exponential moving average of the weights (validated and
            delivered instead of the raw weights).
        feature_tilt (`float`): half of the training batches' clips get a random spectral tilt of up to this
            much (log-mel units, end to end of the band) on top of the waveform augmentation.
        uncertain_accuracy (`float`): the "uncertain" threshold is the lowest top probability above which
            validation speech (clean and noisy) is right this often.
    """

    train_actors: tuple[int, ...] = tuple(range(1, 17))
    val_actors: tuple[int, ...] = (17, 18)
    epochs: int = 40
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    crop_frames: int = 250
    normal_intensity: float = 0.6
    unknown_intensity: float = NEMO_INTENSITY
    vad_weight: float = 1.0
    intensity_weight: float = 1.0
    speaker_weight: float = 0.3
    seed: int = 0
    encoder_kwargs: dict = field(default_factory=dict)
    corpora: tuple[str, ...] = ("ravdess",)
    augment_copies: int = 0
    augment: dict = field(default_factory=dict)
    nonspeech_per_kind: int = 0
    music_clips: int = 24
    corpus_weights: dict = field(default_factory=lambda: {"ravdess": 1.0, "nemo": 1.0, "nonspeech": 0.3})
    nonspeech_weight: float = 1.0
    smooth_below_snr_db: float = 15.0
    max_smoothing: float = 0.8
    ema_decay: float | None = None
    label_smoothing: float = 0.0
    corpus_smoothing: dict = field(default_factory=dict)
    feature_tilt: float = 0.0
    uncertain_accuracy: float = 0.6

    @property
    def from_audio(self) -> bool:
        """Whether the critic's data are built from audio (nEMO, augmentation or negatives) rather than the RAVDESS feature cache."""
        return self.corpora != ("ravdess",) or self.augment_copies > 0 or self.nonspeech_per_kind > 0


def shipped_encoder_config(**overrides) -> EncoderTrainConfig:
    """The shipped critic's recipe: RAVDESS + nEMO, one augmented copy per training clip, non-speech negatives."""
    settings = {"corpora": ("ravdess", "nemo"), "augment_copies": 2, "augment": {"p_speed": 0.5, "p_eq": 0.5}, "nonspeech_per_kind": 100,
                "epochs": 12, "crop_frames": 200, "encoder_kwargs": {"level_norm": True}, "ema_decay": 0.998, "label_smoothing": 0.1, "corpus_smoothing": {"nemo": 0.5}, "feature_tilt": 1.0}
    settings.update(overrides)
    return EncoderTrainConfig(**settings)


@dataclass
class ConverterTrainConfig:
    """Hyper-parameters of :func:`train_converter` and its pairs (defaults reproduce the shipped checkpoint).

    Args:
        train_actors (`tuple[int, ...]`): RAVDESS actors whose pairs train the converter.
        nemo_speakers (`tuple[str, ...]`): nEMO speakers whose pairs train it too (empty: RAVDESS only).
        unlabelled_intensity (`float`): the intensity of an nEMO target (its acted intensity is not labelled).
        corpus_weights (`dict[str, float]`): share of each corpus in the batches.
        neutral_weight (`dict[str, float]`): sampling weight of a corpus' neutral -> neutral pairs relative to
            one of its emotional pairs.
        rate_corpora (`tuple[str, ...]`): the corpora whose pairs give the speaking-rate slopes (RAVDESS: its
            pairs differ only in emotion and intensity; nEMO's speakers speed up for anger where RAVDESS'
            actors slow down, so pooling would average two opposite habits).
    """

    train_actors: tuple[int, ...] = tuple(range(1, 17))
    nemo_speakers: tuple[str, ...] = NEMO_SPLITS["train"]
    unlabelled_intensity: float = NEMO_INTENSITY
    corpus_weights: dict = field(default_factory=lambda: {"ravdess": 1.0, "nemo": 1.0})
    neutral_weight: dict = field(default_factory=lambda: {"ravdess": 4.0, "nemo": 1.0})
    rate_corpora: tuple[str, ...] = ("ravdess",)
    steps: int = 6000
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
    encoder: EncoderTrainConfig = field(default_factory=shipped_encoder_config)
    converter: ConverterTrainConfig = field(default_factory=ConverterTrainConfig)


def make_scheduler(num_train_timesteps: int = 1000) -> DDIMScheduler:
    """The noise schedule the denoiser trains and samples with (cosine, v-prediction, DDIM sampling)."""
    return DDIMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                         prediction_type="v_prediction", clip_sample=False)


# ----------------------------------------------------------------------------------------- critic data
#: Version of the critic data code: bump it when :func:`build_critic_data` changes what it computes.
CRITIC_DATA_VERSION = "1"


@dataclass(frozen=True)
class CriticClip:
    """What one critic example is: corpus, speaker, emotion (`None` for non-speech) and how it was made.

    ``actor`` is the speaker (``"ravdess-17"``, ``"nemo-WR0"``; ``"nonspeech"``), ``intensity`` is
    ``"strong"``, ``"normal"`` or ``"unknown"`` (nEMO), ``condition`` is ``"clean"``, ``"augmented"``,
    ``"noisy"`` (evaluation copies at 0-5 dB) or ``"nonspeech:<kind>"``; ``snr_db`` is ``inf`` without noise.
    """

    path: str
    corpus: str
    actor: str
    emotion: str | None
    intensity: str = "normal"
    condition: str = "clean"
    snr_db: float = math.inf


@dataclass
class CriticItem:
    """One critic example: its :class:`CriticClip` and the encoder frames `(frames, channels)` (as ``ClipFeatures.encoder``)."""

    clip: CriticClip
    encoder: np.ndarray


@dataclass
class CriticData:
    """The critic's examples: ``train`` (clean, augmented, non-speech), ``val`` and ``test`` (clean held-out
    speakers of every corpus), and for evaluation ``val_noisy`` / ``test_noisy`` (the same speakers at 0-5 dB SNR)
    and ``nonspeech_val`` / ``nonspeech_test``."""

    train: list[CriticItem]
    val: list[CriticItem]
    test: list[CriticItem]
    val_noisy: list[CriticItem] = field(default_factory=list)
    test_noisy: list[CriticItem] = field(default_factory=list)
    nonspeech_val: list[CriticItem] = field(default_factory=list)
    nonspeech_test: list[CriticItem] = field(default_factory=list)


def _from_clip_features(items: list[ClipFeatures]) -> list[CriticItem]:
    return [CriticItem(CriticClip(str(c.clip.path), "ravdess", f"ravdess-{c.clip.actor:02d}", c.clip.emotion, c.clip.intensity), c.encoder) for c in items]


def _speech_sources(corpus: str, data_root: str | None, config: EncoderTrainConfig) -> dict[str, list]:
    """Clips of a corpus by split (train / validation / test): RAVDESS by ``config.train_actors`` and
    ``val_actors`` (test: the other actors), nEMO by :data:`~emogen.data.nemo.NEMO_SPLITS`."""
    if corpus == "ravdess":
        from ..data.ravdess import load_ravdess

        clips = load_ravdess(data_root)
        train, val = set(config.train_actors), set(config.val_actors)
        split = {"train": train, "validation": val, "test": {c.actor for c in clips} - train - val}
        return {name: [c for c in clips if c.actor in actors] for name, actors in split.items()}
    if corpus == "nemo":
        from ..data.nemo import load_nemo

        clips = load_nemo(data_root)
        return {name: [c for c in clips if c.speaker in speakers] for name, speakers in NEMO_SPLITS.items()}
    msg = f"corpora may hold 'ravdess' and 'nemo', got {corpus!r}"
    raise ValueError(msg)


def _clip_meta(corpus: str, clip) -> CriticClip:
    if corpus == "ravdess":
        return CriticClip(str(clip.path), corpus, f"ravdess-{clip.actor:02d}", clip.emotion, clip.intensity)
    return CriticClip(str(clip.path), corpus, f"nemo-{clip.speaker}", clip.emotion, "unknown")


def _read_16k(clip) -> np.ndarray:
    from ..voice.audio import MODEL_SAMPLE_RATE, resample
    from ..voice.dataset import read_clip

    audio, rate = read_clip(clip)
    return resample(audio, int(rate), MODEL_SAMPLE_RATE).astype(np.float32)


def _frames(audio: np.ndarray) -> np.ndarray:
    from ..voice.audio import MODEL_SAMPLE_RATE
    from ..voice.recognize import speech_frames

    return speech_frames(audio, MODEL_SAMPLE_RATE).astype(np.float16)


def _cached(cache_dir: str, name: str, files: Sequence, settings: dict, build) -> list[CriticItem]:
    from ..utils.cache import cache_key, load_or_build
    from ..voice.dataset import feature_config

    key = cache_key([Path(f) for f in files], {**settings, "features": feature_config()}, CRITIC_DATA_VERSION)
    return load_or_build(cache_dir, f"critic-{name}", key, build)


def _degraded(corpus: str, clips: list, audio_of, copies: int, augment: AugmentConfig, seed: int, condition: str) -> list[CriticItem]:
    """``copies`` augmented versions of every clip; babble comes from other clips of the same set."""
    from ..voice.augment import augment_speech, babble, mix_at_snr, white_noise

    rng = np.random.default_rng(seed)
    pool = [audio_of(clips[i]) for i in rng.choice(len(clips), size=min(64, len(clips)), replace=False)]
    out = []
    for copy in range(copies):
        for n, clip in enumerate(clips):
            audio = audio_of(clip)
            if condition == "noisy":  # evaluation copies: babble or white noise at 0-5 dB SNR, nothing else
                snr = float(rng.uniform(0.0, 5.0))
                kind = "babble" if n % 2 == 0 else "white"
                noise = babble(pool, len(audio), rng, talkers=4) if kind == "babble" else white_noise(len(audio), rng)
                degraded, info = mix_at_snr(audio, noise, snr), {"snr_db": snr, "noise": kind}
            else:
                degraded, info = augment_speech(audio, 16000, rng, augment, babble_pool=pool)
            meta = _clip_meta(corpus, clip)
            meta = CriticClip(meta.path, meta.corpus, meta.actor, meta.emotion, meta.intensity, f"{condition}:{info['noise']}", float(info["snr_db"]))
            out.append(CriticItem(meta, _frames(degraded)))
        logger.info("%s %s copy %d/%d: %d clips", corpus, condition, copy + 1, copies, len(clips))
    return out


def _render_music(split: str, count: int, data_root: str | None) -> list[np.ndarray]:
    from ..data.emopia import load_emopia
    from ..music.representation import events_from_midi
    from ..music.synth import render_audio

    clips = load_emopia(data_root, split=split)
    chosen = [clips[i] for i in np.linspace(0, len(clips) - 1, min(count, len(clips))).astype(int)]
    return [render_audio(events_from_midi(c.path), sample_rate=16000) for c in chosen]


def _nonspeech(count_per_kind: int, music_clips: int, split: str, seed: int, data_root: str | None) -> list[CriticItem]:
    from ..voice.augment import nonspeech_signal

    rng = np.random.default_rng(seed)
    music = _render_music(split, music_clips, data_root) if music_clips > 0 else []
    out = []
    for kind in NONSPEECH_KINDS:
        if kind == "music" and not music:
            continue
        for i in range(count_per_kind):
            excerpt = music[i % len(music)] if kind == "music" else None
            x = nonspeech_signal(kind, float(rng.uniform(1.5, 5.0)), 16000, rng, music=excerpt)
            out.append(CriticItem(CriticClip(f"{kind}-{i}", "nonspeech", "nonspeech", None, "normal", f"nonspeech:{kind}"), _frames(x)))
    return out


def build_critic_data(config: EncoderTrainConfig, cache_dir: str, data_root: str | None = None,
                      ravdess_items: list[ClipFeatures] | None = None, evaluation: bool = True, training: bool = True) -> CriticData:
    """Every example the critic trains, calibrates and is scored on (each part cached under ``cache_dir``).

    With ``config.from_audio`` false (the plain RAVDESS recipe) the examples are ``ravdess_items`` from the
    voice feature cache, split by ``config.train_actors`` / ``val_actors`` (test: the rest), with no noisy or
    non-speech sets. Otherwise clean clips of every corpus in ``config.corpora`` are read and framed with
    :func:`~emogen.voice.recognize.speech_frames`; the training speakers get ``config.augment_copies``
    augmented copies; with ``evaluation`` the validation and test speakers get one noisy copy each (babble or
    white noise at 0-5 dB SNR); and non-speech negatives are made for training (EMOPIA train songs) and for
    validation and test (other seeds, EMOPIA val / test songs). ``training=False`` leaves ``train`` empty
    (for benchmarks).
    """
    if not config.from_audio:
        if ravdess_items is None:
            msg = "the RAVDESS-only critic recipe needs the voice feature cache items (ravdess_items)"
            raise ValueError(msg)
        items = _from_clip_features(ravdess_items)
        train_ids = {f"ravdess-{a:02d}" for a in config.train_actors}
        val_ids = {f"ravdess-{a:02d}" for a in config.val_actors}
        return CriticData(train=[c for c in items if c.clip.actor in train_ids], val=[c for c in items if c.clip.actor in val_ids],
                          test=[c for c in items if c.clip.actor not in train_ids | val_ids])
    augment = AugmentConfig(**config.augment)
    data = CriticData(train=[], val=[], test=[])
    for corpus in config.corpora:
        sources = _speech_sources(corpus, data_root, config)
        memo: dict[str, np.ndarray] = {}

        def audio_of(clip, corpus=corpus, memo=memo) -> np.ndarray:
            key = str(clip.path)
            if key not in memo:
                memo[key] = _read_16k(clip)
            return memo[key]

        for split, clips in sources.items():
            if split == "train" and not training:
                continue
            files = [c.path for c in clips]
            clean = _cached(cache_dir, f"{corpus}-{split}-clean", files, {"what": "clean"},
                            lambda clips=clips: [CriticItem(_clip_meta(corpus, c), _frames(audio_of(c))) for c in clips])
            {"train": data.train, "validation": data.val, "test": data.test}[split].extend(clean)
            if split == "train" and config.augment_copies > 0:
                settings = {"what": "augmented", "copies": config.augment_copies, "augment": augment.to_dict(), "seed": config.seed}
                data.train.extend(_cached(cache_dir, f"{corpus}-train-augmented", files, settings,
                                          lambda clips=clips: _degraded(corpus, clips, audio_of, config.augment_copies, augment, config.seed, "augmented")))
            if split != "train" and evaluation:
                settings = {"what": "noisy", "snr_db": [0, 5], "seed": 1000 + config.seed}
                noisy = _cached(cache_dir, f"{corpus}-{split}-noisy", files, settings,
                                lambda clips=clips: _degraded(corpus, clips, audio_of, 1, augment, 1000 + config.seed, "noisy"))
                (data.val_noisy if split == "validation" else data.test_noisy).extend(noisy)
        memo.clear()
    if config.nonspeech_per_kind > 0:
        for split, count, music, seed, target in (
            ("train", config.nonspeech_per_kind, config.music_clips, config.seed, data.train if training else None),
            ("val", 20, 8, 2000 + config.seed, data.nonspeech_val if evaluation else None),
            ("test", 30, 12, 3000 + config.seed, data.nonspeech_test if evaluation else None),
        ):
            if target is None:
                continue
            settings = {"what": "nonspeech", "split": split, "per_kind": count, "music": music, "seed": seed, "kinds": list(NONSPEECH_KINDS)}
            target.extend(_cached(cache_dir, f"nonspeech-{split}", [], settings, lambda s=split, c=count, m=music, r=seed: _nonspeech(c, m, s, r, data_root)))
    logger.info("critic data: %d train, %d val, %d test, %d/%d noisy, %d/%d non-speech", len(data.train), len(data.val), len(data.test),
                len(data.val_noisy), len(data.test_noisy), len(data.nonspeech_val), len(data.nonspeech_test))
    return data


# --------------------------------------------------------------------------------------------- encoder
def _crop(frames: np.ndarray, crop: int, gen: torch.Generator) -> np.ndarray:
    if len(frames) <= crop:
        return frames
    start = int(torch.randint(0, len(frames) - crop + 1, (1,), generator=gen))
    return frames[start : start + crop]


def _amount(clip, config: EncoderTrainConfig) -> float:
    if clip.emotion == "neutral":
        return 0.0
    return {"strong": 1.0, "normal": config.normal_intensity}.get(clip.intensity, config.unknown_intensity)


def _smoothing(clip, config: EncoderTrainConfig) -> float:
    """How far toward uniform the target of a (noisy) speech clip goes: 0 at or above ``smooth_below_snr_db``."""
    snr = getattr(clip, "snr_db", math.inf)
    return config.max_smoothing * min(1.0, max(0.0, (config.smooth_below_snr_db - snr) / 10.0))


def _sample_weights(items: list, config: EncoderTrainConfig) -> torch.Tensor:
    """Per-item sampling weights: every group (corpus, or ``"nonspeech"``) gets its ``corpus_weights`` share."""
    groups = [getattr(c.clip, "corpus", "ravdess") for c in items]
    counts = {g: groups.count(g) for g in set(groups)}
    return torch.tensor([config.corpus_weights.get(g, 1.0) / counts[g] for g in groups], dtype=torch.float64)


@torch.no_grad()
def critic_logits(encoder: SpeechEmotionEncoder, bank: EmotionBank, items: Sequence) -> np.ndarray:
    """Uncalibrated logits `(N, K)` of whole clips over the critic's categories."""
    return encoder.logits(embed_clips(encoder, items).to(bank.means.device), bank).cpu().numpy()


def train_encoder(train_items: list, val_items: list, bank: EmotionBank, config: EncoderTrainConfig,
                  run: TrainRun | None = None) -> tuple[SpeechEmotionEncoder, dict[str, float], FitResult]:
    """Train the encoder; returns the weights with the best validation UAR, their validation scores and the fit.

    Items are :class:`~emogen.voice.dataset.ClipFeatures` or :class:`CriticItem` (anything with ``encoder``
    frames and a ``clip`` holding ``emotion``, ``intensity`` and ``actor``); ``emotion`` `None` marks a
    non-speech example, trained toward the uniform distribution. Validation is the mean UAR over the
    corpora in ``val_items``. The returned encoder is not calibrated yet (see :func:`calibrate_critic`).
    """
    run = run or TrainRun()
    speech = [c for c in train_items if c.clip.emotion is not None]
    with seeded_init(config.seed):
        encoder = SpeechEmotionEncoder(**config.encoder_kwargs)
        frames = [torch.from_numpy(c.encoder.astype(np.float32).T[None]) for c in train_items]
        if encoder.config.level_norm:
            frames = [encoder.normalize_level(f) for f in frames]
        stacked = torch.cat(frames, dim=2)[0].T.numpy()
        del frames
        encoder.feature_mean.copy_(torch.from_numpy(stacked.mean(0)))
        encoder.feature_std.copy_(torch.from_numpy(stacked.std(0) + 1e-3))
        del stacked
        speakers = sorted({str(c.clip.actor) for c in speech})
        reverse = GradientReversal(0.0)
        speaker_head = nn.Sequential(nn.Linear(encoder.config.embedding_dim, 64), nn.ReLU(), nn.Linear(64, len(speakers)))
    speaker_index = {a: i for i, a in enumerate(speakers)}
    categories = list(encoder.config.categories)
    read_out = torch.tensor([bank.category_index(k) for k in categories])
    bank = bank.requires_grad_(False).to(run.device)
    device = run.device
    # per-item targets, fixed for the run
    labels = torch.tensor([categories.index(c.clip.emotion) if c.clip.emotion is not None else -1 for c in train_items])
    bank_labels = torch.tensor([bank.category_index(c.clip.emotion) if c.clip.emotion is not None else 0 for c in train_items])
    amounts = torch.tensor([_amount(c.clip, config) if c.clip.emotion is not None else 0.0 for c in train_items])
    noisy = torch.tensor([_smoothing(c.clip, config) if c.clip.emotion is not None else 1.0 for c in train_items])
    floor = torch.tensor([config.corpus_smoothing.get(getattr(c.clip, "corpus", "ravdess"), config.label_smoothing) for c in train_items])
    smooth = torch.maximum(noisy, floor)
    mels = encoder.config.in_channels - 2
    spk = torch.tensor([speaker_index.get(str(c.clip.actor), -1) for c in train_items])
    weights = _sample_weights(train_items, config)
    steps_per_epoch = max(1, math.ceil(len(train_items) / config.batch_size))
    uniform = torch.full((len(categories),), 1.0 / len(categories))

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        epoch = i // steps_per_epoch
        reverse.scale = config.speaker_weight * min(1.0, epoch / max(1, config.epochs // 4))
        index = torch.multinomial(weights, config.batch_size, replacement=True, generator=gen)
        feats, mask = pad_frames([_crop(train_items[n].encoder, config.crop_frames, gen).astype(np.float32) for n in index.tolist()])
        feats = feats + 0.1 * torch.randn(feats.shape[0], feats.shape[1], 1, generator=gen)  # small channel/gain jitter
        if config.feature_tilt > 0:  # a random spectral tilt on half of the clips (microphones, rooms, voices)
            amount = config.feature_tilt * (torch.rand(len(index), generator=gen) - 0.5) * (torch.rand(len(index), generator=gen) < 0.5)
            feats[:, :mels] += amount[:, None, None] * torch.linspace(-1.0, 1.0, mels)[None, :, None]
        label, s = labels[index], smooth[index]
        target = uniform.expand(len(index), -1) * s[:, None]
        is_speech = label >= 0
        target[is_speech] += (1 - s[is_speech])[:, None] * nn.functional.one_hot(label[is_speech], len(categories)).float()
        item_weight = torch.where(is_speech, torch.ones_like(s), torch.full_like(s, config.nonspeech_weight))
        emb = encoder(feats.to(device), mask.to(device)).embedding
        log_p = torch.log_softmax(bank.log_likelihood(emb)[:, read_out.to(device)], dim=-1)
        ce = (-(target.to(device) * log_p).sum(-1) * item_weight.to(device)).mean()
        # VAD, intensity and speaker losses on (nearly) clean speech only
        keep = (is_speech & (noisy[index] == 0)).to(device)
        zero = emb.sum() * 0
        lab, amount = bank_labels[index].to(device), amounts[index].to(device)
        vad = nn.functional.mse_loss(bank.vad(emb[keep]), amount[keep, None] * bank.anchor_vad[lab[keep]]) if keep.any() else zero
        d = bank.directions[lab]
        proj = ((emb - bank.means[0]) * d).sum(-1) / (d * d).sum(-1).clamp_min(1e-8)
        emotional = keep & (lab > 0)
        inten = nn.functional.mse_loss(proj[emotional], amount[emotional]) if emotional.any() else zero
        has_speaker = (spk[index] >= 0).to(device)
        speaker = nn.functional.cross_entropy(speaker_head(reverse(emb[has_speaker])), spk[index].to(device)[has_speaker]) if has_speaker.any() else zero
        loss = ce + config.vad_weight * vad + config.intensity_weight * inten + speaker
        return {"loss": loss, "ce": ce, "vad": vad, "intensity": inten, "speaker": speaker}

    def validate() -> float:
        uars = []
        for corpus in sorted({getattr(c.clip, "corpus", "ravdess") for c in val_items if c.clip.emotion is not None}):
            part = [c for c in val_items if getattr(c.clip, "corpus", "ravdess") == corpus]
            scores = evaluate_encoder(encoder, bank, part)
            logger.info("encoder val %s: acc %.3f uar %.3f strong %.2f normal %.2f", corpus, scores["accuracy"], scores["uar"],
                        scores["intensity_strong"], scores["intensity_normal"])
            uars.append(scores["uar"])
        return float(np.mean(uars))

    steps = config.epochs * steps_per_epoch
    fit_config = FitConfig(steps=steps, lr=config.lr, weight_decay=config.weight_decay, max_grad_norm=5.0, pct_start=0.3,
                           ema_decay=config.ema_decay, log_every=steps_per_epoch, seed=config.seed, desc="encoder")
    model = nn.ModuleDict({"encoder": encoder, "speaker_head": speaker_head})
    result = run.fit("encoder", model, step, fit_config, validate=validate, validate_every=steps_per_epoch)
    encoder = encoder.to("cpu").eval()
    bank.to("cpu")
    return encoder, evaluate_encoder(encoder, bank, [c for c in val_items if getattr(c.clip, "corpus", "ravdess") == "ravdess"] or val_items), result


# ------------------------------------------------------------------------------------------ calibration
def _labels(encoder: SpeechEmotionEncoder, items: Sequence) -> np.ndarray:
    categories = list(encoder.config.categories)
    return np.array([categories.index(c.clip.emotion) for c in items])


def calibrate_critic(encoder: SpeechEmotionEncoder, bank: EmotionBank, val: Sequence, val_noisy: Sequence = (),
                     target_accuracy: float = 0.6) -> dict[str, float]:
    """Fit the temperature on the clean validation speakers (each corpus weighted equally), choose the
    "uncertain" threshold on clean plus noisy validation speech, and store both in ``encoder.config``.

    Returns the temperature, the threshold and the validation NLL before and after.
    """
    from ..calibration import fit_temperature, negative_log_likelihood, softmax, uncertain_threshold

    speech = [c for c in val if c.clip.emotion is not None]
    logits, labels = critic_logits(encoder, bank, speech), _labels(encoder, speech)
    corpora = np.array([getattr(c.clip, "corpus", "ravdess") for c in speech])
    # equal weight per corpus: repeat the smaller corpora's rows (NLL is a mean, so integer repeats are exact weights)
    counts = {k: int((corpora == k).sum()) for k in set(corpora.tolist())}
    reps = np.array([max(1, round(max(counts.values()) / counts[k])) for k in corpora])
    fit_logits, fit_labels = np.repeat(logits, reps, axis=0), np.repeat(labels, reps)
    temperature = fit_temperature(fit_logits, fit_labels)
    pool = speech + [c for c in val_noisy if c.clip.emotion is not None]
    pool_logits = logits if len(pool) == len(speech) else np.concatenate([logits, critic_logits(encoder, bank, pool[len(speech):])])
    threshold = uncertain_threshold(softmax(pool_logits, temperature), _labels(encoder, pool), target_accuracy)
    encoder.set_calibration(temperature, threshold)
    return {
        "temperature": temperature,
        "uncertain_below": threshold,
        "val_nll_before": negative_log_likelihood(fit_logits, fit_labels),
        "val_nll_after": negative_log_likelihood(fit_logits, fit_labels, temperature),
    }


def evaluate_critic(encoder: SpeechEmotionEncoder, bank: EmotionBank, data: CriticData, num_bins: int = 15) -> dict:
    """Scores of a (calibrated) critic: per corpus and split accuracy, UAR, ECE and NLL before and after
    calibration, mean top probability and share flagged uncertain; the same on noisy copies; and on
    non-speech the mean top probability and the share flagged uncertain, per kind."""
    from ..calibration import ece_interval, expected_calibration_error, negative_log_likelihood, softmax

    temperature, threshold = float(encoder.config.temperature), float(encoder.config.uncertain_below)
    out: dict = {"temperature": temperature, "uncertain_below": threshold, "num_bins": num_bins}
    for split, clean, noisy in (("validation", data.val, data.val_noisy), ("test", data.test, data.test_noisy)):
        for condition, items in (("clean", clean), ("noisy", noisy)):
            for corpus in sorted({c.clip.corpus for c in items}):
                part = [c for c in items if c.clip.corpus == corpus]
                logits, labels = critic_logits(encoder, bank, part), _labels(encoder, part)
                before, after = softmax(logits), softmax(logits, temperature)
                pred = after.argmax(1)
                recalls = [float(np.mean(pred[labels == k] == k)) for k in sorted(set(labels.tolist()))]
                out[f"{corpus}_{split}_{condition}"] = {
                    "clips": len(part),
                    "speakers": sorted({c.clip.actor for c in part}),
                    "accuracy": float(np.mean(pred == labels)),
                    "uar": float(np.mean(recalls)),
                    "ece_before": expected_calibration_error(before, labels, num_bins),
                    "ece_after": expected_calibration_error(after, labels, num_bins),
                    "ece_after_interval": ece_interval(after, labels, num_bins),
                    "nll_before": negative_log_likelihood(logits, labels),
                    "nll_after": negative_log_likelihood(logits, labels, temperature),
                    "mean_top_prob_before": float(before.max(1).mean()),
                    "mean_top_prob_after": float(after.max(1).mean()),
                    "uncertain_share": float(np.mean(after.max(1) < threshold)),
                }
    for split, items in (("validation", data.nonspeech_val), ("test", data.nonspeech_test)):
        if not items:
            continue
        probs = softmax(critic_logits(encoder, bank, items), temperature)
        kinds = np.array([c.clip.condition.split(":", 1)[1] for c in items])
        top = probs.max(1)
        out[f"nonspeech_{split}"] = {
            "clips": len(items),
            "mean_top_prob": float(top.mean()),
            "uncertain_share": float(np.mean(top < threshold)),
            "per_kind": {k: float(top[kinds == k].mean()) for k in sorted(set(kinds.tolist()))},
        }
    return out


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


def pair_weights(pairs: list[ConversionPair], config: ConverterTrainConfig) -> np.ndarray:
    """Sampling weight of each pair: a corpus' neutral pairs ``config.neutral_weight`` times one of its
    emotional pairs, and each corpus' total ``config.corpus_weights`` (normalised over the corpora present)."""
    raw = np.array([config.neutral_weight.get(p.corpus, 1.0) if p.amount == 0 else 1.0 for p in pairs])
    corpora = np.array([p.corpus for p in pairs])
    present = sorted(set(corpora.tolist()))
    total = sum(config.corpus_weights.get(c, 1.0) for c in present)
    for corpus in present:
        rows = corpora == corpus
        raw[rows] *= config.corpus_weights.get(corpus, 1.0) / total / raw[rows].sum()
    return raw


def converter_pairs(config: ConverterTrainConfig, cache: str, data_root: str | None = None,
                    ravdess_items: list[ClipFeatures] | None = None) -> list[ConversionPair]:
    """The converter's DTW-aligned pairs: RAVDESS ``config.train_actors`` and nEMO ``config.nemo_speakers``."""
    if ravdess_items is None:
        ravdess_items = list(build_cache(cache, root=data_root).values())
    items = [c for c in ravdess_items if c.clip.actor in config.train_actors]
    if config.nemo_speakers:
        items += list(build_nemo_cache(cache, root=data_root, speakers=config.nemo_speakers).values())
    pairs = build_pairs(items, config.normal_intensity, config.denoiser_kwargs.get("num_modified_mcep", 13),
                        config.denoiser_kwargs.get("utterance_norm", False), config.unlabelled_intensity)
    logger.info("%d conversion pairs (%s)", len(pairs), ", ".join(f"{c} {sum(p.corpus == c for p in pairs)}" for c in sorted({p.corpus for p in pairs})))
    return pairs


def train_converter(pairs: list[ConversionPair], bank: EmotionBank, config: ConverterTrainConfig,
                    run: TrainRun | None = None) -> tuple[VoiceConversionDenoiser, DDIMScheduler, FitResult]:
    """Train the denoiser on ``pairs``; returns the model (with statistics and rate slopes), its scheduler and the fit."""
    run = run or TrainRun()
    kwargs = dict(config.denoiser_kwargs)
    kwargs["rate_slopes"] = rate_slopes(pairs, bank.categories, config.rate_corpora)
    with seeded_init(config.seed):
        model = VoiceConversionDenoiser(**kwargs)
    conds, deltas = np.concatenate([p.condition for p in pairs]), np.concatenate([p.delta for p in pairs])
    model.cond_mean.copy_(torch.from_numpy(conds.mean(0)))
    model.cond_std.copy_(torch.from_numpy(conds.std(0) + 1e-3))
    model.delta_std.copy_(torch.from_numpy(deltas.std(0) + 1e-3))
    scheduler = make_scheduler(config.num_train_timesteps)
    dropout = EmotionDropout(config.cfg_dropout, seed=config.seed)
    conditions = {spec: bank.condition(spec) for spec in sorted({p.spec for p in pairs})}
    weights = torch.from_numpy(pair_weights(pairs, config))
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
def _critic_stage(config: VoiceTrainConfig, bank: EmotionBank, run: TrainRun, data_root: str | None,
                  ravdess_items: list[ClipFeatures] | None) -> tuple[SpeechEmotionEncoder, dict, FitResult]:
    """Data, training, calibration and scores of the speech critic (the scores' critic keys)."""
    enc_cfg = config.encoder
    with run.timed("critic_data"):
        data = build_critic_data(enc_cfg, config.cache, data_root, ravdess_items)
    with run.timed("encoder"):
        encoder, val_scores, encoder_fit = train_encoder(data.train, data.val, bank, enc_cfg, run)
        calibration = calibrate_critic(encoder, bank, data.val, data.val_noisy, enc_cfg.uncertain_accuracy)
    logger.info("critic calibration: %s", calibration)
    critic = {**evaluate_critic(encoder, bank, data), "calibration": calibration,
              "train_clips": {k: sum(1 for c in data.train if getattr(c.clip, "condition", "clean").startswith(k)) for k in ("clean", "augmented", "nonspeech")}}
    ravdess_test = [c for c in data.test if c.clip.corpus == "ravdess"]
    test_scores = evaluate_encoder(encoder, bank, ravdess_test)
    # speaker identity left in the embedding: the unseen RAVDESS actors (validation + test), clean clips
    probe_items = [c for c in data.val + data.test if c.clip.corpus == "ravdess"]
    speakers = np.array([c.clip.actor for c in probe_items])
    scores = {
        "encoder_validation": val_scores,
        "encoder_test": test_scores,
        "speaker_probe_embedding": speaker_probe(embed_clips(encoder, probe_items).numpy(), speakers),
        "speaker_probe_raw_features": speaker_probe(pooled_raw_features(probe_items), speakers),
        "speaker_probe_chance": 1.0 / len(set(speakers.tolist())),
        "critic": critic,
    }
    logger.info("critic: val %s test %s", val_scores, test_scores)
    return encoder, scores, encoder_fit


def ravdess_folds(folds: int = 5, actors: Sequence[int] = tuple(range(1, 21))) -> list[dict[str, tuple[int, ...]]]:
    """Speaker folds of RAVDESS for :func:`cross_validate_critic`: fold k tests on ``len(actors) / folds``
    consecutive actors (as many men as women), validates on the first two actors of the next fold and trains
    on the rest."""
    size = len(actors) // folds
    blocks = [tuple(actors[k * size : (k + 1) * size]) for k in range(folds)]
    out = []
    for k, test in enumerate(blocks):
        val = blocks[(k + 1) % folds][:2]
        out.append({"test": test, "validation": val, "train": tuple(a for a in actors if a not in test + val)})
    return out


def cross_validate_critic(config: EncoderTrainConfig, cache: str, folds: int = 5, data_root: str | None = None) -> dict:
    """Speaker cross-validation of the critic recipe on RAVDESS: every actor is scored once, by a critic
    trained (``config``, nEMO as in the recipe) and calibrated without them (:func:`ravdess_folds`).

    A held-out ECE measured on RAVDESS' two test actors (120 clips) cannot go below about 0.10 even for a
    perfectly calibrated model (the ``floor`` of :func:`~emogen.calibration.ece_interval`); pooling
    the out-of-fold readings of all 20 actors (1200 clips) brings that floor near 0.03. Returns the pooled
    calibrated probabilities and labels (``probabilities``, ``labels``, ``actors``) and, per fold, its
    actors, temperature and test accuracy.
    """
    from ..calibration import softmax

    bank = EmotionBank().eval()
    probabilities, labels, actors, per_fold = [], [], [], []
    for k, split in enumerate(ravdess_folds(folds)):
        fold_cfg = EncoderTrainConfig(**{**asdict(config), "train_actors": split["train"], "val_actors": split["validation"]})
        data = build_critic_data(fold_cfg, cache, data_root)
        encoder, _, _ = train_encoder(data.train, data.val, bank, fold_cfg, TrainRun())
        calibration = calibrate_critic(encoder, bank, data.val, data.val_noisy, fold_cfg.uncertain_accuracy)
        test = [c for c in data.test if c.clip.corpus == "ravdess"]
        probs = softmax(critic_logits(encoder, bank, test), calibration["temperature"])
        fold_labels = _labels(encoder, test)
        probabilities.append(probs)
        labels.append(fold_labels)
        actors.extend(c.clip.actor for c in test)
        per_fold.append({**split, "temperature": calibration["temperature"], "accuracy": float(np.mean(probs.argmax(1) == fold_labels))})
        logger.info("critic fold %d/%d: test actors %s, accuracy %.3f, T %.3f", k + 1, folds, split["test"], per_fold[-1]["accuracy"], calibration["temperature"])
    return {"probabilities": np.concatenate(probabilities), "labels": np.concatenate(labels), "actors": actors, "folds": per_fold}


def train_voice(output: str | os.PathLike[str], config: VoiceTrainConfig | None = None, data_root: str | None = None, *,
                resume: bool = False, checkpoint_every: int | None = None, only: str | None = None) -> dict:
    """Train the speech critic and the conversion denoiser; write the pipeline folder ``output``.

    The feature cache, the split and both models' hyper-parameters come from ``config`` (the shipped
    model's by default); ``resume`` and ``checkpoint_every`` as in :func:`~emogen.training.music.train_music`.
    ``only="critic"`` retrains just the critic inside an existing ``output`` (:func:`train_critic_only`),
    ``only="converter"`` just the converter (:func:`train_converter_only`).
    Returns the scores (encoder validation/test, critic calibration, speaker probes, minutes), also in
    ``scores.json``.
    """
    from ..pipelines.pipeline_emo_voice import EmoVoicePipeline

    if only is not None:
        if only not in VOICE_STAGES:
            msg = f"only must be one of {', '.join(VOICE_STAGES)} (or None for the whole recipe), got {only!r}"
            raise ValueError(msg)
        if only == "converter":
            return train_converter_only(output, config, data_root, resume=resume, checkpoint_every=checkpoint_every)
        return train_critic_only(output, config, data_root, resume=resume, checkpoint_every=checkpoint_every)
    config = config or VoiceTrainConfig()
    run = TrainRun(checkpoint_dir=train_state_dir(output), resume=resume, checkpoint_every=checkpoint_every)
    conv_cfg = config.converter
    with run.timed("total"):
        with run.timed("cache"):
            items = list(build_cache(config.cache, root=data_root).values())
        logger.info("feature cache ready: %d clips (%.1f min)", len(items), run.minutes["cache"])
        bank = EmotionBank().eval()

        # 1. speech emotion encoder (the speech critic), calibrated, probed for speaker identity on unseen actors
        encoder, critic_scores, encoder_fit = _critic_stage(config, bank, run, data_root, items)

        # 2. conversion denoiser on DTW-aligned pairs of the training actors
        with run.timed("converter"):
            pairs = converter_pairs(conv_cfg, config.cache, data_root, items)
            denoiser, scheduler, converter_fit = train_converter(pairs, bank, conv_cfg, run)

    pipe = EmoVoicePipeline(denoiser=denoiser, scheduler=scheduler, emotion_bank=bank, speech_critic=encoder)
    scores = {
        **critic_scores,
        **_converter_scores(denoiser, bank, pairs),
        "minutes": dict(run.minutes),
        "config": json.loads(json.dumps(asdict(config), default=list)),
        "history": {"encoder": encoder_fit.history, "converter": converter_fit.history},
    }
    finish_recipe(pipe, output, scores, lambda folder, s: update_critic_card(voice_model_card(folder, s), s, folder), run)
    return scores


def train_critic_only(output: str | os.PathLike[str], config: VoiceTrainConfig | None = None, data_root: str | None = None, *,
                      resume: bool = False, checkpoint_every: int | None = None) -> dict:
    """Retrain only the speech critic of the pipeline folder ``output``; everything else stays as it is.

    The critic is trained, calibrated and scored as in :func:`train_voice` against the folder's own
    (fixed) ``emotion_bank``, then ``speech_critic/`` is replaced, the critic's entries of ``scores.json``
    are updated (the converter's are kept) and the critic sections of the model card rewritten.
    """
    from ..utils import atomic_output

    output = _existing_pipeline(output, "critic")
    config = config or VoiceTrainConfig()
    run = TrainRun(checkpoint_dir=train_state_dir(output), resume=resume, checkpoint_every=checkpoint_every)
    bank = EmotionBank.from_pretrained(output, subfolder="emotion_bank").eval()
    with run.timed("critic_total"):
        ravdess_items = None if config.encoder.from_audio else list(build_cache(config.cache, root=data_root).values())
        encoder, critic_scores, encoder_fit = _critic_stage(config, bank, run, data_root, ravdess_items)

    replace_component(output, "speech_critic", encoder)
    scores = _update_scores(output, critic_scores, run, "encoder", asdict(config.encoder), encoder_fit)
    card = output / "README.md"
    if card.is_file():
        with atomic_output(card) as tmp_file:
            tmp_file.write_text(update_critic_card(card.read_text(), scores, output))
    if run.checkpoint_dir is not None:
        shutil.rmtree(run.checkpoint_dir, ignore_errors=True)
    return scores


def train_converter_only(output: str | os.PathLike[str], config: VoiceTrainConfig | None = None, data_root: str | None = None, *,
                         resume: bool = False, checkpoint_every: int | None = None) -> dict:
    """Retrain only the conversion denoiser of the pipeline folder ``output``; the critic, the bank and the
    scheduler stay. ``denoiser/`` is replaced and the converter's
    entries of ``scores.json`` updated; the model card's converter numbers are the benchmark's to update."""
    from ..pipelines.pipeline_emo_voice import EmoVoicePipeline

    output = _existing_pipeline(output, "converter")
    config = config or VoiceTrainConfig()
    run = TrainRun(checkpoint_dir=train_state_dir(output), resume=resume, checkpoint_every=checkpoint_every)
    pipe = EmoVoicePipeline.from_pretrained(str(output))
    with run.timed("converter"):
        pairs = converter_pairs(config.converter, config.cache, data_root)
        pipe.denoiser, _, converter_fit = train_converter(pairs, pipe.emotion_bank, config.converter, run)
    replace_component(output, "denoiser", pipe.denoiser)
    scores = _update_scores(output, _converter_scores(pipe.denoiser, pipe.emotion_bank, pairs), run, "converter", asdict(config.converter), converter_fit)
    if run.checkpoint_dir is not None:
        shutil.rmtree(run.checkpoint_dir, ignore_errors=True)
    return scores


def _converter_scores(denoiser: VoiceConversionDenoiser, bank: EmotionBank, pairs: list[ConversionPair]) -> dict:
    """The converter's entries of ``scores.json``: pairs per corpus and rate slopes."""
    return {
        "num_pairs": len(pairs),
        "num_pairs_per_corpus": {c: sum(p.corpus == c for p in pairs) for c in sorted({p.corpus for p in pairs})},
        "rate_slopes": dict(zip(bank.categories, denoiser.config.rate_slopes)),
    }


def _existing_pipeline(output: str | os.PathLike[str], stage: str) -> Path:
    output = Path(output)
    if not (output / "model_index.json").is_file():
        from ..errors import CheckpointNotFoundError

        msg = f"--only {stage} retrains the {stage} of an existing voice pipeline folder, but {str(output)!r} has no model_index.json; run the whole recipe first"
        raise CheckpointNotFoundError(msg)
    return output


def _update_scores(output: Path, update: dict, run: TrainRun, stage: str, stage_config: dict, fit: FitResult) -> dict:
    """Merge one stage's scores, minutes, config and history into ``output/scores.json`` (atomically)."""
    from ..utils import atomic_output
    from .recipe import _finite, _json_default

    scores_path = output / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.is_file() else {}
    scores.update(update)
    scores.setdefault("minutes", {}).update(run.minutes)
    scores.setdefault("config", {})[stage] = json.loads(json.dumps(stage_config, default=list))
    scores.setdefault("history", {})[stage] = fit.history
    with atomic_output(scores_path) as tmp_file:
        tmp_file.write_text(json.dumps(_finite(json.loads(json.dumps(scores, default=_json_default))), indent=2, sort_keys=True) + "\n")
    return scores


# ---------------------------------------------------------------------------------------------- card
def _replace_section(text: str, heading: str, body: str) -> str:
    """Replace the ``## heading`` section of a markdown card (up to the next ``## ``) with ``body``; append it if absent."""
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = f"## {heading}\n{body.strip()}\n\n"
    if pattern.search(text):
        return pattern.sub(lambda _: new, text, count=1)
    return text.rstrip() + "\n\n" + new


def _row(name: str, s: dict) -> str:
    return (f"| {name} | {s['clips']} | {s['accuracy']:.3f} | {s['uar']:.3f} | {s['ece_before']:.3f} -> {s['ece_after']:.3f} | "
            f"{s['mean_top_prob_before']:.2f} -> {s['mean_top_prob_after']:.2f} | {s['uncertain_share']:.2f} |")


#: The card's old first sentence of "Limits" and what replaces it (the rest of the section belongs to the converter).
_OLD_LIMITS = ("Acted English speech of 20 North-American actors, two sentences; other languages, spontaneous speech and\n"
               "noisy recordings are out of domain.")
_CRITIC_ONLY_LIMITS = """Acted speech: English (20 North-American actors, two sentences) and, for the critic, Polish (nEMO);
spontaneous speech, other languages and real-world recordings are out of the training domain. The critic's
calibration is measured only on held-out speakers of these two corpora, on synthetic noise and on synthetic
non-speech; it reads "uncertain" when unsure rather than guessing. nEMO has no calm or disgusted clips."""
_CRITIC_LIMITS = """Acted speech: English (20 North-American actors, two sentences) and Polish (nEMO, 9 actors, about 90
sentences); spontaneous speech, other languages and real-world recordings are out of the training domain. The critic's
calibration is measured only on held-out speakers of these two corpora, on synthetic noise and on synthetic
non-speech; it reads "uncertain" when unsure rather than guessing. nEMO has no calm or disgusted clips."""


def _critic_limits(text: str) -> str:
    """Put the critic's domain sentence at the start of "Limits", leaving the rest of the section as it is."""
    if _CRITIC_LIMITS in text:
        return text
    for old in (_OLD_LIMITS, _CRITIC_ONLY_LIMITS):  # cards written before nEMO trained the converter too
        if old in text:
            return text.replace(old, _CRITIC_LIMITS, 1)
    match = re.search(r"^## Limits\n", text, re.M)
    if match is None:
        return _replace_section(text, "Limits", _CRITIC_LIMITS)
    return text[: match.end()] + _CRITIC_LIMITS + "\n" + text[match.end() :]


def update_critic_card(text: str, scores: dict, output: str | os.PathLike[str] | None = None) -> str:
    """Rewrite the critic's sections of the voice model card (data, command, critic, limits) from ``scores``."""
    critic = scores.get("critic")
    if not critic:
        return text
    config = scores.get("config", {}).get("encoder", {})
    corpora = tuple(config.get("corpora", ("ravdess",)))
    minutes = scores.get("minutes", {})
    cal = critic["calibration"]
    nemo = "nemo" in corpora
    data = """RAVDESS speech (Livingstone & Russo, 2018), actors 01-20, 16 kHz, **CC BY-NC-SA 4.0**: these weights
inherit that licence (non-commercial, share-alike). Speaker-independent split by actor: train 01-16,
validation 17-18, test 19-20."""
    if nemo:
        data += """

The speech critic and the converter also learn from nEMO (Christop, LREC-COLING 2024; acted Polish, 9 actors,
16 kHz Opus, **CC BY-NC-SA 4.0**; the converter from its parallel neutral -> emotion pairs), emotions mapped to the bank (anger -> angry, fear -> fearful, happiness -> happy,
neutral, sadness -> sad, surprised); split by speaker and gender: train KS0, MP0, TP0 (m), EB0, IC0, MK0 (f),
validation WR0 (m), test SM0 (m), KD0 (f). Non-speech negatives include EMOPIA piano MIDI (Hung et al., 2021,
**CC BY-NC-SA 4.0**) rendered with emogen's additive synth (train songs for training, test songs for scores)."""
    command = f"""```
emogen train voice --output checkpoints/voice                 # the whole recipe: 1 CPU thread, seed 0
emogen train voice --output checkpoints/voice --only critic   # retrain only the speech critic (as shipped)
emogen train voice --output checkpoints/voice --only converter   # retrain only the converter (as shipped)
```
Time on the 2-core development CPU (shared): critic {minutes.get('encoder', 0.0):.1f} min of training and calibration
(plus {minutes.get('critic_data', 0.0):.1f} min loading its frames; reading, augmenting and framing the clips takes about
10 min on first use and is cached under `--cache`), converter {minutes.get('converter', 0.0):.1f} min (plus about 2 min for
the WORLD feature cache on first use)."""
    train = critic.get("train_clips", {})
    rows = []
    for corpus, name in (("ravdess", "RAVDESS"), ("nemo", "nEMO")):
        for split in ("validation", "test"):
            for condition, label in (("clean", "clean"), ("noisy", "0-5 dB babble/white")):
                key = f"{corpus}_{split}_{condition}"
                if key in critic:
                    speakers = ", ".join(a.split("-", 1)[1] for a in critic[key]["speakers"])
                    rows.append(_row(f"{name} {split} ({speakers}), {label}", critic[key]))
    nonspeech = critic.get("nonspeech_test")
    ood = ""
    if nonspeech:
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in nonspeech["per_kind"].items())
        ood = (f"\nNon-speech (held-out draws, {nonspeech['clips']} clips; music from EMOPIA test songs): mean top probability "
               f"{nonspeech['mean_top_prob']:.3f} ({kinds}); {nonspeech['uncertain_share']:.0%} flagged uncertain.\n")
    test, val = scores["encoder_test"], scores["encoder_validation"]
    smoothing = ", ".join(f"{k} {v:g}" for k, v in config.get("corpus_smoothing", {}).items())
    recipe = (f"RAVDESS{' + nEMO' if nemo else ''} clean clips ({train.get('clean', 0)}), {config.get('augment_copies', 0)} augmented copies of each "
              f"training clip ({train.get('augmented', 0)}: speed 0.88-1.12x, random EQ, reverberation RT60 0.2-1 s, low-/high-pass, "
              f"white/pink/brown/babble noise at -5..30 dB SNR, level -45..-12 dBFS, mp3/Opus at 8-24 kbit/s, each drawn at random) and "
              f"{train.get('nonspeech', 0)} non-speech clips (white/pink/brown noise, sine chords, mains hum, clicks, near-silence, piano "
              f"music) trained toward the uniform distribution; the mel level is normalised per utterance")
    targets = (f"label smoothing {config.get('label_smoothing', 0.0):g}" + (f" ({smoothing})" if smoothing else "")
               + f", more toward uniform below {config.get('smooth_below_snr_db', 15.0):g} dB SNR")
    body = f"""Log-mel + normalised log-F0 + voicing -> residual 1-D CNN -> mean/std pooling -> 16-d point of the shared
space, read out over RAVDESS' 8 categories. Data: {recipe}. Loss: cross-entropy over the bank's Gaussian
log-likelihoods ({targets}), MSE of the
bank's VAD read-out to the directional target, MSE of the projected intensity to 1.0 (strong) / 0.6 (normal)
/ {config.get('unknown_intensity', 0.8):g} (nEMO), and a gradient-reversal speaker classifier.

**Calibration.** Temperature scaling fitted on the validation speakers (corpora weighted equally):
T = {cal['temperature']:.3f}, stored in `speech_critic/config.json` (`temperature`) and applied by
`SpeechEmotionEncoder.posterior` and `recognize_emotion`. A reading whose top probability is below
`uncertain_below` = {cal['uncertain_below']:.2f} is flagged `uncertain` (`VoiceEmotion.uncertain`, `label` "uncertain"):
the lowest threshold above which validation speech, clean and 0-5 dB noisy, is right at least
{config.get("uncertain_accuracy", 0.6):.0%} of the time.

Held-out speakers (never seen in training); accuracy over the 8 read-out categories (nEMO has 6 of them),
ECE with {critic['num_bins']} equal-width bins before -> after calibration, mean top probability before -> after,
share flagged uncertain:

| speakers | clips | accuracy | UAR | ECE | mean top p | uncertain |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
{ood}
RAVDESS projected intensity strong / normal: validation {val['intensity_strong']:.2f} / {val['intensity_normal']:.2f},
test {test['intensity_strong']:.2f} / {test['intensity_normal']:.2f}.

Linear speaker-ID probe (5-fold logistic regression over the {1 / scores['speaker_probe_chance']:.0f} unseen RAVDESS actors 17-20,
chance {scores['speaker_probe_chance']:.2f}): on the embedding {scores['speaker_probe_embedding']:.3f}, on the
pooled raw input features {scores['speaker_probe_raw_features']:.3f} (lower = less identity in the embedding)."""
    text = _replace_section(text, "Data", data)
    text = _replace_section(text, "Command", command)
    text = _replace_section(text, "Speech emotion encoder (speech critic)", body)
    text = _critic_limits(text)
    if output is not None:  # the size line of the header
        from .recipe import folder_megabytes

        text = re.sub(r"Total size [0-9.]+ MB\.", f"Total size {folder_megabytes(output):.1f} MB.", text, count=1)
    return text
