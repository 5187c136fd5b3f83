"""`EpochSampler`: shuffled passes over a data set in batches, resumable from a checkpoint."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["EpochSampler"]


class EpochSampler:
    """Indices of ``size`` items in batches of ``batch_size``, reshuffled at the start of every epoch.

    The permutation is drawn from the generator passed to :meth:`next` (the :func:`~emogen.training.fit`
    generator), and the sampler is :class:`~emogen.training.Stateful`, so a resumed run draws the same
    batches. The last batch of an epoch holds the remainder.

    Example:
        >>> import torch
        >>> sampler = EpochSampler(5, 2)
        >>> gen = torch.Generator().manual_seed(0)
        >>> [len(sampler.next(gen)) for _ in range(sampler.steps_per_epoch)]
        [2, 2, 1]
    """

    def __init__(self, size: int, batch_size: int) -> None:
        if size < 1 or batch_size < 1:
            msg = f"EpochSampler needs size >= 1 and batch_size >= 1, got {size} and {batch_size}"
            raise ValueError(msg)
        self.size = size
        self.batch_size = batch_size
        self._order: list[int] = []
        self._position = 0

    @property
    def steps_per_epoch(self) -> int:
        """Batches per pass over the data."""
        return math.ceil(self.size / self.batch_size)

    def next(self, generator: torch.Generator) -> list[int]:
        """The next batch of indices (a new permutation from ``generator`` when the epoch is over)."""
        import torch

        if self._position >= len(self._order):
            self._order = torch.randperm(self.size, generator=generator).tolist()
            self._position = 0
        batch = self._order[self._position : self._position + self.batch_size]
        self._position += len(batch)
        return batch

    def state_dict(self) -> dict[str, Any]:
        """The current permutation and position in it."""
        return {"order": list(self._order), "position": self._position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self._order = list(state["order"])
        self._position = int(state["position"])
