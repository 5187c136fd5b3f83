"""`VoiceConversionDenoiser`: a small conditional 1-D diffusion denoiser over WORLD feature deltas.

It predicts (in the scheduler's parametrisation) the per-frame change from the source's features to the
target emotion's: log-F0, energy (mel-cepstrum c0) and the low-order mel-cepstrum, at a 20 ms frame rate.
It is conditioned on the source's features (time-aligned, channel-concatenated) and on a point of the
shared emotion space (FiLM in every block, with a mask for the null condition of classifier-free
guidance). Normalisation statistics and the per-emotion speaking-rate slopes travel with the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from .world import NUM_MCEP, WorldFeatures, continuous_log_f0

__all__ = ["POOL", "VoiceConversionDenoiser", "VoiceDenoiserOutput", "condition_features"]

#: WORLD frames (5 ms) pooled into one model frame (20 ms).
POOL = 4


@dataclass
class VoiceDenoiserOutput(BaseOutput):
    """Output of :class:`VoiceConversionDenoiser`.

    Args:
        sample (`torch.Tensor` of shape `(batch, out_channels, frames)`): the model's prediction.
    """

    sample: torch.Tensor


def condition_features(world: WorldFeatures, utterance_norm: bool = True) -> np.ndarray:
    """Source features per 20 ms frame, shape `(frames, 3 + NUM_MCEP)`.

    Channels: log-F0 minus the utterance's voiced mean (so the speaker's register is removed), voicing
    rate, coded aperiodicity (first band), then the mel-cepstrum. With ``utterance_norm`` the
    mel-cepstrum's utterance mean is removed too (cepstral mean normalisation), which takes out the
    speaker's average spectral envelope and loudness, so the model generalises to unseen speakers.
    """
    lf0 = continuous_log_f0(world.f0)
    voiced = world.voiced
    lf0 = lf0 - (lf0[voiced].mean() if voiced.any() else lf0.mean())
    mcep = world.mcep - world.mcep.mean(0, keepdims=True) if utterance_norm else world.mcep
    frames = np.concatenate([lf0[:, None], voiced[:, None].astype(np.float64), world.coded_ap[:, :1], mcep], axis=1)
    return pool_frames(frames)


def pool_frames(frames: np.ndarray, pool: int = POOL) -> np.ndarray:
    """Average every ``pool`` consecutive rows (the last, partial group included)."""
    n = int(math.ceil(len(frames) / pool))
    padded = np.concatenate([frames, np.repeat(frames[-1:], n * pool - len(frames), axis=0)])
    return padded.reshape(n, pool, -1).mean(1).astype(np.float32)


def _timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class _FiLMBlock(nn.Module):
    def __init__(self, channels: int, cond_dim: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.norm = nn.GroupNorm(8, channels)
        self.film = nn.Linear(cond_dim, 2 * channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=pad, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond)[..., None].chunk(2, dim=1)
        h = self.norm(x) * (1 + scale) + shift
        return x + self.conv2(nn.functional.gelu(self.conv1(nn.functional.gelu(h))))


class VoiceConversionDenoiser(ModelMixin, ConfigMixin):
    """Conditional 1-D denoiser for emotional voice conversion.

    Args:
        cond_channels (`int`, *optional*, defaults to 43): source feature channels (:func:`condition_features`).
        num_modified_mcep (`int`, *optional*, defaults to 13): mel-cepstrum coefficients the model changes
            (c0 = energy, then the low orders); higher orders, which carry the speaker's identity, stay.
        hidden_channels (`int`, *optional*, defaults to 128): CNN width.
        num_blocks (`int`, *optional*, defaults to 8): residual FiLM blocks (dilations 1, 2, 4, 8 repeated).
        kernel_size (`int`, *optional*, defaults to 5): convolution width.
        emotion_dim (`int`, *optional*, defaults to 16): size of the shared emotion space.
        rate_slopes (`list[float]`, *optional*): log speaking-rate change per unit of intensity, one per bank
            category (measured on the training pairs); duration scales by ``exp(sum_k w_k * a_k * s_k)``.
        utterance_norm (`bool`, *optional*, defaults to `False`): whether the source mel-cepstrum is
            mean-normalised per utterance (see :func:`condition_features`).

    Example:
        >>> model = VoiceConversionDenoiser()
        >>> x = torch.zeros(1, model.out_channels, 50)
        >>> model(x, torch.tensor([10]), torch.zeros(1, 43, 50), torch.zeros(1, 16), torch.ones(1)).sample.shape
        torch.Size([1, 14, 50])
    """

    @register_to_config
    def __init__(
        self,
        cond_channels: int = 3 + NUM_MCEP,
        num_modified_mcep: int = 13,
        hidden_channels: int = 128,
        num_blocks: int = 8,
        kernel_size: int = 5,
        emotion_dim: int = 16,
        rate_slopes: list[float] | None = None,
        utterance_norm: bool = False,
    ) -> None:
        super().__init__()
        out = 1 + num_modified_mcep
        self.register_buffer("cond_mean", torch.zeros(cond_channels))
        self.register_buffer("cond_std", torch.ones(cond_channels))
        self.register_buffer("delta_std", torch.ones(out))
        cond_dim = hidden_channels
        self.time_mlp = nn.Sequential(nn.Linear(hidden_channels, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        self.emotion_mlp = nn.Sequential(nn.Linear(emotion_dim + 1, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        self.proj = nn.Conv1d(out + cond_channels, hidden_channels, 1)
        self.blocks = nn.ModuleList(
            [_FiLMBlock(hidden_channels, cond_dim, kernel_size, 2 ** (i % 4)) for i in range(num_blocks)]
        )
        self.out = nn.Sequential(nn.GroupNorm(8, hidden_channels), nn.GELU(), nn.Conv1d(hidden_channels, out, 1))

    @property
    def out_channels(self) -> int:
        """Predicted channels: log-F0 delta plus the modified mel-cepstrum deltas."""
        return 1 + self.config.num_modified_mcep

    def normalize_condition(self, cond: torch.Tensor) -> torch.Tensor:
        """Standardise raw source features `(batch, cond_channels, frames)` with the training statistics."""
        return (cond - self.cond_mean[None, :, None]) / self.cond_std[None, :, None]

    def log_rate(self, weights: torch.Tensor) -> torch.Tensor:
        """Log duration factor for category weights `(batch, K)` (neutral's column is ignored)."""
        slopes = self.config.rate_slopes
        if not slopes:
            return torch.zeros(weights.shape[0], device=weights.device)
        s = torch.tensor(slopes, device=weights.device, dtype=weights.dtype)
        return (weights[:, 1:] * s[1:]).sum(-1)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        condition: torch.Tensor,
        emotion: torch.Tensor,
        emotion_mask: torch.Tensor,
        return_dict: bool = True,
    ) -> VoiceDenoiserOutput | tuple[torch.Tensor]:
        """Predict from a noisy delta sequence.

        Args:
            sample (`torch.Tensor` of shape `(batch, out_channels, frames)`): noisy normalised deltas.
            timestep (`torch.Tensor` or `int`): diffusion timestep(s).
            condition (`torch.Tensor` of shape `(batch, cond_channels, frames)`): normalised source features.
            emotion (`torch.Tensor` of shape `(batch, emotion_dim)`): target embedding in the shared space.
            emotion_mask (`torch.Tensor` of shape `(batch,)`): 1 for a real condition, 0 for the null one.
            return_dict (`bool`, *optional*, defaults to `True`): return a :class:`VoiceDenoiserOutput`.
        """
        batch = sample.shape[0]
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([timestep], device=sample.device)
        timestep = timestep.reshape(-1).expand(batch) if timestep.numel() == 1 else timestep
        mask = emotion_mask.to(sample.dtype)[:, None]
        emo = torch.cat([emotion * mask, mask], dim=-1)
        cond = self.time_mlp(_timestep_embedding(timestep, self.config.hidden_channels)) + self.emotion_mlp(emo)
        h = self.proj(torch.cat([sample, condition], dim=1))
        for block in self.blocks:
            h = block(h, cond)
        out = self.out(h)
        if not return_dict:
            return (out,)
        return VoiceDenoiserOutput(sample=out)
