"""The portrait recipe: landmark cache -> face emotion encoder (critic) -> motion denoiser -> pipeline folder.

``emogen train portrait --output checkpoints/portrait`` runs :func:`train_portrait`, which reproduces the
shipped checkpoint (see its model card) on one CPU thread in about 20 minutes, both models through
:func:`~emogen.training.fit`.

Motion denoiser (v-prediction, cosine schedule) on random windows of three kinds of rows:

- **GRID** (lip sync): GRID s1 motion with its audio; emotion neutral (the bank's neutral point);
- **MEAD** (expressions): MEAD motion, audio null, emotion = the clip's category at intensity 1;
- **mixed** (so audio and emotion combine, and intensity is a real knob): GRID motion plus
  ``a`` times the MEAD per-emotion static expression offset (:func:`expression_offsets`: the emotion's
  closed-mouth shape minus the neutral one, averaged over identities, eye units), conditioned on the audio and on
  emotion ``k:a`` with ``a ~ U(0, 1)``, i.e. the bank point ``mu_neutral + a (mu_k - mu_neutral)``.

Emotion and audio are each dropped at random (:class:`~emogen.emotion.EmotionDropout` for the emotion,
a null audio with mask 0 for the audio), so sampling combines them by compositional guidance.

Face critic: :class:`~emogen.portrait.critic.FaceEmotionEncoder` on MEAD frames (plus GRID frames as
more neutral faces), with the bank's Gaussian likelihood, its VAD head and the directional intensity,
half the rows as absolute eye-frame geometry and half as offsets from the person's rest placed on the
mean face; one MEAD identity is held out for model selection.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..emotion import EmotionBank, EmotionCondition, EmotionDropout, EmotionSpec
from ..pipelines.pipeline_emo_portrait import DEFAULT_EMOTION_GUIDANCE
from ..portrait.critic import MEAD_CATEGORIES, FaceEmotionEncoder
from ..portrait.dataset import smooth_landmarks
from ..portrait.geometry import MOUTH, mouth_opening
from ..portrait.motion import LANDMARK_CHANNELS, PortraitMotionDenoiser, make_scheduler
from .loop import FitConfig, FitResult, GeneratorState, seeded_init
from .recipe import TrainRun, finish_recipe, folder_megabytes, replace_component, train_state_dir

__all__ = ["CriticTrainConfig", "MotionTrainConfig", "PortraitTrainConfig", "calibrate_face_critic", "evaluate_critic", "expression_offsets",
           "lip_sync_scores", "portrait_model_card", "retrain_portrait_critic", "train_critic", "train_motion", "train_portrait"]

logger = logging.getLogger(__name__)


@dataclass
class MotionTrainConfig:
    """Hyper-parameters of :func:`train_motion` (defaults reproduce the shipped checkpoint)."""

    steps: int = 6000
    batch_size: int = 32
    min_window: int = 40
    max_window: int = 75
    lr: float = 1e-3
    grid_share: float = 0.3
    mead_share: float = 0.2  # the rest are mixed rows
    emotion_dropout: float = 0.15
    audio_dropout: float = 0.15
    num_train_timesteps: int = 1000
    seed: int = 0
    denoiser_kwargs: dict = field(default_factory=lambda: {"window": 72})


@dataclass
class CriticTrainConfig:
    """Hyper-parameters of :func:`train_critic` (defaults reproduce the shipped checkpoint)."""

    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-2
    val_identity: str = "W011"
    offset_share: float = 0.5
    grid_share: float = 0.15
    noise: float = 0.01
    vad_weight: float = 1.0
    intensity_weight: float = 1.0
    seed: int = 0
    encoder_kwargs: dict = field(default_factory=dict)


@dataclass
class PortraitTrainConfig:
    """The whole recipe: the landmark cache, and both models' hyper-parameters."""

    cache: str = "runs/portrait_cache"
    grid_limit: int | None = None
    eval_steps: int = 10
    eval_audio_guidance: float = 1.0
    eval_emotion_guidance: float = DEFAULT_EMOTION_GUIDANCE
    eval_temperature: float = 0.5
    eval_smooth: bool = True
    motion: MotionTrainConfig = field(default_factory=MotionTrainConfig)
    critic: CriticTrainConfig = field(default_factory=CriticTrainConfig)


