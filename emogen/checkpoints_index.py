"""Where the shipped checkpoints are: ``emogen/checkpoints/<name>/`` in a wheel or ``checkpoints/`` in a checkout
(plain Python, so ``emogen info`` lists them without importing torch)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import CheckpointNotFoundError

__all__ = ["checkpoint_path", "checkpoints_root", "shipped_checkpoints"]


def checkpoints_root() -> Path:
    """Folder of the shipped checkpoints (the ``emogen.checkpoints`` package data)."""
    spec = importlib.util.find_spec("emogen.checkpoints")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    return Path(__file__).resolve().parent.parent / "checkpoints"  # pragma: no cover - without the package mapping


def checkpoint_path(name: str) -> Path:
    """Path of the shipped checkpoint ``name`` (e.g. ``"music"``), raising a clear error if it is absent."""
    path = checkpoints_root() / name
    if not (path / "model_index.json").is_file():
        msg = f"checkpoint {name!r} not found at {str(path)!r}; reinstall emogen or train it with `emogen train {name}`"
        raise CheckpointNotFoundError(msg)
    return path


def shipped_checkpoints() -> dict[str, Path]:
    """Every shipped pipeline checkpoint (folders holding ``model_index.json``), by name."""
    return {p.parent.name: p.parent for p in sorted(checkpoints_root().glob("*/model_index.json"))}
