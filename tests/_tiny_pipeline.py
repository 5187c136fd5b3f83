"""A tiny pipeline that follows the emogen pipeline conventions, for tests/test_pipeline_conventions.py.

It lives in its own importable module (not a test file) because diffusers records each component's
module in ``model_index.json`` and imports it by name in ``from_pretrained``: pytest puts ``tests/`` on
``sys.path`` (no ``__init__.py``), so this module is found as ``_tiny_pipeline``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from emogen.emotion import EmotionBank, EmotionSpec
from emogen.pipeline_utils import EmogenPipeline, EmogenPipelineOutput
from emogen.utils import atomic_output, make_generators, randn_tensor

__all__ = ["TinyDenoiser", "TinyDenoiserOutput", "TinyPipeline", "TinyPipelineOutput"]


@dataclass
class TinyDenoiserOutput(BaseOutput):
    """Output of :class:`TinyDenoiser`."""

    sample: torch.Tensor


class TinyDenoiser(ModelMixin, ConfigMixin):
    """Predicts noise from ``[x, emotion embedding, t]`` with one linear layer."""

    @register_to_config
    def __init__(self, sample_size: int = 8, emotion_dim: int = 16) -> None:
        super().__init__()
        self.linear = nn.Linear(sample_size + emotion_dim + 1, sample_size)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor | int, emotion: torch.Tensor, return_dict: bool = True
    ) -> TinyDenoiserOutput | tuple[torch.Tensor]:
        t = torch.as_tensor(timestep, dtype=sample.dtype, device=sample.device).reshape(-1, 1).expand(sample.shape[0], 1)
        out = self.linear(torch.cat([sample, emotion.to(sample.dtype), t / 1000.0], dim=-1))
        if not return_dict:
            return (out,)
        return TinyDenoiserOutput(sample=out)


@dataclass
class TinyPipelineOutput(EmogenPipelineOutput):
    """Samples of :class:`TinyPipeline`, saved as ``.npy``."""

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
    """The smallest emogen pipeline: an emotion-conditioned denoiser run by a scheduler."""

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
    """A TinyPipeline whose denoiser weights come from a seeded generator (no global seeding)."""
    bank = EmotionBank()
    denoiser = TinyDenoiser(sample_size=8, emotion_dim=bank.config.embedding_dim)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in denoiser.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
    scheduler = DDIMScheduler(num_train_timesteps=50, beta_schedule="linear", clip_sample=False)
    pipeline = TinyPipeline(denoiser=denoiser, scheduler=scheduler, emotion_bank=bank)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