# --------------------------------------------------------------------------------------------- data
def _closed_mouth_shape(clip, fraction: float) -> np.ndarray:
    """Mean eye-frame shape `(68, 2)` of the ``fraction`` of a clip's frames with the smallest mouth opening."""
    shapes = clip.shapes
    count = max(1, int(round(fraction * len(shapes))))
    return shapes[np.argsort(mouth_opening(shapes))[:count]].mean(0)


def expression_offsets(mead: list, categories: tuple[str, ...] = MEAD_CATEGORIES, closed_fraction: float = 0.25) -> dict[str, np.ndarray]:
    """Static expression offset of each emotion `(136,)` in eye units, averaged over identities.

    Per identity: the mean shape of the ``closed_fraction`` of the emotion clip's frames with the smallest
    mouth opening minus the same for its neutral clip, so the offset holds the expression (brows, eyes,
    mouth corners, a smile's parted lips) rather than how wide the person talked; the audio drives the
    talking.
    """
    neutral = {c.identity: _closed_mouth_shape(c, closed_fraction) for c in mead if c.emotion == "neutral"}
    out = {}
    for name in categories:
        rows = [(_closed_mouth_shape(c, closed_fraction) - neutral[c.identity]).reshape(-1)
                for c in mead if c.emotion == name and c.identity in neutral]
        if rows:
            out[name] = np.mean(rows, axis=0).astype(np.float32)
    return out


def _window(clip_array: np.ndarray, length: int, gen: torch.Generator) -> tuple[np.ndarray, int, int]:
    """A random window of ``length`` frames (edge-padded when the clip is shorter); returns it, its start and valid frames."""
    n = len(clip_array)
    if n >= length:
        start = int(torch.randint(0, n - length + 1, (1,), generator=gen))
        return clip_array[start : start + length], start, length
    pad = np.repeat(clip_array[-1:], length - n, axis=0)
    return np.concatenate([clip_array, pad]), 0, n


def _crop(clip, length: int, gen: torch.Generator) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    motion, start, valid = _window(clip.motion, length, gen)
    audio = None
    if clip.audio is not None:
        a = clip.audio[start : start + length]
        audio = np.concatenate([a, np.repeat(a[-1:], length - len(a), axis=0)]) if len(a) < length else a
    mask = np.zeros(length, np.float32)
    mask[:valid] = 1.0
    return motion, audio, mask


