"""`EmotionCondition`: the one conditioning type every emogen model receives (models never see strings)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

__all__ = ["EmotionCondition"]


@dataclass(frozen=True)
class EmotionCondition:
    """A batch of emotion conditions in the shared space.

    Args:
        embedding (`torch.Tensor` of shape `(batch, dim)`): point in the shared emotion space.
        vad (`torch.Tensor` of shape `(batch, 3)`): valence, arousal, dominance read from the embedding.
        weights (`torch.Tensor` of shape `(batch, num_categories)`): category mixture, rows sum to 1
            (all zero for a null condition).
        intensity (`torch.Tensor` of shape `(batch,)`): total requested intensity (distance from neutral
            in units of the category directions).
        mask (`torch.Tensor` of shape `(batch,)`): 1 for a real condition, 0 for the null (unconditional)
            condition used by classifier-free guidance.
    """

    embedding: torch.Tensor
    vad: torch.Tensor
    weights: torch.Tensor
    intensity: torch.Tensor
    mask: torch.Tensor

    @property
    def batch_size(self) -> int:
        """Number of conditions in the batch."""
        return int(self.embedding.shape[0])

    def null_like(self) -> EmotionCondition:
        """The unconditional counterpart: zeros everywhere and ``mask == 0`` (for guidance and dropout)."""
        return EmotionCondition(
            embedding=torch.zeros_like(self.embedding),
            vad=torch.zeros_like(self.vad),
            weights=torch.zeros_like(self.weights),
            intensity=torch.zeros_like(self.intensity),
            mask=torch.zeros_like(self.mask),
        )

    def at_full_intensity(self, neutral: EmotionCondition) -> EmotionCondition:
        """The same emotions at intensity 1: the embedding's (and VAD's) offset from ``neutral`` divided by the
        intensity (rows at intensity 0 stay at ``neutral``). Intensity in the shared space is a direction
        from neutral, so this is the direction's end; a generator can then weigh the step itself."""
        a = self.intensity.float().view(-1, 1)
        scale = torch.where(a > 1e-6, 1.0 / a.clamp_min(1e-6), torch.zeros_like(a))

        def stretch(value: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
            return origin + (value - origin) * scale.to(value.dtype)

        return replace(self, embedding=stretch(self.embedding, neutral.embedding), vad=stretch(self.vad, neutral.vad),
                       intensity=torch.where(self.intensity > 1e-6, torch.ones_like(self.intensity), torch.zeros_like(self.intensity)))

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> EmotionCondition:
        """Move every tensor to ``device`` (and floating tensors to ``dtype``)."""
        return EmotionCondition(
            **{name: getattr(self, name).to(device=device, dtype=dtype) for name in self._fields()}
        )

    def repeat(self, n: int) -> EmotionCondition:
        """Repeat each row ``n`` times along the batch axis (``[a, b] -> [a, a, b, b]`` for ``n=2``)."""
        return EmotionCondition(
            **{name: getattr(self, name).repeat_interleave(n, dim=0) for name in self._fields()}
        )

    def select(self, keep: torch.Tensor) -> EmotionCondition:
        """Return a copy where rows with ``keep == False`` are replaced by the null condition."""
        null = self.null_like()
        fields = {}
        for name in self._fields():
            value, empty = getattr(self, name), getattr(null, name)
            shape = (-1,) + (1,) * (value.dim() - 1)
            fields[name] = torch.where(keep.view(shape), value, empty)
        return replace(self, **fields)

    @staticmethod
    def cat(conditions: list[EmotionCondition]) -> EmotionCondition:
        """Concatenate conditions along the batch axis."""
        if not conditions:
            msg = "EmotionCondition.cat needs at least one condition"
            raise ValueError(msg)
        names = EmotionCondition._fields()
        return EmotionCondition(**{n: torch.cat([getattr(c, n) for c in conditions], dim=0) for n in names})

    @staticmethod
    def _fields() -> tuple[str, ...]:
        return ("embedding", "vad", "weights", "intensity", "mask")
