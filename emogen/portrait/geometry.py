"""Landmark geometry of the portrait motion model: dlib's 68 points, the normalised eye frame and the
140-channel motion vector.

The eye frame puts the origin at the midpoint of the two eye centres (means of points 36-41 and 42-47),
the x axis from the image-left eye centre to the image-right eye centre and the unit length at the
inter-ocular distance; y points down, as in the image. :class:`Similarity` maps eye-frame coordinates to
pixels. A frame's motion vector is its 136 eye-frame coordinates minus the clip's rest shape (``x0, y0,
x1, y1, ...``) followed by 4 pose channels: log scale, angle (radians) and translation (in eye units of the
reference similarity) of the frame's similarity relative to a reference one.

Only numpy is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BROWS",
    "EYES",
    "INNER_LIPS",
    "JAW",
    "LEFT_EYE",
    "MOTION_DIM",
    "MOUTH",
    "NOSE",
    "NUM_LANDMARKS",
    "POSE_DIM",
    "RIGHT_EYE",
    "SKULL_POINTS",
    "Similarity",
    "align_landmarks",
    "brow_height",
    "landmarks_to_motion",
    "motion_to_landmarks",
    "mouth_corners",
    "mouth_opening",
    "pose_channels",
]

#: dlib's 68-point layout (iBUG 300-W).
NUM_LANDMARKS = 68
JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
LEFT_EYE = np.arange(36, 42)  # image-left eye (the subject's right)
RIGHT_EYE = np.arange(42, 48)
EYES = np.arange(36, 48)
MOUTH = np.arange(48, 68)
INNER_LIPS = np.arange(60, 68)
#: 4 pose channels: log scale, angle, tx, ty.
POSE_DIM = 4
#: Points no facial muscle moves (upper jaw line by the ears, nose bridge): an expression offset there is
#: head pose (MEAD's angry sitters look down by 4-11 degrees), which a 2-D warp would render as a stretched
#: nose and a fold at eye level.
SKULL_POINTS = (0, 1, 2, 14, 15, 16, 27, 28, 29, 30)
#: 136 landmark coordinates + 4 pose channels.
MOTION_DIM = 2 * NUM_LANDMARKS + POSE_DIM


@dataclass(frozen=True)
class Similarity:
    """A 2-D similarity ``pixel = scale * R(angle) @ p + (tx, ty)`` from the eye frame to pixels.

    ``scale`` is the inter-ocular distance in pixels, ``angle`` the roll of the eye line in radians
    (positive turns the x axis towards image-down) and ``(tx, ty)`` the pixel position of the eye midpoint.
    """

    scale: float
    angle: float
    tx: float
    ty: float

    @property
    def matrix(self) -> np.ndarray:
        """The 2x3 affine matrix (pixels from eye-frame points), float64."""
        c, s = np.cos(self.angle) * self.scale, np.sin(self.angle) * self.scale
        return np.array([[c, -s, self.tx], [s, c, self.ty]])

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Eye-frame points ``(..., 2)`` to pixels (float32)."""
        m = self.matrix
        p = np.asarray(points, dtype=np.float64)
        return (p @ m[:, :2].T + m[:, 2]).astype(np.float32)

    def inverse(self, points: np.ndarray) -> np.ndarray:
        """Pixels ``(..., 2)`` to eye-frame points (float32)."""
        m = self.matrix
        p = np.asarray(points, dtype=np.float64) - m[:, 2]
        return (p @ np.linalg.inv(m[:, :2]).T).astype(np.float32)


def align_landmarks(points: np.ndarray) -> tuple[np.ndarray, Similarity]:
    """Normalise 68 pixel landmarks into the eye frame.

    Args:
        points (`np.ndarray` of shape `(68, 2)`): pixel coordinates (x, y).

    Returns:
        `tuple`: the eye-frame points `(68, 2)` float32 and the :class:`Similarity` that maps them back to
        pixels (``similarity.apply(normalised) == points``).
    """
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (NUM_LANDMARKS, 2):
        msg = f"expected landmarks of shape (68, 2), got {p.shape}"
        raise ValueError(msg)
    left, right = p[LEFT_EYE].mean(axis=0), p[RIGHT_EYE].mean(axis=0)
    d = right - left
    sim = Similarity(float(np.hypot(*d)), float(np.arctan2(d[1], d[0])), *(float(v) for v in (left + right) / 2))
    return sim.inverse(p), sim


