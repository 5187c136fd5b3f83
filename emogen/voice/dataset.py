"""RAVDESS feature cache for voice training: WORLD features and encoder frames of every clip, computed
once and stored under ``runs/`` (never in the repository)."""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..data.ravdess import RavdessClip, load_ravdess
from ..utils import atomic_output
from .audio import MODEL_SAMPLE_RATE, resample, to_mono, trim_silence
from .features import encoder_features
from .world import FRAME_PERIOD_MS, WorldFeatures, analyze

__all__ = ["ClipFeatures", "build_cache", "clip_features", "load_cache"]

logger = logging.getLogger(__name__)

#: Silence kept around the speech when trimming training clips (seconds).
TRIM_PAD_SECONDS = 0.2


@dataclass
class ClipFeatures:
    """Cached features of one RAVDESS clip (all trimmed to the speech plus a short pad)."""

    clip: RavdessClip
    world: WorldFeatures
    encoder: np.ndarray  # (frames at 10 ms, ENCODER_FEATURE_DIM)
    seconds: float  # trimmed duration

    @property
    def key(self) -> str:
        """The file stem, unique per clip."""
        return self.clip.path.stem


def clip_features(clip: RavdessClip) -> ClipFeatures:
    """Read, trim and analyse one clip."""
    audio, sr = sf.read(str(clip.path), dtype="float32", always_2d=True)
    audio = resample(to_mono(audio), sr, MODEL_SAMPLE_RATE)
    start, end = trim_silence(audio, MODEL_SAMPLE_RATE, pad_seconds=TRIM_PAD_SECONDS)
    audio = audio[start:end]
    world = analyze(audio, MODEL_SAMPLE_RATE)
    f0_10ms = world.f0[:: int(10 / FRAME_PERIOD_MS)]
    return ClipFeatures(clip=clip, world=world, encoder=encoder_features(audio, MODEL_SAMPLE_RATE, f0=f0_10ms), seconds=len(audio) / MODEL_SAMPLE_RATE)


def build_cache(cache_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, actors: set[int] | None = None) -> dict[str, ClipFeatures]:
    """Analyse every RAVDESS clip (of ``actors``) and pickle the result to ``cache_path``; reuse it if present."""
    cache_path = Path(cache_path)
    if cache_path.is_file():
        return load_cache(cache_path)
    clips = load_ravdess(root, actors=actors)
    out: dict[str, ClipFeatures] = {}
    for n, clip in enumerate(clips):
        feats = clip_features(clip)
        out[feats.key] = feats
        if n % 100 == 0:
            logger.info("analysed %d/%d clips", n, len(clips))
    with atomic_output(cache_path) as tmp, tmp.open("wb") as handle:
        pickle.dump(out, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def load_cache(cache_path: str | os.PathLike[str]) -> dict[str, ClipFeatures]:
    """Load a cache written by :func:`build_cache`."""
    with Path(cache_path).open("rb") as handle:
        return pickle.load(handle)