# --------------------------------------------------------------------------------------------- motion
def train_motion(grid: list, mead: list, bank: EmotionBank, config: MotionTrainConfig,
                 run: TrainRun | None = None) -> tuple[PortraitMotionDenoiser, object, FitResult, dict[str, np.ndarray]]:
    """Train the motion denoiser on GRID, MEAD and mixed rows; returns the model, its scheduler, the fit and the offsets."""
    run = run or TrainRun()
    offsets = expression_offsets(mead)
    emotional = [k for k in offsets if k != "neutral"]
    with seeded_init(config.seed):
        model = PortraitMotionDenoiser(emotion_dim=bank.config.embedding_dim, **config.denoiser_kwargs)
    motion = np.concatenate([c.motion for c in grid + mead])
    audio = np.concatenate([c.audio for c in grid])
    model.set_statistics(motion, audio)
    scheduler = make_scheduler(config.num_train_timesteps)
    dropout = EmotionDropout(config.emotion_dropout, seed=config.seed)
    neutral = bank.condition("neutral")
    mead_conditions = {k: bank.condition(f"{k}:1" if k != "neutral" else "neutral") for k in offsets}
    alphas = scheduler.alphas_cumprod
    device = run.device
    audio_dim = model.config.audio_channels

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        length = int(torch.randint(config.min_window, config.max_window + 1, (1,), generator=gen))
        motions, audios, audio_masks, masks, conditions = [], [], [], [], []
        kinds = torch.rand(config.batch_size, generator=gen)
        for u in kinds.tolist():
            if u < config.grid_share or u >= config.grid_share + config.mead_share:  # GRID or mixed row
                clip = grid[int(torch.randint(0, len(grid), (1,), generator=gen))]
                m, a, mask = _crop(clip, length, gen)
                cond = neutral
                if u >= config.grid_share + config.mead_share:
                    k = emotional[int(torch.randint(0, len(emotional), (1,), generator=gen))]
                    amount = float(torch.rand(1, generator=gen))
                    m = m.copy()
                    m[:, :LANDMARK_CHANNELS] += amount * offsets[k]
                    cond = bank.condition(f"{k}:{amount:.4f}")
                audio_on = float(torch.rand(1, generator=gen)) >= config.audio_dropout
            else:  # MEAD row: expression without audio
                clip = mead[int(torch.randint(0, len(mead), (1,), generator=gen))]
                m, a, mask = _crop(clip, length, gen)
                cond = mead_conditions[clip.emotion]
                a, audio_on = None, False
            motions.append(m)
            audios.append(a if a is not None else np.zeros((length, audio_dim), np.float32))
            audio_masks.append(1.0 if audio_on else 0.0)
            masks.append(mask)
            conditions.append(cond)
        x0 = model.normalize_motion(torch.from_numpy(np.stack(motions)).transpose(1, 2).to(device))
        aud = model.normalize_audio(torch.from_numpy(np.stack(audios)).transpose(1, 2).to(device))
        audio_mask = torch.tensor(audio_masks, device=device)
        mask = torch.from_numpy(np.stack(masks)).to(device)
        emotion = dropout(EmotionCondition.cat(conditions)).to(device)
        t = torch.randint(0, config.num_train_timesteps, (config.batch_size,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen).to(device)
        noisy = scheduler.add_noise(x0, noise, t)
        a_t = alphas[t].sqrt()[:, None, None].to(device)
        s_t = (1 - alphas[t]).sqrt()[:, None, None].to(device)
        pred = model(noisy, t.to(device), aud, audio_mask, emotion.embedding, emotion.mask).sample
        loss = (((pred - (a_t * noise - s_t * x0)) ** 2).mean(1) * mask).sum() / mask.sum()
        return {"loss": loss}

    fit_config = FitConfig(steps=config.steps, lr=config.lr, weight_decay=1e-4, max_grad_norm=1.0, pct_start=0.05,
                           log_every=100, seed=config.seed, desc="motion")
    result = run.fit("motion", model, step, fit_config, stateful=[GeneratorState(dropout.generator)])
    return model.to("cpu").eval(), scheduler, result, offsets


# --------------------------------------------------------------------------------------------- critic
def _critic_rows(clips: list, template: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: absolute eye-frame shapes, identity-free shapes (template + offsets), labels and clip index."""
    shapes, free, labels, index = [], [], [], []
    for n, c in enumerate(clips):
        offsets = c.motion[:, :LANDMARK_CHANNELS].reshape(-1, 68, 2)
        shapes.append(offsets + c.rest[None])
        free.append(offsets + template[None])
        labels += [c.emotion] * len(offsets)
        index += [n] * len(offsets)
    return np.concatenate(shapes), np.concatenate(free), np.array(labels), np.array(index)


@torch.no_grad()
def _critic_logits(critic: FaceEmotionEncoder, bank: EmotionBank, clips: list, template: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per input kind (``absolute`` eye-frame shapes, identity-free ``offsets``): the critic's uncalibrated frame
    logits over its categories and the frames' category indices."""
    critic.eval()
    categories = list(critic.config.categories)
    shapes, free, labels, _ = _critic_rows(clips, template)
    target = np.array([categories.index(str(x)) for x in labels])
    device = critic.feature_mean.device
    return {name: (critic.logits(critic(torch.from_numpy(x).to(device)).embedding, bank).cpu().numpy(), target)
            for name, x in (("absolute", shapes), ("offsets", free))}


@torch.no_grad()
def evaluate_critic(critic: FaceEmotionEncoder, bank: EmotionBank, clips: list, template: np.ndarray, num_bins: int = 15) -> dict[str, float]:
    """Frame and clip accuracy over the critic's categories, absolute and identity-free inputs, the mean
    projected intensity of the emotional clips, and the frames' calibration: ECE (``num_bins`` bins) and mean top
    probability of the bank's plain posterior and of the critic's calibrated one."""
    from ..calibration import expected_calibration_error, softmax

    if not clips:
        return {}
    critic.eval()
    categories = list(critic.config.categories)
    shapes, free, labels, index = _critic_rows(clips, template)
    target = np.array([categories.index(str(x)) for x in labels])
    scores: dict[str, float] = {}
    for name, x in (("absolute", shapes), ("offsets", free)):
        emb = critic(torch.from_numpy(x).to(critic.feature_mean.device)).embedding.to(bank.means.device)
        frame_logits = critic.logits(emb, bank).cpu().numpy()
        before, after = softmax(frame_logits), softmax(frame_logits, critic.temperature)
        scores[f"frame_accuracy_{name}"] = float((after.argmax(1) == target).mean())
        scores[f"frame_ece_before_{name}"] = expected_calibration_error(before, target, num_bins)
        scores[f"frame_ece_after_{name}"] = expected_calibration_error(after, target, num_bins)
        scores[f"frame_mean_top_prob_before_{name}"] = float(before.max(1).mean())
        scores[f"frame_mean_top_prob_after_{name}"] = float(after.max(1).mean())
        scores[f"frame_uncertain_share_{name}"] = float(np.mean(after.max(1) < critic.uncertain_below))
        clip_emb = torch.stack([emb[torch.from_numpy(index == n).to(emb.device)].mean(0) for n in range(len(clips))])
        clip_pred = critic.posterior(clip_emb, bank).argmax(-1).cpu().numpy()
        clip_target = np.array([categories.index(c.emotion) for c in clips])
        scores[f"clip_accuracy_{name}"] = float((clip_pred == clip_target).mean())
        intens = [float(bank.project_intensity(clip_emb[n : n + 1], c.emotion)[0]) for n, c in enumerate(clips) if c.emotion != "neutral"]
        scores[f"intensity_{name}"] = float(np.mean(intens)) if intens else float("nan")
    return scores


def calibrate_face_critic(critic: FaceEmotionEncoder, bank: EmotionBank, clips: list, template: np.ndarray,
                          target_accuracy: float = 0.6) -> dict[str, float]:
    """Fit the critic's temperature on the frames of ``clips`` (the held-out identity; absolute and identity-free
    inputs pooled, as the critic reads both), choose its "uncertain" threshold there (the lowest top probability above
    which frames are right at least ``target_accuracy`` of the time, as for the speech critic) and store both in
    ``critic.config``; returns them and the NLL before and after."""
    from ..calibration import fit_temperature, negative_log_likelihood, softmax, uncertain_threshold

    parts = _critic_logits(critic, bank, clips, template).values()
    logits, labels = np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])
    temperature = fit_temperature(logits, labels)
    threshold = uncertain_threshold(softmax(logits, temperature), labels, target_accuracy)
    critic.set_calibration(temperature, threshold)
    return {"temperature": temperature, "uncertain_below": threshold, "nll_before": negative_log_likelihood(logits, labels),
            "nll_after": negative_log_likelihood(logits, labels, temperature)}


