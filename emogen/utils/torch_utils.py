"""Seeded randomness in the diffusers style: randomness only enters through ``torch.Generator``s."""

from __future__ import annotations

import torch

__all__ = ["make_generators", "randn_tensor"]


def make_generators(
    generator: torch.Generator | list[torch.Generator] | None, batch_size: int
) -> torch.Generator | list[torch.Generator] | None:
    """Validate a generator argument against the batch size (a list must have one per sample)."""
    if isinstance(generator, list) and len(generator) != batch_size:
        msg = f"got a list of {len(generator)} generators for a batch of {batch_size}; pass one per sample or a single generator"
        raise ValueError(msg)
    return generator


def randn_tensor(
    shape: tuple[int, ...] | torch.Size,
    generator: torch.Generator | list[torch.Generator] | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Standard normal noise of ``shape``, drawn from ``generator`` (diffusers' ``randn_tensor``).

    A list holds one generator per row of the batch (``shape[0]``); noise is drawn on the generator's device
    (the CPU for CPU generators) and then moved, so the same seed gives the same noise on every device.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    if isinstance(generator, list):
        if len(generator) != shape[0]:
            msg = f"got a list of {len(generator)} generators for a batch of {shape[0]}; pass one per sample or a single generator"
            raise ValueError(msg)
        rows = [torch.randn((1, *shape[1:]), generator=g, device=g.device, dtype=dtype) for g in generator]
        return torch.cat(rows).to(device)
    draw_device = generator.device if generator is not None else device
    return torch.randn(tuple(shape), generator=generator, device=draw_device, dtype=dtype).to(device)
