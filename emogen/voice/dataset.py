"""Feature caches for voice training: WORLD features and encoder frames of every RAVDESS clip
(:func:`build_cache`) and of nEMO clips (:func:`build_nemo_cache`), computed once and stored in a cache
folder under ``runs/`` (never in the repository).

The cache file is named by a hash of the clip list (paths, sizes, modification times), the feature
configuration (:func:`feature_config`) and :data:`FEATURES_VERSION` (:mod:`emogen.utils.cache`): a changed
clip, setting or feature code builds a new file instead of reusing stale features.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from ..data.nemo import NemoClip, load_nemo, read_nemo_audio
from ..data.ravdess import RavdessClip, load_ravdess
from ..utils.cache import cache_key, load_or_build
from .audio import MODEL_SAMPLE_RATE, resample, to_mono, trim_silence
from .features import ENCODER_FEATURE_DIM, HOP_SECONDS, NUM_MELS, encoder_features
from .world import FRAME_PERIOD_MS, NUM_MCEP, WorldFeatures, analyze

__all__ = ["FEATURES_VERSION", "ClipFeatures", "build_cache", "build_nemo_cache", "clip_features", "feature_config", "read_clip"]

#: Silence kept around the speech when trimming training clips (seconds).
TRIM_PAD_SECONDS = 0.2
#: Frames quieter than the loudest by more than this (dB) count as silence when trimming.
TRIM_TOP_DB = 35.0
#: Version of the feature code: bump it when :func:`clip_features` (or what it calls) changes its output.
FEATURES_VERSION = "1"


@dataclass
class ClipFeatures:
    """Cached features of one RAVDESS or nEMO clip (all trimmed to the speech plus a short pad)."""

    clip: RavdessClip | NemoClip
    world: WorldFeatures
    encoder: np.ndarray  # (frames at 10 ms, ENCODER_FEATURE_DIM)
    seconds: float  # trimmed duration

    @property
    def key(self) -> str:
        """The file stem, unique per clip."""
        return self.clip.path.stem


def read_clip(clip: RavdessClip | NemoClip) -> tuple[np.ndarray, int]:
    """Mono float32 samples of a corpus clip at its own rate: RAVDESS FLAC with soundfile, nEMO Opus with PyAV."""
    if isinstance(clip, NemoClip):
        return read_nemo_audio(clip)
    audio, sr = sf.read(str(clip.path), dtype="float32", always_2d=True)
    return to_mono(audio), sr


def clip_features(clip: RavdessClip | NemoClip) -> ClipFeatures:
    """Read (:func:`read_clip`), trim and analyse one clip at the model rate."""
    audio, sr = read_clip(clip)
    audio = resample(audio, sr, MODEL_SAMPLE_RATE)
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
    return _features_cache(cache_dir, "ravdess-features", load_ravdess(root, actors=actors))


def build_nemo_cache(
    cache_dir: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, speakers: tuple[str, ...] | set[str] | None = None
) -> dict[str, ClipFeatures]:
    """Features of every nEMO clip (of ``speakers``), keyed by file stem; cached as :func:`build_cache`."""
    return _features_cache(cache_dir, "nemo-features", load_nemo(root, speakers=speakers))


def _features_cache(cache_dir: str | os.PathLike[str], name: str, clips: list) -> dict[str, ClipFeatures]:
    key = cache_key([clip.path for clip in clips], feature_config(), FEATURES_VERSION)

    def build() -> dict[str, ClipFeatures]:
        from tqdm.auto import tqdm

        out: dict[str, ClipFeatures] = {}
        for clip in tqdm(clips, desc=f"{name} (WORLD analysis)", unit="clip", mininterval=5.0):
            feats = clip_features(clip)
            out[feats.key] = feats
        return out

    return load_or_build(cache_dir, name, key, build)