def train_critic(train: list, val: list, grid: list, bank: EmotionBank, config: CriticTrainConfig,
                 run: TrainRun | None = None) -> tuple[FaceEmotionEncoder, dict[str, float], FitResult]:
    """Train the face critic on MEAD frames (``train`` identities) plus GRID frames as neutral; model selection on ``val``,
    whose frames then calibrate it (:func:`calibrate_face_critic`); the scores are on ``val`` after calibration."""
    run = run or TrainRun()
    template = np.mean([c.rest for c in train] + [grid[0].rest], axis=0).astype(np.float32)
    shapes, free, labels, _ = _critic_rows(train, template)
    grid_rows = np.concatenate([c.motion[::5, :LANDMARK_CHANNELS].reshape(-1, 68, 2) + c.rest[None] for c in grid[:200]])
    grid_free = grid_rows - grid[0].rest[None] + template[None]
    with seeded_init(config.seed):
        critic = FaceEmotionEncoder(embedding_dim=bank.config.embedding_dim, **config.encoder_kwargs)
    stacked = np.concatenate([shapes, free]).reshape(-1, LANDMARK_CHANNELS)
    critic.feature_mean.copy_(torch.from_numpy(stacked.mean(0)))
    critic.feature_std.copy_(torch.from_numpy(stacked.std(0) + 1e-3))
    critic.template.copy_(torch.from_numpy(template))
    bank = bank.requires_grad_(False).to(run.device)
    label_index = torch.tensor([bank.category_index(str(x)) for x in labels])
    neutral_index = bank.category_index("neutral")
    device = run.device

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        n_grid = int(round(config.grid_share * config.batch_size))
        n_mead = config.batch_size - n_grid
        idx = torch.randint(0, len(shapes), (n_mead,), generator=gen)
        use_free = (torch.rand(n_mead, generator=gen) < config.offset_share).numpy()
        x = np.where(use_free[:, None, None], free[idx.numpy()], shapes[idx.numpy()])
        gidx = torch.randint(0, len(grid_rows), (n_grid,), generator=gen).numpy()
        g_free = (torch.rand(n_grid, generator=gen) < config.offset_share).numpy()
        g = np.where(g_free[:, None, None], grid_free[gidx], grid_rows[gidx])
        batch = torch.from_numpy(np.concatenate([x, g]).astype(np.float32))
        batch = batch + config.noise * torch.randn(batch.shape, generator=gen)
        y = torch.cat([label_index[idx], torch.full((n_grid,), neutral_index)]).to(device)
        emb = critic(batch.to(device)).embedding
        ce = nn.functional.cross_entropy(bank.log_likelihood(emb), y)
        amount = (y != neutral_index).float()
        vad = nn.functional.mse_loss(bank.vad(emb), amount[:, None] * bank.anchor_vad[y])
        d = bank.directions[y]
        proj = ((emb - bank.means[0]) * d).sum(-1) / (d * d).sum(-1).clamp_min(1e-8)
        emotional = y != neutral_index
        inten = nn.functional.mse_loss(proj[emotional], amount[emotional]) if emotional.any() else emb.sum() * 0
        loss = ce + config.vad_weight * vad + config.intensity_weight * inten
        return {"loss": loss, "ce": ce, "vad": vad, "intensity": inten}

    def validate() -> float:
        scores = evaluate_critic(critic, bank, val, template)
        critic.train()
        logger.info("critic val: %s", {k: round(v, 3) for k, v in scores.items()})
        return scores["frame_accuracy_absolute"] + scores["frame_accuracy_offsets"]

    fit_config = FitConfig(steps=config.steps, lr=config.lr, weight_decay=config.weight_decay, max_grad_norm=5.0, pct_start=0.1,
                           log_every=100, seed=config.seed, desc="critic")
    result = run.fit("critic", critic, step, fit_config, validate=validate if val else None, validate_every=100)
    critic = critic.to("cpu").eval()
    bank.to("cpu")
    calibration = calibrate_face_critic(critic, bank, val, template) if val else {}
    return critic, {**evaluate_critic(critic, bank, val, template), **{f"calibration_{k}": v for k, v in calibration.items()}}, result


