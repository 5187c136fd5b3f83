"""`SpeechEmotionEncoder`: maps an utterance into the shared emotion space (the speech critic).

Frames of log-mel + normalised log-F0 + voicing go through a small residual 1-D CNN, masked mean/std
pooling and an MLP to a 16-d point of the :class:`~emogen.emotion.EmotionBank` space. It is trained with
the bank's Gaussian likelihood, the bank's VAD head, a directional-intensity loss and an adversarial
speaker head (see :mod:`emogen.training.voice`). ``bank.project_intensity(embedding, k)`` is the intensity
heard along category k, and :meth:`SpeechEmotionEncoder.posterior` (:class:`~emogen.emotion.critic.CriticReadout`) the emotion distribution: the bank's
Gaussian log-likelihoods over ``config.categories`` divided by the calibration ``config.temperature``
(fitted on validation speakers, :mod:`emogen.calibration`) before the softmax. Readings whose top
probability is below ``config.uncertain_below`` are reported as uncertain (:mod:`emogen.voice.recognize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..data.ravdess import RAVDESS_CATEGORIES
from ..emotion.critic import CriticReadout
from ..modeling import BaseOutput, ConfigMixin, ModelMixin, register_to_config

from .features import ENCODER_FEATURE_DIM

__all__ = ["SpeechEmotionEncoder", "SpeechEncoderOutput"]


@dataclass
class SpeechEncoderOutput(BaseOutput):
    """Output of :class:`SpeechEmotionEncoder`.

    Args:
        embedding (`torch.Tensor` of shape `(batch, embedding_dim)`): point in the shared emotion space.
    """

    embedding: torch.Tensor


class _ResBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=pad, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)
        self.norm = nn.GroupNorm(1, channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.drop(nn.functional.gelu(self.conv1(self.norm(x)))))
        return (x + h) * mask


class SpeechEmotionEncoder(CriticReadout, ModelMixin, ConfigMixin):
    """Utterance -> shared emotion embedding.

    Args:
        in_channels (`int`, *optional*, defaults to 66): channels per input frame (log-mel + log-F0 + voicing).
        hidden_channels (`int`, *optional*, defaults to 96): width of the CNN.
        num_blocks (`int`, *optional*, defaults to 4): residual blocks (dilations 1, 2, 4, 8, ...).
        kernel_size (`int`, *optional*, defaults to 5): convolution width.
        embedding_dim (`int`, *optional*, defaults to 16): size of the shared emotion space.
        dropout (`float`, *optional*, defaults to 0.2): dropout inside blocks and the head.
        categories (`Sequence[str]`, *optional*, defaults to RAVDESS' 8 categories): the bank categories the
            encoder was trained on, read out with :meth:`posterior`.
        temperature (`float`, *optional*, defaults to 1.0): calibration temperature dividing the bank's
            log-likelihoods in :meth:`posterior` (> 1 softens an over-confident critic).
        uncertain_below (`float`, *optional*, defaults to 0.0): readings whose top calibrated probability is
            below this are "uncertain" (0 = never).
        level_norm (`bool`, *optional*, defaults to `False`): subtract each utterance's mean log-mel level (one
            number per clip, over all mel channels and frames) before anything else, so the recording gain
            carries no information (corpora and microphones differ in level; nEMO is loudness-normalised).

    Example:
        >>> from emogen.emotion import EmotionBank
        >>> enc = SpeechEmotionEncoder()
        >>> emb = enc(torch.zeros(2, 66, 120)).embedding
        >>> emb.shape, enc.posterior(emb, EmotionBank()).shape
        (torch.Size([2, 16]), torch.Size([2, 8]))
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = ENCODER_FEATURE_DIM,
        hidden_channels: int = 96,
        num_blocks: int = 4,
        kernel_size: int = 5,
        embedding_dim: int = 16,
        dropout: float = 0.2,
        categories: Sequence[str] = RAVDESS_CATEGORIES,
        temperature: float = 1.0,
        uncertain_below: float = 0.0,
        level_norm: bool = False,
    ) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(in_channels))
        self.register_buffer("feature_std", torch.ones(in_channels))
        self.proj = nn.Conv1d(in_channels, hidden_channels, 1)
        self.blocks = nn.ModuleList(
            [_ResBlock(hidden_channels, kernel_size, 2 ** (i % 4), dropout) for i in range(num_blocks)]
        )
        self.head = nn.Sequential(
            nn.Linear(2 * hidden_channels, hidden_channels),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_channels, embedding_dim),
        )

    def forward(
        self, features: torch.Tensor, mask: torch.Tensor | None = None, return_dict: bool = True
    ) -> SpeechEncoderOutput | tuple[torch.Tensor]:
        """Embed a batch of frame sequences.

        Args:
            features (`torch.Tensor` of shape `(batch, in_channels, frames)`): raw encoder features.
            mask (`torch.Tensor` of shape `(batch, frames)`, *optional*): 1 for real frames, 0 for padding.
            return_dict (`bool`, *optional*, defaults to `True`): return a :class:`SpeechEncoderOutput`.
        """
        if mask is None:
            mask = torch.ones(features.shape[0], features.shape[2], device=features.device, dtype=features.dtype)
        m = mask[:, None, :].to(features.dtype)
        if self.config.level_norm:
            features = self.normalize_level(features, mask)
        x = (features - self.feature_mean[None, :, None]) / self.feature_std[None, :, None]
        h = self.proj(x) * m
        for block in self.blocks:
            h = block(h, m)
        count = m.sum(-1).clamp_min(1.0)
        mean = h.sum(-1) / count
        var = ((h - mean[..., None]) ** 2 * m).sum(-1) / count
        embedding = self.head(torch.cat([mean, var.clamp_min(1e-5).sqrt()], dim=-1))
        if not return_dict:
            return (embedding,)
        return SpeechEncoderOutput(embedding=embedding)

    def normalize_level(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Subtract each clip's mean log-mel level (masked mean over mel channels and frames) from its mel channels.

        Args:
            features (`torch.Tensor` of shape `(batch, in_channels, frames)`): raw encoder features (log-mel
                first, then log-F0 and voicing, which are left alone).
            mask (`torch.Tensor` of shape `(batch, frames)`, *optional*): 1 for real frames.
        """
        mels = self.config.in_channels - 2
        if mask is None:
            mask = torch.ones(features.shape[0], features.shape[2], device=features.device, dtype=features.dtype)
        mask = mask.to(features.dtype)
        level = (features[:, :mels].mean(1) * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)
        return torch.cat([features[:, :mels] - level[:, None, None], features[:, mels:]], dim=1)
