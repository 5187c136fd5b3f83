"""`EmotionEmbedding`: an :class:`~emogen.emotion.EmotionCondition` -> the conditioning vector a generator uses.

A two-layer MLP over the bank embedding, with the condition's mask for classifier-free guidance. Two ways
to represent the null (unconditional) condition:

- ``null="input"`` (the voice denoiser): the MLP reads ``[embedding * mask, mask]``, so a masked row is a
  fixed, learned-through-the-bias vector;
- ``null="learned"`` (the music prior): the MLP reads the embedding, and masked rows take a learned null
  vector (``null``) instead of the MLP's output.

It subclasses :class:`torch.nn.Sequential` so its layers keep the state-dict keys ``<name>.0.weight`` and
``<name>.2.weight`` of the layers it replaced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

if TYPE_CHECKING:
    from ..emotion.condition import EmotionCondition

__all__ = ["EmotionEmbedding"]

_ACTIVATIONS = {"silu": nn.SiLU, "gelu": nn.GELU}


class EmotionEmbedding(nn.Sequential):
    """Emotion condition -> conditioning vector `(batch, out_dim)`.

    Args:
        emotion_dim (`int`): size of the shared emotion space (the bank's ``embedding_dim``).
        out_dim (`int`): size of the conditioning vector (also the hidden width).
        activation (`str`, *optional*, defaults to ``"silu"``): ``"silu"`` or ``"gelu"``.
        null (`str`, *optional*, defaults to ``"input"``): how a masked (null) condition is represented:
            ``"input"`` (the mask is an input of the MLP) or ``"learned"`` (a learned vector replaces the
            output).

    Example:
        >>> import torch
        >>> embed = EmotionEmbedding(16, 32)
        >>> embed(torch.zeros(2, 16), torch.tensor([1.0, 0.0])).shape
        torch.Size([2, 32])
    """

    def __init__(
        self,
        emotion_dim: int,
        out_dim: int,
        activation: Literal["silu", "gelu"] = "silu",
        null: Literal["input", "learned"] = "input",
    ) -> None:
        if null not in ("input", "learned"):
            msg = f"EmotionEmbedding null must be 'input' or 'learned', got {null!r}"
            raise ValueError(msg)
        in_dim = emotion_dim + 1 if null == "input" else emotion_dim
        super().__init__(nn.Linear(in_dim, out_dim), _ACTIVATIONS[activation](), nn.Linear(out_dim, out_dim))
        self.emotion_dim = emotion_dim
        self.null_mode = null
        if null == "learned":
            self.null = nn.Parameter(torch.zeros(out_dim))

    def forward(self, emotion: torch.Tensor | EmotionCondition, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """Conditioning vectors for embeddings `(batch, emotion_dim)` and a mask `(batch,)` (1 = real, 0 = null).

        ``emotion`` may also be an :class:`~emogen.emotion.EmotionCondition`, whose mask is used; without a
        mask every row is real.
        """
        if not torch.is_tensor(emotion):
            emotion, mask = emotion.embedding, emotion.mask if mask is None else mask
        dtype = self[0].weight.dtype
        emotion = emotion.to(dtype)
        if mask is None:
            mask = torch.ones(emotion.shape[0], device=emotion.device, dtype=dtype)
        m = mask.to(dtype)[:, None]
        if self.null_mode == "input":
            return super().forward(torch.cat([emotion * m, m], dim=-1))
        return m * super().forward(emotion) + (1 - m) * self.null[None]