# --------------------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def lip_sync_scores(pipe, clips: list, steps: int = 10, audio_guidance: float = 1.0, temperature: float = 0.5, smooth: bool = True,
                    seed: int = 0) -> dict[str, float]:
    """Held-out lip sync: mouth landmark distance (M-LMD, eye units, mean over mouth points and frames) between
    sampled and real motion, and the correlation of mouth opening, next to a still face (zero offsets); and
    jitter (mean landmark acceleration, eye units per frame squared) of the sampled and the real motion."""
    import contextlib

    condition = pipe.encode_emotion("neutral", batch_size=1)
    generated, still, corr, jitter, jitter_real = [], [], [], [], []
    for n, clip in enumerate(clips):
        motion = pipe.sample_motion(clip.audio, condition, steps, audio_guidance, 1.0, temperature,
                                    torch.Generator().manual_seed(seed + n), _NoProgress())
        motion = smooth_landmarks(motion) if smooth else motion
        real = clip.motion[:, :LANDMARK_CHANNELS].reshape(-1, 68, 2)
        fake = motion[: len(real), :LANDMARK_CHANNELS].reshape(-1, 68, 2)
        generated.append(float(np.linalg.norm(fake[:, MOUTH] - real[:, MOUTH], axis=-1).mean()))
        still.append(float(np.linalg.norm(real[:, MOUTH], axis=-1).mean()))
        jitter.append(float(np.linalg.norm(np.diff(fake, 2, axis=0), axis=-1).mean()))
        jitter_real.append(float(np.linalg.norm(np.diff(real, 2, axis=0), axis=-1).mean()))
        a, b = mouth_opening(fake + clip.rest[None]), mouth_opening(real + clip.rest[None])
        with contextlib.suppress(FloatingPointError):
            if a.std() > 1e-6 and b.std() > 1e-6:
                corr.append(float(np.corrcoef(a, b)[0, 1]))
    return {"clips": len(clips), "m_lmd": float(np.mean(generated)), "m_lmd_still_face": float(np.mean(still)),
            "mouth_opening_correlation": float(np.mean(corr)) if corr else float("nan"),
            "jitter": float(np.mean(jitter)), "jitter_real": float(np.mean(jitter_real))}


class _NoProgress:
    def update(self, n: int = 1) -> None:
        """Ignore progress."""


