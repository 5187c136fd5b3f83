"""Shared layers that every generator conditions on (emotion embedding, FiLM temporal denoiser,
compositional classifier-free guidance, gradient reversal). Names load lazily (PEP 562), so importing
``emogen.modules`` costs nothing until a layer is used."""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "CompositionalGuidance": "guidance",
    "EmotionEmbedding": "emotion_embedding",
    "FiLMBlock": "film_denoiser",
    "FiLMTemporalDenoiser": "film_denoiser",
    "GradientReversal": "gradient_reversal",
    "timestep_embedding": "film_denoiser",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