def pose_channels(similarities: list[Similarity], reference: Similarity | None = None) -> np.ndarray:
    """Pose of each frame relative to ``reference`` (default: the per-channel median of the clip).

    Returns:
        `np.ndarray` of shape `(T, 4)` float32: ``log(scale / ref.scale)``, ``angle - ref.angle`` and the
        translation divided by ``ref.scale`` (eye units).
    """
    raw = np.array([[np.log(s.scale), s.angle, s.tx, s.ty] for s in similarities], dtype=np.float64).reshape(-1, 4)
    if reference is None:
        med = np.median(raw, axis=0)
        reference = Similarity(float(np.exp(med[0])), float(med[1]), float(med[2]), float(med[3]))
    out = raw - [np.log(reference.scale), reference.angle, reference.tx, reference.ty]
    out[:, 2:] /= reference.scale
    return out.astype(np.float32)


def landmarks_to_motion(points: np.ndarray, rest: np.ndarray, reference: Similarity | None = None) -> np.ndarray:
    """Pixel landmark sequence ``(T, 68, 2)`` to motion vectors ``(T, 140)`` around a rest shape.

    Args:
        points (`np.ndarray` of shape `(T, 68, 2)`): pixel landmarks per frame.
        rest (`np.ndarray` of shape `(68, 2)`): the rest shape in the eye frame.
        reference (`Similarity`, *optional*): pose reference; the clip median when omitted.
    """
    aligned = [align_landmarks(p) for p in np.asarray(points)]
    shapes = np.stack([a[0] for a in aligned]) - np.asarray(rest, dtype=np.float32)[None]
    pose = pose_channels([a[1] for a in aligned], reference)
    return np.concatenate([shapes.reshape(len(shapes), -1), pose], axis=1).astype(np.float32)


def motion_to_landmarks(motion: np.ndarray, rest: np.ndarray, reference: Similarity, use_pose: bool = True) -> np.ndarray:
    """Motion vectors ``(T, 140)`` back to pixel landmarks ``(T, 68, 2)`` (inverse of :func:`landmarks_to_motion`).

    Args:
        motion (`np.ndarray` of shape `(T, 140)`): shape offsets and pose channels.
        rest (`np.ndarray` of shape `(68, 2)`): the rest shape the offsets are relative to.
        reference (`Similarity`): the pose the pose channels are relative to (e.g. the portrait's).
        use_pose (`bool`): apply the pose channels; False keeps every frame at ``reference``.
    """
    motion = np.asarray(motion, dtype=np.float32)
    shapes = motion[:, : 2 * NUM_LANDMARKS].reshape(-1, NUM_LANDMARKS, 2) + np.asarray(rest, dtype=np.float32)[None]
    out = np.empty_like(shapes)
    for t, (shape, pose) in enumerate(zip(shapes, motion[:, 2 * NUM_LANDMARKS :], strict=True)):
        if use_pose:
            sim = Similarity(
                reference.scale * float(np.exp(pose[0])),
                reference.angle + float(pose[1]),
                reference.tx + float(pose[2]) * reference.scale,
                reference.ty + float(pose[3]) * reference.scale,
            )
        else:
            sim = reference
        out[t] = sim.apply(shape)
    return out


def _as_shapes(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float32)
    return p[None] if p.ndim == 2 else p


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Mean vertical gap of the inner lips (pairs 61-67, 62-66, 63-65) of eye-frame shapes ``(..., 68, 2)``."""
    p = _as_shapes(points)
    gap = (p[:, [67, 66, 65], 1] - p[:, [61, 62, 63], 1]).mean(axis=1)
    return gap if np.ndim(points) == 3 else gap[0]


def brow_height(points: np.ndarray) -> np.ndarray:
    """Height of the brows above the eye line of eye-frame shapes ``(..., 68, 2)`` (mean of -y of points 17-26)."""
    p = _as_shapes(points)
    h = -p[:, BROWS, 1].mean(axis=1)
    return h if np.ndim(points) == 3 else h[0]


def mouth_corners(points: np.ndarray) -> np.ndarray:
    """Mouth-corner geometry of eye-frame shapes ``(..., 68, 2)``: ``(..., 3)`` with the half-width
    (half the horizontal distance of points 48 and 54), the height of the corners relative to the eye
    line (minus their mean y: larger = higher; it also drops as the jaw opens) and, as a third
    channel, their lift above the upper-lip centre (point 51 y minus the corners' mean y, negative when the
    corners sit below it; opening the jaw barely moves it)."""
    p = _as_shapes(points)
    corners = p[:, [48, 54]]
    half_width = np.abs(corners[:, 1, 0] - corners[:, 0, 0]) / 2
    height = -corners[:, :, 1].mean(axis=1)
    lift = p[:, 51, 1] - corners[:, :, 1].mean(axis=1)
    out = np.stack([half_width, height, lift], axis=-1)
    return out if np.ndim(points) == 3 else out[0]