@torch.no_grad()
def intensity_response(pipe, clip, steps: int = 10, audio_guidance: float = 1.0, emotion_guidance: float = DEFAULT_EMOTION_GUIDANCE, temperature: float = 0.5,
                       seed: int = 0) -> dict[str, dict[str, float]]:
    """The critic's reading of sampled motion for each emotion at intensity 0.3 and 1.0 on one held-out clip's audio."""
    out = {}
    for name in MEAD_CATEGORIES[1:]:
        row = {}
        for amount in (0.3, 1.0):
            spec = f"{name}:{amount}"
            motion = pipe.sample_motion(clip.audio, pipe.encode_emotion(spec, 1), steps, audio_guidance, emotion_guidance, temperature,
                                        torch.Generator().manual_seed(seed), _NoProgress())
            scores = pipe._critic_scores(motion, EmotionSpec.parse(spec))
            row[f"p_{amount}"] = scores.get(f"p_{name}", float("nan"))
            row[f"intensity_{amount}"] = scores.get("intensity", float("nan"))
        out[name] = row
    return out


# --------------------------------------------------------------------------------------------- card
def portrait_model_card(output: Path, scores: dict) -> str:
    """The portrait checkpoint's card: components, data and licences, command and time, scores."""
    minutes, lip, critic, data = scores["minutes"], scores["lip_sync"], scores["critic_validation"], scores["data"]
    calibration = ""
    if "calibration_temperature" in critic:
        calibration = (f"\nCalibration: temperature {critic['calibration_temperature']:.2f}, fitted on the held-out identity's frames (NLL "
                       f"{critic['calibration_nll_before']:.2f} -> {critic['calibration_nll_after']:.2f}); ECE (15 bins) "
                       f"{critic['frame_ece_before_absolute']:.3f} -> {critic['frame_ece_after_absolute']:.3f} (absolute) / "
                       f"{critic['frame_ece_before_offsets']:.3f} -> {critic['frame_ece_after_offsets']:.3f} (offsets), mean top probability "
                       f"{critic['frame_mean_top_prob_before_absolute']:.2f} -> {critic['frame_mean_top_prob_after_absolute']:.2f}; "
                       f"readings below {critic.get('calibration_uncertain_below', 0.0):.2f} are reported as uncertain "
                       f"({critic.get('frame_uncertain_share_absolute', float('nan')):.0%} of the held-out frames); "
                       "across identities: `python benchmarks/portrait_critic.py`.")
    motion_loss = scores["motion_final_loss"]
    response = scores["intensity_response"]
    rows = "\n".join(
        f"| {k} | {response[k]['p_0.3']:.2f} / {response[k]['p_1.0']:.2f} | {response[k]['intensity_0.3']:.2f} / {response[k]['intensity_1.0']:.2f} |"
        for k in MEAD_CATEGORIES if k in response
    )
    return f"""# emogen portrait checkpoint (`EmoPortraitPipeline`)

Audio-driven emotional talking portraits: the denoiser samples landmark motion from speech and an emotion
at an intensity, and the renderer warps the user's own photo by it (nothing is regenerated). Trained from
scratch by `emogen train portrait` on a CPU. Diffusers layout: `model_index.json`, `motion_denoiser/`
(`PortraitMotionDenoiser`), `scheduler/` (DDIM, v-prediction, cosine schedule, trailing timesteps), `emotion_bank/` (the shared
`EmotionBank`, fixed), `face_critic/` (`FaceEmotionEncoder`). Total size {folder_megabytes(output):.1f} MB.

## Data and licences
- **GRID** audio-visual corpus, speaker s1 (Cooke et al., 2006), **CC BY 4.0**: {data['grid_train']} clips for
  lip sync, {data['grid_test']} held out (names sorting into the last 5 %).
- **MEAD** front-view clips, 3 identities x 8 emotions (Wang et al., 2020), **research use only**: these
  weights inherit that restriction. {data['mead']} clips.
- Landmarks come from dlib's 68-point shape predictor (`face-recognition-models`), whose training data
  (iBUG 300-W) **excludes commercial use**.

## Command and time
```
emogen prepare portrait                                  # landmark + audio feature cache (runs/portrait_cache)
emogen train portrait --output checkpoints/portrait      # 1 CPU thread, seed 0
```
{minutes['total']:.1f} min on the shared 2-core development CPU (critic {minutes['critic']:.1f}, motion
{minutes['motion']:.1f}, evaluation {minutes['evaluation']:.1f}), not counting the cache.

## Motion denoiser
140 channels per 25 fps frame: 68 landmark offsets from the person's rest shape in the eye frame
(origin between the eye centres, unit = inter-ocular distance) and 4 pose channels. A FiLM temporal
denoiser ({scores['config']['motion']['denoiser_kwargs']}) conditioned on speech features (log-mel,
log-F0, voicing; a mask channel for the null audio) and on the bank point of the emotion. Rows: GRID with
audio and neutral emotion; MEAD with null audio and the category at intensity 1; and GRID motion plus
`a` times the MEAD per-emotion expression offset (closed-mouth frames of the emotion minus those of
neutral, averaged over the 3 identities) with emotion `k:a`, `a ~ U(0, 1)`. Emotion and
audio are each dropped at random; sampling uses compositional guidance
`p(∅, n) + s_a (p(a, n) - p(∅, n)) + s_e (p(a, e) - p(a, n))`, with `n` the neutral condition;
the emotion term leaves the skull points (upper jaw line, nose bridge) to the neutral prediction. Final training loss {motion_loss:.3f}.

Held-out GRID lip sync ({lip['clips']} clips, {scores['config']['eval_steps']} DDIM steps, audio guidance
{scores['config']['eval_audio_guidance']}, temperature {scores['config']['eval_temperature']}, smoothing {scores['config']['eval_smooth']}, as the pipeline's defaults): mouth landmark distance **{lip['m_lmd']:.4f}** eye units vs
**{lip['m_lmd_still_face']:.4f}** for a still face; mouth-opening correlation with the real video
{lip['mouth_opening_correlation']:.2f}. Jitter (mean landmark acceleration, eye units / frame²) {lip['jitter']:.4f}
vs {lip['jitter_real']:.4f} in the real (tracked, smoothed) video.

## Face critic
68 eye-frame landmarks -> MLP -> 16-d point of the shared space, trained with the bank likelihood, VAD and
directional intensity on MEAD frames of {', '.join(scores['critic_identities'])} (GRID frames as more
neutral faces); held-out identity {scores['config']['critic']['val_identity']} ({len(MEAD_CATEGORIES)} categories,
chance {1 / len(MEAD_CATEGORIES):.2f}): frame accuracy {critic['frame_accuracy_absolute']:.2f} (absolute geometry) /
{critic['frame_accuracy_offsets']:.2f} (offsets on the mean face), clip accuracy {critic['clip_accuracy_absolute']:.2f} /
{critic['clip_accuracy_offsets']:.2f}.{calibration}

Critic reading of sampled motion (one held-out GRID clip's audio, emotion guidance
{scores['config']['eval_emotion_guidance']}): target probability and projected intensity at intensity 0.3 / 1.0:

| emotion | p(target) | intensity |
|---|---|---|
{rows}

## Limits
One GRID speaker for lip sync (English, read sentences) and three MEAD identities for expressions: the
expression offsets are the average of three faces, and the critic has seen two identities. Frontal
portraits only; large head turns are out of domain. Landmark geometry cannot show wrinkles or teeth
changes beyond the renderer's mouth fill.
"""


