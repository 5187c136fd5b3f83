"""Face detection and dlib's 68 landmarks, for still portraits and for video.

Detection is dlib's HOG frontal face detector and the landmarks are its 68-point shape predictor, loaded
by path from the ``face-recognition-models`` wheel (its upstream training data, iBUG 300-W, excludes
commercial use). Both models load once per process. :func:`detect_face` checks a portrait and raises a
one-line :class:`~emogen.errors.NoFaceError` (or a subclass) when there is no usable face;
:class:`LandmarkTracker` follows a face through video: it detects once, then places the shape predictor
in a box derived from the previous frame's landmarks (no detector jitter, about 1 ms a frame), and
re-detects only when the shape jumps implausibly.

dlib and OpenCV are imported inside the functions that use them.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, NoFaceError
from .geometry import JAW, NOSE, Similarity, align_landmarks

__all__ = [
    "FaceLandmarks",
    "load_image",
    "FaceTooSmallError",
    "FaceTurnedAwayError",
    "LandmarkTracker",
    "NoFaceError",
    "Similarity",
    "align_landmarks",
    "check_face",
    "detect_face",
    "face_asymmetry",
    "landmark_model_path",
]

logger = logging.getLogger(__name__)

#: Smallest usable inter-ocular distance in pixels.
MIN_EYE_DISTANCE = 40.0
#: Largest usable left/right asymmetry of the nose tip between the cheeks (0 = frontal, 1 = profile).
MAX_ASYMMETRY = 0.45
#: Portraits are detected on a copy whose longer side is at most this many pixels.
DETECT_MAX_SIDE = 800


class FaceTooSmallError(NoFaceError):
    """The face is too small for landmarks precise enough to animate."""


class FaceTurnedAwayError(NoFaceError):
    """The face is turned too far from the camera for a frontal face model."""


@dataclass(frozen=True)
class FaceLandmarks:
    """One face: 68 landmarks in pixels, its detector box and the detector's score.

    Attributes:
        points (`np.ndarray` of shape `(68, 2)`): float32 pixel coordinates (x, y).
        box (`tuple[int, int, int, int]`): ``(left, top, right, bottom)`` in pixels.
        score (`float`): the detector's confidence; NaN for a frame placed by tracking.
    """

    points: np.ndarray
    box: tuple[int, int, int, int]
    score: float

    @property
    def eye_distance(self) -> float:
        """Distance between the two eye centres in pixels."""
        return align_landmarks(self.points)[1].scale

    @property
    def similarity(self) -> Similarity:
        """The eye-frame similarity of these landmarks (see :func:`~emogen.portrait.geometry.align_landmarks`)."""
        return align_landmarks(self.points)[1]


def landmark_model_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside the ``face-recognition-models`` wheel."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        msg = "the face landmark model is missing; install it with `pip install face-recognition-models`"
        raise InputError(msg)
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        msg = f"the face landmark model {str(path)!r} is missing; reinstall `face-recognition-models`"
        raise InputError(msg)
    return path


@lru_cache(maxsize=1)
def _models() -> tuple[Any, Any]:
    """dlib's HOG face detector and the 68-point shape predictor, loaded once."""
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(landmark_model_path()))


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3) or min(array.shape[:2]) < 16:
        msg = f"{name} is not an RGB or grey image (shape {array.shape}); give a photo of a face"
        raise InputError(msg)
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.dtype.kind == "f" and array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def _rect(box: tuple[float, float, float, float]) -> Any:
    import dlib

    return dlib.rectangle(*(int(round(v)) for v in box))


def _predict(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    shape = _models()[1](image, _rect(box))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def _detect(image: np.ndarray, upsample: int) -> list[tuple[tuple[int, int, int, int], float]]:
    """Boxes ``(left, top, right, bottom)`` and scores, largest first (``image`` must be C-contiguous)."""
    rects, scores, _ = _models()[0].run(image, upsample, 0.0)
    found = [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores, strict=True)]
    return sorted(found, key=lambda f: -(f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))


def face_asymmetry(points: np.ndarray) -> float:
    """How far a face is turned: ``|l - r| / (l + r)`` for the horizontal distances (in the eye frame) from
    the nose tip to the two cheeks (jaw points 1-3 and 13-15). About 0.0-0.1 frontal, 1.0 in profile."""
    norm, _ = align_landmarks(points)
    nose = norm[NOSE[3], 0]
    left = nose - norm[JAW[1:4], 0].mean()
    right = norm[JAW[13:16], 0].mean() - nose
    left, right = max(float(left), 0.0), max(float(right), 0.0)
    return abs(left - right) / max(left + right, 1e-6)


def check_face(face: FaceLandmarks, name: str = "image", min_eye_distance: float = MIN_EYE_DISTANCE, max_asymmetry: float = MAX_ASYMMETRY) -> FaceLandmarks:
    """Raise :class:`FaceTooSmallError` or :class:`FaceTurnedAwayError` (one line, with the fix) for an
    unusable face; return it unchanged otherwise."""
    eyes = face.eye_distance
    if eyes < min_eye_distance:
        msg = (
            f"the face in {name} is too small ({eyes:.0f} px between the eyes, at least {min_eye_distance:.0f} needed); "
            "give a closer or larger photo"
        )
        raise FaceTooSmallError(msg)
    asym = face_asymmetry(face.points)
    if asym > max_asymmetry:
        msg = f"the face in {name} is turned away from the camera (asymmetry {asym:.2f} > {max_asymmetry}); give a frontal photo"
        raise FaceTurnedAwayError(msg)
    return face


