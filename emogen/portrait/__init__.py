"""Emotional talking portraits: face landmarks, landmark-motion data, and (added by their modules) the
renderer, motion model and pipeline. Names load lazily (PEP 562), so importing ``emogen.portrait`` costs
nothing until one is used; dlib, OpenCV and PyAV load only inside the functions that need them."""

from __future__ import annotations

from .._lazy import lazy_exports

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
    "VideoWriter": "video",
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