# ---------------------------------------------------------------------------------------------- recipe
def _split_clips(clips: list) -> tuple[list, list, list]:
    """The cache's GRID training clips, GRID test clips (both with audio) and MEAD clips of the critic's categories."""
    grid = [c for c in clips if c.source == "grid" and c.split == "train" and c.audio is not None]
    grid_test = [c for c in clips if c.source == "grid" and c.split == "test" and c.audio is not None]
    mead = [c for c in clips if c.source == "mead" and c.emotion in MEAD_CATEGORIES]
    return grid, grid_test, mead


def retrain_portrait_critic(output: str | os.PathLike[str], config: PortraitTrainConfig | None = None, data_root: str | None = None) -> dict:
    """Retrain only the face critic of the portrait pipeline folder ``output`` (``--only critic``), calibrated on the
    held-out identity as in :func:`train_portrait`; the motion denoiser, scheduler and bank stay.

    The new critic replaces the old one (written beside it, then swapped); ``scores.json`` gets its validation
    scores, minutes and history (every other entry is kept). The model card is not rewritten. Returns the scores.
    """
    from ..errors import InputError
    from ..portrait.dataset import build_portrait_cache
    from ..utils import atomic_output

    output = Path(output)
    if not (output / "model_index.json").is_file() or not (output / "emotion_bank").is_dir():
        raise InputError(f"--only critic needs an existing portrait pipeline folder, and {str(output)!r} has no "
                         "model_index.json/emotion_bank; train it first without --only")
    config = config or PortraitTrainConfig()
    run = TrainRun()
    grid, _, mead = _split_clips(build_portrait_cache(config.cache, root=data_root, grid_limit=config.grid_limit))
    bank = EmotionBank.from_pretrained(str(output), subfolder="emotion_bank").eval()
    critic_train = [c for c in mead if c.identity != config.critic.val_identity]
    critic_val = [c for c in mead if c.identity == config.critic.val_identity]
    with run.timed("critic"):
        critic, critic_scores, critic_fit = train_critic(critic_train, critic_val, grid, bank, config.critic, run)
    replace_component(output, "face_critic", critic)
    path = output / "scores.json"
    scores = json.loads(path.read_text()) if path.is_file() else {}
    scores.update({"critic_validation": critic_scores, "critic_identities": sorted({c.identity for c in critic_train})})
    minutes = scores.setdefault("minutes", {})
    minutes["critic"] = run.minutes["critic"]
    scores.setdefault("history", {})["critic"] = critic_fit.history
    scores.setdefault("config", {})["critic"] = json.loads(json.dumps(asdict(config.critic), default=list))
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(scores, indent=2, sort_keys=True, default=list) + "\n")
    logger.info("face critic retrained (%.1f min): %s", run.minutes["critic"], critic_scores)
    return scores


