"""Tiny models, pipelines and synthetic inputs shared by the tests (and handy for examples).

Nothing here is a model: every network is untrained, with weights drawn from a seeded
:class:`torch.Generator` (nothing seeds the global random state). Use these to exercise plumbing:
call conventions, shapes, determinism, save/load round trips.

- :class:`TinyPipeline`: the smallest pipeline that follows emogen's conventions (one linear denoiser,
  a DDIM scheduler, the emotion bank). It lives in an importable module because ``model_index.json``
  records each custom component's module (here ``emogen.testing``) and ``from_pretrained`` imports it.
- :func:`build_tiny_music_pipeline`, :func:`build_tiny_voice_pipeline`: the real pipelines with tiny,
  random components; :func:`tiny_vqvae`, :func:`tiny_prior`, :func:`tiny_critic` build the music parts.
- :func:`tone`, :func:`speechlike`: synthetic audio; :func:`write_fake_ravdess`: a RAVDESS-named folder tree.

Example:
    >>> import torch
    >>> from emogen.testing import build_tiny_pipeline
    >>> pipe = build_tiny_pipeline(seed=0)
    >>> pipe("happy:0.7", generator=torch.Generator().manual_seed(0)).samples.shape
    (1, 8)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from emogen.emotion import EmotionBank, EmotionSpec
from emogen.modeling import BaseOutput, ConfigMixin, ModelMixin, register_to_config
from emogen.pipeline_utils import EmogenPipeline, EmogenPipelineOutput
from emogen.utils import atomic_output, make_generators, randn_tensor

if TYPE_CHECKING:
    from emogen.music.critic import MusicEmotionEncoder
    from emogen.music.prior import EmotionCodePrior
    from emogen.music.vqvae import ElementVQVAE
    from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline
    from emogen.pipelines.pipeline_emo_portrait import EmoPortraitPipeline
    from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline
    from emogen.schedulers import DDIMScheduler

__all__ = [
    "TINY_CODEBOOK_SIZES",
    "TinyDenoiser",
    "TinyDenoiserOutput",
    "TinyPipeline",
    "TinyPipelineOutput",
    "build_tiny_music_pipeline",
    "build_tiny_pipeline",
    "build_tiny_portrait_pipeline",
    "build_tiny_voice_pipeline",
    "randomize_parameters",
    "speechlike",
    "tiny_critic",
    "tiny_prior",
    "tiny_scheduler",
    "tiny_vqvae",
    "tone",
    "write_fake_ravdess",
]

#: Codebook sizes of the tiny music VQ-VAE and prior (one per element).
TINY_CODEBOOK_SIZES = [8, 8, 8, 8]


# ----------------------------------------------------------------------------- weights and scheduler


@torch.no_grad()
def randomize_parameters(modules: nn.Module | Iterable[nn.Module], generator: torch.Generator, scale: float | None = 0.3) -> None:
    """Overwrite the parameters of ``modules`` with draws from ``generator`` (no global random state).

    Args:
        modules (`nn.Module` or iterable of them): the modules whose parameters are replaced, in order.
        generator (`torch.Generator`): the source of randomness.
        scale (`float`, *optional*, defaults to 0.3): every parameter becomes ``scale * N(0, 1)``. With
            ``None``, weights get PyTorch's default range (uniform within ``1 / sqrt(fan_in)``), parameters
            that are constant after construction (norm scales, zero-initialised layers) keep their value
            and other 1-D parameters are drawn within 0.1.
    """
    modules = [modules] if isinstance(modules, nn.Module) else list(modules)
    for module in modules:
        for parameter in module.parameters():
            if scale is not None:
                parameter.copy_(scale * torch.randn(parameter.shape, generator=generator))
                continue
            if parameter.dim() >= 2:
                bound = 1.0 / math.sqrt(parameter[0].numel())
            elif parameter.numel() > 0 and bool(torch.all(parameter == parameter.flatten()[0])):
                continue  # a constant initialisation: keep it
            else:
                bound = 0.1
            parameter.copy_((2 * torch.rand(parameter.shape, generator=generator) - 1) * bound)


def tiny_scheduler(**config: Any) -> DDIMScheduler:
    """emogen's :class:`~emogen.schedulers.DDIMScheduler` (50 linear steps unless ``config`` overrides them)."""
    from emogen.schedulers import DDIMScheduler

    defaults = {"num_train_timesteps": 50, "beta_schedule": "linear", "clip_sample": False}
    return DDIMScheduler(**{**defaults, **config})


