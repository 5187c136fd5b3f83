"""Shared layers that every generator conditions on (emotion embedding, FiLM temporal denoiser,
compositional classifier-free guidance, gradient reversal). Names load lazily (PEP 562), so importing
``emogen.modules`` costs nothing until a layer is used."""

from __future__ import annotations

from .._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