def train_portrait(output: str | os.PathLike[str], config: PortraitTrainConfig | None = None, data_root: str | None = None, *,
                   resume: bool = False, checkpoint_every: int | None = None) -> dict:
    """Train the face critic and the motion denoiser; write the pipeline folder ``output`` (see the module docstring).

    Returns the scores (also in ``scores.json``): held-out GRID lip sync vs a still face, critic accuracy
    on the held-out MEAD identity, the critic's reading of sampled motion per emotion and intensity, minutes.
    """
    from ..pipelines.pipeline_emo_portrait import EmoPortraitPipeline
    from ..portrait.dataset import build_portrait_cache

    config = config or PortraitTrainConfig()
    run = TrainRun(checkpoint_dir=train_state_dir(output), resume=resume, checkpoint_every=checkpoint_every)
    with run.timed("total"):
        with run.timed("cache"):
            clips = build_portrait_cache(config.cache, root=data_root, grid_limit=config.grid_limit)
        grid, grid_test, mead = _split_clips(clips)
        logger.info("portrait cache: %d GRID train, %d GRID test, %d MEAD clips (%.1f min)", len(grid), len(grid_test), len(mead), run.minutes["cache"])
        bank = EmotionBank().eval()
        critic_train = [c for c in mead if c.identity != config.critic.val_identity]
        critic_val = [c for c in mead if c.identity == config.critic.val_identity]
        with run.timed("critic"):
            critic, critic_scores, critic_fit = train_critic(critic_train, critic_val, grid, bank, config.critic, run)
        logger.info("critic: %s", critic_scores)
        with run.timed("motion"):
            denoiser, scheduler, motion_fit, offsets = train_motion(grid, mead, bank, config.motion, run)
        pipe = EmoPortraitPipeline(motion_denoiser=denoiser, scheduler=scheduler, emotion_bank=bank, face_critic=critic)
        pipe.set_progress_bar_config(disable=True)
        with run.timed("evaluation"):
            lip = lip_sync_scores(pipe, grid_test, config.eval_steps, config.eval_audio_guidance, config.eval_temperature, config.eval_smooth)
            response = intensity_response(pipe, grid_test[0], config.eval_steps, config.eval_audio_guidance, config.eval_emotion_guidance,
                                          config.eval_temperature) if grid_test else {}
        logger.info("lip sync: %s", lip)

    losses = motion_fit.trace.get("loss", [])
    scores = {
        "lip_sync": lip,
        "critic_validation": critic_scores,
        "critic_identities": sorted({c.identity for c in critic_train}),
        "intensity_response": response,
        "expression_offset_norms": {k: float(np.linalg.norm(v.reshape(68, 2), axis=-1).mean()) for k, v in offsets.items()},
        "motion_final_loss": float(np.mean(losses[-200:])) if losses else float("nan"),
        "data": {"grid_train": len(grid), "grid_test": len(grid_test), "mead": len(mead)},
        "minutes": dict(run.minutes),
        "config": json.loads(json.dumps(asdict(config), default=list)),
        "history": {"critic": critic_fit.history, "motion": motion_fit.history},
    }
    finish_recipe(pipe, output, scores, portrait_model_card, run)
    return scores
