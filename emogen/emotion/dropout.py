"""`EmotionDropout`: classifier-free guidance dropout for emotion conditions (training only)."""

from __future__ import annotations

import torch
from torch import nn

from .condition import EmotionCondition

__all__ = ["EmotionDropout"]


class EmotionDropout(nn.Module):
    """Replace each condition in a batch by the null condition with probability ``p`` while training.

    It owns its own seeded generator, never mutates its input, and is the identity in eval mode.

    Args:
        p (`float`): probability of dropping a condition, in [0, 1].
        seed (`int`, *optional*, defaults to 1234): seed of the module's generator.
    """

    def __init__(self, p: float, seed: int = 1234) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            msg = f"EmotionDropout p must be in [0, 1], got {p}"
            raise ValueError(msg)
        self.p = p
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, condition: EmotionCondition) -> EmotionCondition:
        """Return a copy of ``condition`` with a random subset of rows nullified (training only)."""
        if not self.training or self.p == 0.0:
            return condition
        keep = torch.rand(condition.batch_size, generator=self.generator) >= self.p
        return condition.select(keep.to(condition.embedding.device))
