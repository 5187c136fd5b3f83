"""Conventions shared by the emogen pipelines (diffusers-style).

- Every pipeline subclasses :class:`EmogenPipeline` (a :class:`~diffusers.DiffusionPipeline`), whose
  ``__init__`` only calls ``register_modules(...)``; an ``emotion_bank`` component turns emotion specs into
  :class:`~emogen.emotion.EmotionCondition`\\ s.
- Every pipeline returns an :class:`EmogenPipelineOutput` dataclass with ``save(path)``, which writes
  atomically through :func:`~emogen.utils.atomic_output`.
- Shipped checkpoints live in ``emogen/checkpoints/<name>/`` and load offline.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput

from . import __version__
from .emotion import EmotionCondition, EmotionSpec
from .errors import CheckpointNotFoundError

__all__ = ["EmogenPipeline", "EmogenPipelineOutput", "checkpoint_path", "shipped_checkpoints"]

_CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"


def _checkpoints_root() -> Path:
    """Folder of the shipped checkpoints, in an installed wheel or a source checkout."""
    try:
        import emogen.checkpoints as package

        return Path(package.__file__).resolve().parent
    except ImportError:  # pragma: no cover - only without the package mapping
        return _CHECKPOINTS


def checkpoint_path(name: str) -> Path:
    """Path of the shipped checkpoint ``name`` (e.g. ``"music"``), raising a clear error if it is absent."""
    path = _checkpoints_root() / name
    if not (path / "model_index.json").is_file():
        msg = f"checkpoint {name!r} not found at {str(path)!r}; reinstall emogen or train it with `emogen train {name}`"
        raise CheckpointNotFoundError(msg)
    return path


def shipped_checkpoints() -> dict[str, Path]:
    """Every shipped pipeline checkpoint (folders holding ``model_index.json``), by name."""
    root = _checkpoints_root()
    return {p.parent.name: p.parent for p in sorted(root.glob("*/model_index.json"))}


@dataclass
class EmogenPipelineOutput(BaseOutput):
    """Base of pipeline outputs: subclasses add fields and implement :meth:`save`."""

    def save(self, path: str | os.PathLike[str]) -> Path:  # pragma: no cover - abstract
        """Write the output to ``path`` atomically (format from the suffix) and return the path."""
        raise NotImplementedError


class EmogenPipeline(DiffusionPipeline):
    """Base class of emogen pipelines: adds offline loading of shipped checkpoints and emotion resolution."""

    @classmethod
    def from_shipped(cls, name: str, **kwargs: Any) -> EmogenPipeline:
        """Load the shipped checkpoint ``name`` with no network access (``HF_HUB_OFFLINE=1``).

        Call it on the concrete pipeline class, e.g. ``EmoMusicPipeline.from_shipped("music")``.
        """
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return cls.from_pretrained(str(checkpoint_path(name)), **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike[str], **kwargs: Any) -> None:
        """Save as diffusers does, then stamp every config with ``_emogen_version`` (ignored on load)."""
        super().save_pretrained(save_directory, **kwargs)
        for config in sorted(Path(save_directory).rglob("*.json")):
            if config.name not in ("model_index.json", "config.json", "scheduler_config.json"):
                continue
            data = json.loads(config.read_text())
            data["_emogen_version"] = __version__
            config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    def encode_emotion(self, emotion: str | EmotionSpec | list[str | EmotionSpec], batch_size: int) -> EmotionCondition:
        """Turn one spec (repeated ``batch_size`` times) or one spec per sample into an EmotionCondition."""
        bank = self.emotion_bank
        if isinstance(emotion, list):
            if len(emotion) != batch_size:
                msg = f"got {len(emotion)} emotions for a batch of {batch_size}; pass one emotion or one per sample"
                raise ValueError(msg)
            condition = bank.condition_batch(emotion)
        else:
            condition = bank.condition(emotion, batch_size=batch_size)
        return condition.to(self._execution_device)
