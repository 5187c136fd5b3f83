"""RAVDESS feature cache for voice training: WORLD features and encoder frames of every clip, computed
once and stored in a cache folder under ``runs/`` (never in the repository).

The cache file is named by a hash of the clip list (paths, sizes, modification times), the feature
configuration (:func:`feature_config`) and :data:`FEATURES_VERSION` (:mod:`emogen.utils.cache`): a changed
clip, setting or feature code builds a new file instead of reusing stale features.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from ..data.ravdess import RavdessClip, load_ravdess
from ..utils.cache import cache_key, load_or_build
from .audio import MODEL_SAMPLE_RATE, resample, to_mono, trim_silence
from .features import ENCODER_FEATURE_DIM, HOP_SECONDS, NUM_MELS, encoder_features
from .world import FRAME_PERIOD_MS, NUM_MCEP, WorldFeatures, analyze

__all__ = ["FEATURES_VERSION", "ClipFeatures", "build_cache", "clip_features", "feature_config"]

logger = logging.getLogger(__name__)

#: Silence kept around the speech when trimming training clips (seconds).
TRIM_PAD_SECONDS = 0.2
#: Frames quieter than the loudest by more than this (dB) count as silence when trimming.
TRIM_TOP_DB = 35.0
#: Version of the feature code: bump it when :func:`clip_features` (or what it calls) changes its output.
FEATURES_VERSION = "1"


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
    start, end = trim_silence(audio, MODEL_SAMPLE_RATE, top_db=TRIM_TOP_DB, pad_seconds=TRIM_PAD_SECONDS)
    audio = audio[start:end]
    world = analyze(audio, MODEL_SAMPLE_RATE)
    f0_10ms = world.f0[:: int(10 / FRAME_PERIOD_MS)]
    return ClipFeatures(clip=clip, world=world, encoder=encoder_features(audio, MODEL_SAMPLE_RATE, f0=f0_10ms), seconds=len(audio) / MODEL_SAMPLE_RATE)


def feature_config() -> dict[str, Any]:
    """The settings :func:`clip_features` depends on (part of the cache key)."""
    return {
        "sample_rate": MODEL_SAMPLE_RATE,
        "trim_pad_seconds": TRIM_PAD_SECONDS,
        "trim_top_db": TRIM_TOP_DB,
        "world_frame_period_ms": FRAME_PERIOD_MS,
        "world_num_mcep": NUM_MCEP,
        "encoder_feature_dim": ENCODER_FEATURE_DIM,
        "encoder_num_mels": NUM_MELS,
        "encoder_hop_seconds": HOP_SECONDS,
    }


def build_cache(
    cache_dir: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, actors: set[int] | None = None
) -> dict[str, ClipFeatures]:
    """Features of every RAVDESS clip (of ``actors``), keyed by file stem; computed once per set of inputs.

    Args:
        cache_dir (`str` or `os.PathLike`): the cache folder; the file inside is named by a hash of the
            clip list (paths, sizes, modification times), :func:`feature_config` and
            :data:`FEATURES_VERSION`, and written atomically.
        root (`str` or `os.PathLike`, *optional*): the data folder (default: found as in
            :func:`~emogen.data.data_root`).
        actors (`set[int]`, *optional*): only these actors (default: all).
    """
    clips = load_ravdess(root, actors=actors)
    key = cache_key([clip.path for clip in clips], feature_config(), FEATURES_VERSION)

    def build() -> dict[str, ClipFeatures]:
        out: dict[str, ClipFeatures] = {}
        for n, clip in enumerate(clips):
            feats = clip_features(clip)
            out[feats.key] = feats
            if n % 100 == 0:
                logger.info("analysed %d/%d clips", n, len(clips))
        return out

    return load_or_build(cache_dir, "ravdess-features", key, build)
