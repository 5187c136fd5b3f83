"""Small shared helpers: devices, atomic file writes, seeded noise."""

from .device import resolve_device
from .io import atomic_output, check_writable
from .torch_utils import make_generators, randn_tensor

__all__ = ["atomic_output", "check_writable", "make_generators", "randn_tensor", "resolve_device"]
