"""Small shared helpers: devices, atomic file writes, seeded noise (torch-backed helpers load on first use)."""

from .._lazy import lazy_exports
from .io import atomic_output, check_writable

__all__ = ["atomic_output", "check_writable", "make_generators", "randn_tensor", "resolve_device"]

__getattr__, __dir__ = lazy_exports(
    __name__, {"make_generators": "torch_utils", "randn_tensor": "torch_utils", "resolve_device": "device"}
)
