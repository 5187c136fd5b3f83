"""Classifier-free guidance with a separate scale for each of several ordered conditions.

Compositional guidance in the style of InstructPix2Pix (Brooks et al., 2023): with conditions
``c_1, ..., c_n`` added in order and ``p(c_1..c_i)`` the prediction with the first ``i`` present (``p(∅)``
with none),

    pred = p(∅) + s_1 (p(c_1) - p(∅)) + s_2 (p(c_1, c_2) - p(c_1)) + ... + s_n (p(c_1..c_n) - p(c_1..c_{n-1}))

which is ordinary classifier-free guidance for one condition. The weight of ``p(c_1..c_j)`` is
``s_j - s_{j+1}`` (with ``s_0 = 1`` and ``s_{n+1} = 0``), so a level whose weight is zero is never
evaluated: with every scale 1 only the fully conditioned pass runs, with one scale 0 only the
unconditional one. The same algebra serves noise predictions (diffusion) and log-probabilities
(autoregressive logits).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["CompositionalGuidance"]

Scale = float | torch.Tensor


def _same(a: Scale, b: Scale) -> bool:
    """Whether two scales (numbers, or tensors broadcasting over the batch) are equal everywhere."""
    if torch.is_tensor(a) or torch.is_tensor(b):
        return bool(torch.all(torch.as_tensor(a) == torch.as_tensor(b)))
    return float(a) == float(b)


class CompositionalGuidance:
    """Which passes to run and how to combine them, for guidance scales ``s_1..s_n`` of ordered conditions.

    Args:
        scales (`Sequence[float | torch.Tensor]`): one scale per condition, in the order the conditions are
            added (e.g. ``[audio_scale, emotion_scale]``); a tensor scale broadcasts against the
            predictions (e.g. `(batch, 1)` for one scale per row).

    Attributes:
        levels (`list[int]`): the condition counts to evaluate, most conditioned first: level ``i`` is the
            prediction with conditions ``1..i`` present and the rest null. Stack the passes in this order.

    Example:
        >>> import torch
        >>> guidance = CompositionalGuidance([2.0])  # ordinary classifier-free guidance
        >>> guidance.levels
        [1, 0]
        >>> guidance.combine([torch.tensor([3.0]), torch.tensor([1.0])])  # 1 + 2 * (3 - 1)
        tensor([5.])
        >>> CompositionalGuidance([1.0, 1.0]).levels  # no guidance: one conditional pass
        [2]
    """

    def __init__(self, scales: Sequence[Scale]) -> None:
        if len(scales) == 0:
            msg = "CompositionalGuidance needs at least one scale"
            raise ValueError(msg)
        self.scales = list(scales)
        extended: list[Scale] = [1.0, *self.scales, 0.0]  # s_0 = 1, s_{n+1} = 0
        # level j is needed unless its weight s_j - s_{j+1} is zero everywhere
        needed = [j for j in range(len(self.scales) + 1) if not _same(extended[j], extended[j + 1])]
        self.levels = sorted(needed, reverse=True) or [len(self.scales)]

    @property
    def num_conditions(self) -> int:
        """Number of conditions n."""
        return len(self.scales)

    @property
    def num_passes(self) -> int:
        """Predictions to evaluate per step (the batch multiplier)."""
        return len(self.levels)

    @property
    def do_guidance(self) -> bool:
        """Whether more than one pass is needed (otherwise :meth:`combine` returns the single pass)."""
        return len(self.levels) > 1

    def present(self, condition: int, level: int) -> bool:
        """Whether condition ``condition`` (0-based, in order) is present at ``level``."""
        return condition < level

    def masks(self, batch_size: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
        """Per condition, its mask over the stacked passes, shape `(num_passes * batch_size,)` (1 = present)."""
        return [
            torch.cat([torch.full((batch_size,), float(self.present(c, level)), device=device, dtype=dtype) for level in self.levels])
            for c in range(self.num_conditions)
        ]

    def combine(self, predictions: Sequence[torch.Tensor]) -> torch.Tensor:
        """The guided prediction from one prediction per entry of :attr:`levels`, in that order."""
        if len(predictions) != len(self.levels):
            msg = f"CompositionalGuidance expects {len(self.levels)} predictions (levels {self.levels}), got {len(predictions)}"
            raise ValueError(msg)
        by_level = dict(zip(self.levels, predictions))
        ascending = sorted(by_level)
        # the lowest level kept has weight 1 once the others are written as differences
        guided = by_level[ascending[0]]
        for lower, upper in zip(ascending, ascending[1:]):
            scale = self.scales[upper - 1]  # constant over levels lower+1..upper, which were skipped
            if torch.is_tensor(scale):
                scale = scale.to(guided.device)
            guided = guided + scale * (by_level[upper] - by_level[lower])
        return guided

    def combine_stacked(self, stacked: torch.Tensor) -> torch.Tensor:
        """:meth:`combine` for passes stacked along the batch axis (as built with :attr:`levels`)."""
        return self.combine(stacked.chunk(self.num_passes))

    def __repr__(self) -> str:
        return f"CompositionalGuidance(scales={self.scales}, levels={self.levels})"
