"""Gradient reversal (Ganin & Lempitsky, 2015): identity forward, negated and scaled gradient backward."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GradientReversal"]


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.scale * grad, None


class GradientReversal(nn.Module):
    """Identity forward, gradient times ``-scale`` backward, for adversarial heads (e.g. a speaker classifier
    that the embedding learns to defeat). ``scale`` may be changed during training (a warm-up ramp)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` unchanged; its gradient is multiplied by ``-scale``."""
        return _Reverse.apply(x, self.scale)