# ----------------------------------------------------------------------------- the convention pipeline


@dataclass
class TinyDenoiserOutput(BaseOutput):
    """Output of :class:`TinyDenoiser`.

    Args:
        sample (`torch.Tensor` of shape `(batch, sample_size)`): the predicted noise.
    """

    sample: torch.Tensor


class TinyDenoiser(ModelMixin, ConfigMixin):
    """Predicts noise from ``[x, emotion embedding, t]`` with one linear layer.

    Args:
        sample_size (`int`, *optional*, defaults to 8): length of each sample.
        emotion_dim (`int`, *optional*, defaults to 16): size of the emotion embedding.
    """

    @register_to_config
    def __init__(self, sample_size: int = 8, emotion_dim: int = 16) -> None:
        super().__init__()
        self.linear = nn.Linear(sample_size + emotion_dim + 1, sample_size)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor | int, emotion: torch.Tensor, return_dict: bool = True
    ) -> TinyDenoiserOutput | tuple[torch.Tensor]:
        """Predict the noise in ``sample`` at ``timestep`` under the ``emotion`` embedding."""
        t = torch.as_tensor(timestep, dtype=sample.dtype, device=sample.device).reshape(-1, 1).expand(sample.shape[0], 1)
        out = self.linear(torch.cat([sample, emotion.to(sample.dtype), t / 1000.0], dim=-1))
        if not return_dict:
            return (out,)
        return TinyDenoiserOutput(sample=out)


