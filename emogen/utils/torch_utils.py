"""Seeded randomness in the diffusers style: randomness only enters through ``torch.Generator``s."""

from __future__ import annotations

import torch
from diffusers.utils.torch_utils import randn_tensor

__all__ = ["make_generators", "randn_tensor"]


def make_generators(
    generator: torch.Generator | list[torch.Generator] | None, batch_size: int
) -> torch.Generator | list[torch.Generator] | None:
    """Validate a generator argument against the batch size (a list must have one per sample)."""
    if isinstance(generator, list) and len(generator) != batch_size:
        msg = f"got a list of {len(generator)} generators for a batch of {batch_size}; pass one per sample or a single generator"
        raise ValueError(msg)
    return generator
