"""`FiLMTemporalDenoiser`: a residual 1-D convolutional denoiser over time, conditioned by FiLM.

The backbone of emogen's sequence diffusion models (WORLD feature deltas for voice, landmark motion for
portraits). Inputs:

- a noisy ``sample`` `(batch, sample_channels, frames)`;
- optional time-aligned ``condition`` channels `(batch, condition_channels, frames)` (source WORLD features
  for voice, audio features for a portrait), concatenated with the sample before the first projection;
- one or more global conditions (an emotion embedding, later an identity), each turned into a vector by
  its own :class:`~emogen.modules.EmotionEmbedding` with its own mask (0 = null, for classifier-free
  guidance), summed with the timestep embedding and applied in every block as a FiLM scale and shift.

Blocks are GroupNorm -> FiLM -> dilated conv -> GELU -> 1x1 conv (zero-initialised) with a residual;
dilations cycle 1, 2, 4, ..., ``2 ** (dilation_cycle - 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from .emotion_embedding import EmotionEmbedding

__all__ = ["FiLMBlock", "FiLMTemporalDenoiser", "timestep_embedding"]


def timestep_embedding(timestep: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding `(batch, dim)` of diffusion timesteps `(batch,)` (sin half, then cos half)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=timestep.device, dtype=torch.float32) / half)
    args = timestep.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class FiLMBlock(nn.Module):
    """Residual block: GroupNorm, FiLM from a conditioning vector, dilated conv, GELU, zero-initialised 1x1 conv.

    Args:
        channels (`int`): width (a multiple of 8, for the GroupNorm).
        cond_dim (`int`): size of the conditioning vector.
        kernel_size (`int`): convolution width (odd keeps the length).
        dilation (`int`): dilation of the first convolution.
    """

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
        """``x`` `(batch, channels, frames)` modulated by ``cond`` `(batch, cond_dim)`."""
        scale, shift = self.film(cond)[..., None].chunk(2, dim=1)
        h = self.norm(x) * (1 + scale) + shift
        return x + self.conv2(nn.functional.gelu(self.conv1(nn.functional.gelu(h))))


class FiLMTemporalDenoiser(nn.Module):
    """Residual FiLM 1-D denoiser with time-aligned and global conditions.

    Args:
        sample_channels (`int`): channels of the noisy sample.
        out_channels (`int`, *optional*): predicted channels (default: ``sample_channels``).
        condition_channels (`int`, *optional*, defaults to 0): time-aligned condition channels.
        global_conditions (`Mapping[str, int]`, *optional*): name -> size of each global condition vector,
            e.g. ``{"emotion": 16}``; each gets an :class:`~emogen.modules.EmotionEmbedding` (with the mask
            as an input) under ``global_embeddings.<name>``.
        hidden_channels (`int`, *optional*, defaults to 128): width (and conditioning vector size).
        num_blocks (`int`, *optional*, defaults to 8): residual blocks.
        kernel_size (`int`, *optional*, defaults to 5): convolution width.
        dilation_cycle (`int`, *optional*, defaults to 4): dilations ``2 ** (i % dilation_cycle)``.

    Example:
        >>> net = FiLMTemporalDenoiser(6, condition_channels=3, global_conditions={"emotion": 16, "identity": 8})
        >>> x = torch.zeros(2, 6, 40)
        >>> net(x, torch.tensor([5, 9]), torch.zeros(2, 3, 40), {"emotion": torch.zeros(2, 16), "identity": torch.zeros(2, 8)}).shape
        torch.Size([2, 6, 40])
    """

    def __init__(
        self,
        sample_channels: int,
        out_channels: int | None = None,
        condition_channels: int = 0,
        global_conditions: Mapping[str, int] | None = None,
        hidden_channels: int = 128,
        num_blocks: int = 8,
        kernel_size: int = 5,
        dilation_cycle: int = 4,
    ) -> None:
        super().__init__()
        out_channels = sample_channels if out_channels is None else out_channels
        self.sample_channels = sample_channels
        self.condition_channels = condition_channels
        self.hidden_channels = hidden_channels
        cond_dim = hidden_channels
        self.time_mlp = nn.Sequential(nn.Linear(hidden_channels, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        self.global_embeddings = nn.ModuleDict(
            {name: EmotionEmbedding(dim, cond_dim) for name, dim in (global_conditions or {}).items()}
        )
        self.proj = nn.Conv1d(sample_channels + condition_channels, hidden_channels, 1)
        self.blocks = nn.ModuleList(
            [FiLMBlock(hidden_channels, cond_dim, kernel_size, 2 ** (i % dilation_cycle)) for i in range(num_blocks)]
        )
        self.out = nn.Sequential(nn.GroupNorm(8, hidden_channels), nn.GELU(), nn.Conv1d(hidden_channels, out_channels, 1))

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        condition: torch.Tensor | None = None,
        global_conditions: Mapping[str, torch.Tensor] | None = None,
        masks: Mapping[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Prediction `(batch, out_channels, frames)`.

        Args:
            sample (`torch.Tensor` of shape `(batch, sample_channels, frames)`): the noisy sample.
            timestep (`torch.Tensor` or `int`): one timestep or one per row.
            condition (`torch.Tensor` of shape `(batch, condition_channels, frames)`, *optional*): time-aligned
                condition (required when ``condition_channels > 0``).
            global_conditions (`Mapping[str, torch.Tensor]`, *optional*): name -> `(batch, dim)` vector, one for
                every global condition the model was built with.
            masks (`Mapping[str, torch.Tensor]`, *optional*): name -> `(batch,)` mask (1 = real, 0 = null);
                a missing mask means every row is real.
        """
        batch = sample.shape[0]
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([timestep], device=sample.device)
        timestep = timestep.reshape(-1).expand(batch) if timestep.numel() == 1 else timestep
        global_conditions, masks = global_conditions or {}, masks or {}
        missing = set(self.global_embeddings) - set(global_conditions)
        if missing:
            msg = f"FiLMTemporalDenoiser needs the global conditions {sorted(missing)}"
            raise ValueError(msg)
        cond = self.time_mlp(timestep_embedding(timestep, self.hidden_channels))
        for name, embed in self.global_embeddings.items():
            mask = masks.get(name)
            if mask is None:
                mask = torch.ones(batch, device=sample.device, dtype=sample.dtype)
            cond = cond + embed(global_conditions[name], mask.to(sample.dtype))
        h = sample if condition is None else torch.cat([sample, condition], dim=1)
        h = self.proj(h)
        for block in self.blocks:
            h = block(h, cond)
        return self.out(h)