def detect_face(
    image: np.ndarray,
    name: str = "image",
    upsample: int = 1,
    min_eye_distance: float = MIN_EYE_DISTANCE,
    max_asymmetry: float = MAX_ASYMMETRY,
) -> FaceLandmarks:
    """Find the face of a portrait and its 68 landmarks.

    The image is searched at a copy whose longer side is at most 800 pixels, upsampled ``upsample`` times
    (1 finds faces down to about 40 pixels wide); the landmarks are placed on the full-resolution image.
    With several faces the largest is used and a warning is logged.

    Args:
        image (`np.ndarray`): ``(H, W, 3)`` RGB (or ``(H, W)`` grey) uint8.
        name (`str`): how to name the image in messages (e.g. its path).
        upsample (`int`): detector upsampling steps.
        min_eye_distance (`float`): smallest accepted inter-ocular distance in pixels.
        max_asymmetry (`float`): largest accepted :func:`face_asymmetry`.

    Returns:
        :class:`FaceLandmarks`.

    Raises:
        :class:`~emogen.errors.NoFaceError`: no face found; :class:`FaceTooSmallError`,
        :class:`FaceTurnedAwayError` (subclasses) for an unusable one.
    """
    array = _check_image(image, name)
    factor = min(1.0, DETECT_MAX_SIDE / max(array.shape[:2]))
    small = array
    if factor < 1.0:
        import cv2

        small = cv2.resize(array, (round(array.shape[1] * factor), round(array.shape[0] * factor)), interpolation=cv2.INTER_AREA)
    found = _detect(small, upsample)
    if not found:
        msg = f"no face found in {name}; give a well-lit, frontal photo of one face"
        raise NoFaceError(msg)
    if len(found) > 1:
        logger.warning("%s: %d faces found, using the largest", name, len(found))
    box = tuple(v / factor for v in found[0][0])
    points = _predict(array, box)
    face = FaceLandmarks(points=points, box=tuple(int(round(v)) for v in box), score=found[0][1])
    return check_face(face, name, min_eye_distance, max_asymmetry)


class LandmarkTracker:
    """Landmarks through a video: detect once, then follow the face with the shape predictor alone.

    After a detection the tracker remembers where the detector's box sits in the eye frame of the
    landmarks; each next frame's box is that box placed by the previous frame's landmarks, so the
    predictor sees the same framing as after a detection without the detector's frame-to-frame box
    jitter. The face is re-detected when the new shape jumps implausibly (inter-ocular distance changes by
    more than ``max_scale_change`` or the eye midpoint moves more than ``max_jump`` eye distances) or every
    ``redetect_every`` frames (0: never).

    Example:
        >>> tracker = LandmarkTracker()  # doctest: +SKIP
        >>> points = [tracker.update(frame) for frame in read_video_frames("clip.mp4")]  # doctest: +SKIP
    """

    def __init__(self, upsample: int = 0, max_jump: float = 0.5, max_scale_change: float = 0.25, redetect_every: int = 0) -> None:
        self.upsample = upsample
        self.max_jump = max_jump
        self.max_scale_change = max_scale_change
        self.redetect_every = redetect_every
        self.detections = 0
        self.reset()

    def reset(self) -> None:
        """Forget the face: the next frame is detected afresh."""
        self._previous: Similarity | None = None
        self._box_in_eye_frame: tuple[float, float, float] | None = None  # centre x, y and width, height ratio
        self._since_detection = 0

    def _from_detection(self, image: np.ndarray) -> FaceLandmarks | None:
        found = _detect(image, self.upsample) or (_detect(image, self.upsample + 1) if self.upsample == 0 else [])
        self.detections += 1
        if not found:
            self.reset()
            return None
        box, score = found[0]
        points = _predict(image, box)
        sim = align_landmarks(points)[1]
        centre = sim.inverse(np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]))
        self._box_in_eye_frame = (float(centre[0]), float(centre[1]), (box[2] - box[0]) / sim.scale, (box[3] - box[1]) / sim.scale)
        self._previous = sim
        self._since_detection = 0
        return FaceLandmarks(points=points, box=box, score=score)

    def update(self, image: np.ndarray) -> FaceLandmarks | None:
        """Landmarks of the next frame (``(H, W, 3)`` RGB or ``(H, W)`` grey uint8), or None when no face is found."""
        image = np.ascontiguousarray(image)  # dlib misreads strided arrays (e.g. padded video rows)
        self._since_detection += 1
        if self._previous is None or self._box_in_eye_frame is None or (self.redetect_every and self._since_detection >= self.redetect_every):
            return self._from_detection(image)
        cx, cy, w, h = self._box_in_eye_frame
        prev = self._previous
        centre = prev.apply(np.array([cx, cy]))
        half_w, half_h = w * prev.scale / 2, h * prev.scale / 2
        box = (centre[0] - half_w, centre[1] - half_h, centre[0] + half_w, centre[1] + half_h)
        points = _predict(image, box)
        sim = align_landmarks(points)[1]
        jump = np.hypot(sim.tx - prev.tx, sim.ty - prev.ty) / prev.scale
        if abs(np.log(sim.scale / prev.scale)) > np.log1p(self.max_scale_change) or jump > self.max_jump:
            return self._from_detection(image)
        self._previous = sim
        return FaceLandmarks(points=points, box=tuple(int(round(v)) for v in box), score=float("nan"))


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as RGB uint8 `(H, W, 3)`; raises :class:`~emogen.errors.InputError` for a non-image."""
    import cv2

    target = Path(path)
    if not target.is_file():
        msg = f"image {str(target)!r} does not exist; give the path of a portrait photo (png, jpg)"
        raise InputError(msg)
    image = cv2.imread(str(target), cv2.IMREAD_COLOR)
    if image is None:
        msg = f"image {str(target)!r} could not be read as an image; give a png or jpg photo of a face"
        raise InputError(msg)
    return np.ascontiguousarray(image[..., ::-1])
