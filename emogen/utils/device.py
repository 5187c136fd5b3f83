"""Device selection: ``auto`` picks CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch

from ..errors import InputError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` into a usable :class:`torch.device`.

    Raises :class:`~emogen.errors.InputError` when the requested accelerator is not present.
    """
    if isinstance(device, torch.device):
        return device
    name = device.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError:
        msg = f"--device {device!r} is not a device; use auto, cpu, cuda, cuda:N or mps"
        raise InputError(msg) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        msg = f"--device {device!r} asks for CUDA but no CUDA GPU is available; use --device auto or cpu"
        raise InputError(msg)
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        msg = f"--device {device!r} asks for MPS but it is not available; use --device auto or cpu"
        raise InputError(msg)
    return resolved