@dataclass
class TinyPipelineOutput(EmogenPipelineOutput):
    """Samples of :class:`TinyPipeline`, saved as ``.npy``.

    Args:
        samples (`np.ndarray` of shape `(batch, sample_size)`): the generated samples.
        emotions (`list[str]`): the emotion spec of each sample, normalised.
    """

    samples: np.ndarray
    emotions: list[str]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the samples atomically to a ``.npy`` file and return its path."""
        target = Path(path)
        if target.suffix != ".npy":
            msg = f"output {str(target)!r}: TinyPipelineOutput writes .npy files"
            raise ValueError(msg)
        with atomic_output(target) as tmp:
            np.save(tmp, self.samples)
        return target


class TinyPipeline(EmogenPipeline):
    """The smallest emogen pipeline: an emotion-conditioned denoiser run by a scheduler.

    Args:
        denoiser ([`TinyDenoiser`]): predicts the noise.
        scheduler ([`~emogen.schedulers.DDIMScheduler`]): the sampler.
        emotion_bank ([`~emogen.emotion.EmotionBank`]): turns emotion specs into embeddings.
    """

    model_cpu_offload_seq = "denoiser"

    def __init__(self, denoiser: TinyDenoiser, scheduler: DDIMScheduler, emotion_bank: EmotionBank) -> None:
        super().__init__()
        self.register_modules(denoiser=denoiser, scheduler=scheduler, emotion_bank=emotion_bank)

    @torch.no_grad()
    def __call__(
        self,
        emotion: str | EmotionSpec | list[str | EmotionSpec] = "neutral",
        batch_size: int = 1,
        num_inference_steps: int = 4,
        generator: torch.Generator | list[torch.Generator] | None = None,
        return_dict: bool = True,
    ) -> TinyPipelineOutput | tuple[np.ndarray]:
        """Generate ``batch_size`` samples for ``emotion`` (one spec, or one per sample).

        Args:
            emotion (`str`, [`EmotionSpec`] or a list of them): the emotion(s) to generate.
            batch_size (`int`, *optional*, defaults to 1): number of samples.
            num_inference_steps (`int`, *optional*, defaults to 4): denoising steps.
            generator (`torch.Generator` or `list[torch.Generator]`, *optional*): randomness; a list needs
                one generator per sample.
            return_dict (`bool`, *optional*, defaults to `True`): return a [`TinyPipelineOutput`] rather
                than a tuple.
        """
        # 1. check inputs
        make_generators(generator, batch_size)
        # 2. call parameters
        device = self._execution_device
        # 3. encode the emotion
        condition = self.encode_emotion(emotion, batch_size)
        # 4. timesteps
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        # 5. prepare latents
        shape = (batch_size, self.denoiser.config.sample_size)
        sample = randn_tensor(shape, generator=generator, device=device, dtype=self.denoiser.dtype)
        sample = sample * self.scheduler.init_noise_sigma
        # 6. denoising loop
        for t in self.progress_bar(self.scheduler.timesteps):
            noise = self.denoiser(sample, t, condition.embedding).sample
            sample = self.scheduler.step(noise, t, sample, generator=generator).prev_sample
        # 7. post-process
        samples = sample.cpu().numpy()
        emotions = emotion if isinstance(emotion, list) else [emotion] * batch_size
        names = [EmotionSpec.parse(e).format() for e in emotions]
        self.maybe_free_model_hooks()
        if not return_dict:
            return (samples,)
        return TinyPipelineOutput(samples=samples, emotions=names)


def build_tiny_pipeline(seed: int = 0) -> TinyPipeline:
    """A :class:`TinyPipeline` whose denoiser weights come from a generator seeded with ``seed``."""
    bank = EmotionBank()
    denoiser = TinyDenoiser(sample_size=8, emotion_dim=bank.config.embedding_dim)
    randomize_parameters(denoiser, torch.Generator().manual_seed(seed))
    pipeline = TinyPipeline(denoiser=denoiser, scheduler=tiny_scheduler(), emotion_bank=bank)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


# ----------------------------------------------------------------------------- music


def tiny_vqvae(**overrides: Any) -> ElementVQVAE:
    """A small :class:`~emogen.music.vqvae.ElementVQVAE` (codebooks of 8, latent 4, hidden 16), default init."""
    from emogen.music.vqvae import ElementVQVAE

    return ElementVQVAE(**{"codebook_sizes": TINY_CODEBOOK_SIZES, "latent_dim": 4, "hidden_dim": 16, **overrides})


def tiny_prior(**overrides: Any) -> EmotionCodePrior:
    """A small :class:`~emogen.music.prior.EmotionCodePrior` (d_model 32, 1 layer, 2 heads, 4 bars), default init."""
    from emogen.music.prior import EmotionCodePrior

    config = {"codebook_sizes": TINY_CODEBOOK_SIZES, "d_model": 32, "num_layers": 1, "num_heads": 2, "max_bars": 4}
    return EmotionCodePrior(**{**config, **overrides})


def tiny_critic(**overrides: Any) -> MusicEmotionEncoder:
    """A small :class:`~emogen.music.critic.MusicEmotionEncoder` (hidden 16), default init."""
    from emogen.music.critic import MusicEmotionEncoder

    return MusicEmotionEncoder(**{"hidden_dim": 16, **overrides})


def build_tiny_music_pipeline(seed: int = 0, max_bars: int = 4) -> EmoMusicPipeline:
    """An :class:`~emogen.pipelines.pipeline_emo_music.EmoMusicPipeline` with tiny random components.

    Its music is noise: use it to exercise the pipeline's plumbing, never as a model.

    Args:
        seed (`int`, *optional*, defaults to 0): seeds the generator the weights are drawn from.
        max_bars (`int`, *optional*, defaults to 4): the prior's window (longer pieces slide it).
    """
    from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

    bank = EmotionBank()
    dim = bank.config.embedding_dim
    vqvae, prior, critic = tiny_vqvae(), tiny_prior(emotion_dim=dim, max_bars=max_bars), tiny_critic(emotion_dim=dim)
    randomize_parameters((vqvae, prior, critic), torch.Generator().manual_seed(seed))
    with torch.no_grad():
        vqvae.onset_head[-1].bias.sub_(3.0)  # a few notes per bar, as real music
    pipe = EmoMusicPipeline(vqvae=vqvae, prior=prior, emotion_bank=bank, music_critic=critic)
    for module in (bank, vqvae, prior, critic):
        module.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe.to("cpu")


# ----------------------------------------------------------------------------- voice


def build_tiny_voice_pipeline(seed: int = 0, sad_rate_slope: float = 0.2) -> EmoVoicePipeline:
    """An :class:`~emogen.pipelines.pipeline_emo_voice.EmoVoicePipeline` with tiny random components.

    The denoiser has 16 channels and 2 blocks, the speech critic 16 channels and 1 block, and the
    scheduler is the shipped voice pipeline's DDIM (cosine, v-prediction). Only "sad" changes the rate.

    Args:
        seed (`int`, *optional*, defaults to 0): seeds the generator the weights are drawn from.
        sad_rate_slope (`float`, *optional*, defaults to 0.2): log-duration change of "sad" at intensity 1.
    """
    from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline
    from emogen.voice.denoiser import VoiceConversionDenoiser
    from emogen.voice.encoder import SpeechEmotionEncoder

    bank = EmotionBank()
    slopes = [0.0] * bank.num_categories
    slopes[bank.category_index("sad")] = sad_rate_slope
    denoiser = VoiceConversionDenoiser(hidden_channels=16, num_blocks=2, rate_slopes=slopes)
    encoder = SpeechEmotionEncoder(hidden_channels=16, num_blocks=1)
    randomize_parameters((denoiser, encoder), torch.Generator().manual_seed(seed), scale=None)
    scheduler = tiny_scheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    pipe = EmoVoicePipeline(denoiser=denoiser, scheduler=scheduler, emotion_bank=bank, speech_critic=encoder)
    for module in (bank, denoiser, encoder):
        module.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


# ----------------------------------------------------------------------------- portrait


def build_tiny_portrait_pipeline(seed: int = 0) -> EmoPortraitPipeline:
    """An :class:`~emogen.pipelines.pipeline_emo_portrait.EmoPortraitPipeline` with tiny random components.

    The motion denoiser has 16 channels and 2 blocks (window 32 frames, so short clips already use
    several windows), the face critic 16 hidden units; the scheduler is the shipped portrait pipeline's
    DDIM (cosine, v-prediction). The motion is small random noise: use it for plumbing only.

    Args:
        seed (`int`, *optional*, defaults to 0): seeds the generator the weights are drawn from.
    """
    from emogen.pipelines.pipeline_emo_portrait import EmoPortraitPipeline
    from emogen.portrait.critic import FaceEmotionEncoder
    from emogen.portrait.motion import PortraitMotionDenoiser

    bank = EmotionBank()
    denoiser = PortraitMotionDenoiser(hidden_channels=16, num_blocks=2, window=32)
    critic = FaceEmotionEncoder(hidden_dim=16, num_layers=1)
    randomize_parameters((denoiser, critic), torch.Generator().manual_seed(seed), scale=None)
    with torch.no_grad():
        denoiser.motion_std.fill_(0.005)  # sub-pixel motion: the face barely moves
    scheduler = tiny_scheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
                               timestep_spacing="trailing")
    pipe = EmoPortraitPipeline(motion_denoiser=denoiser, scheduler=scheduler, emotion_bank=bank, face_critic=critic)
    for module in (bank, denoiser, critic):
        module.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


# ----------------------------------------------------------------------------- synthetic inputs


def tone(seconds: float = 1.0, f0: float = 150.0, sr: int = 16000) -> np.ndarray:
    """A steady harmonic tone (fundamental plus octave), mono float32."""
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2 * f0 * t)).astype(np.float32)


def speechlike(seconds: float = 1.5, sr: int = 16000) -> np.ndarray:
    """A voiced, speech-like signal: gliding F0 around 140 Hz, three harmonics, a syllable-rate envelope."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.3 * env * (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))).astype(np.float32)


def write_fake_ravdess(root: str | os.PathLike[str], actors: Iterable[int]) -> Path:
    """Empty ``.flac`` files with RAVDESS's full naming grid (60 per actor) under ``root/ravdess-speech``.

    Returns ``root``, to pass as the data root of :func:`~emogen.data.load_ravdess`.
    """
    from emogen.data import RAVDESS_EMOTIONS

    root = Path(root)
    for actor in actors:
        folder = root / "ravdess-speech" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for emotion in RAVDESS_EMOTIONS:
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in (1, 2):
                    for repetition in (1, 2):
                        (folder / f"03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}.flac").touch()
    return root
