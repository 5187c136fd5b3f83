"""Emotional talking portraits: face landmarks, landmark-motion data, and (added by their modules) the
renderer, motion model and pipeline. Names load lazily (PEP 562), so importing ``emogen.portrait`` costs
nothing until one is used; dlib, OpenCV and PyAV load only inside the functions that need them."""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "AUDIO_FEATURE_DIM": "features",
    "FPS": "features",
    "FaceEmotionEncoder": "critic",
    "FaceLandmarks": "face",
    "FaceTooSmallError": "face",
    "FaceTurnedAwayError": "face",
    "LandmarkTracker": "face",
    "MOTION_DIM": "geometry",
    "PortraitClip": "dataset",
    "PortraitMotionDenoiser": "motion",
    "PortraitRenderer": "render",
    "Similarity": "geometry",
    "align_landmarks": "geometry",
    "audio_features": "features",
    "build_portrait_cache": "dataset",
    "detect_face": "face",
    "landmarks_to_motion": "geometry",
    "motion_to_landmarks": "geometry",
    "mouth_opening": "geometry",
    "read_video_audio": "dataset",
    "read_video_frames": "dataset",
    "track_video": "dataset",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
