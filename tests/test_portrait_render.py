"""The portrait renderer: identity at rest, nothing moves outside the ring, mouth and eyelid fills."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("scipy")

from emogen.portrait.render import PortraitRenderer, crop_box  # noqa: E402


def _arc(centre, radii, start, stop, n):
    angles = np.linspace(start, stop, n)
    return np.stack([centre[0] + radii[0] * np.cos(angles), centre[1] + radii[1] * np.sin(angles)], axis=1)


def synthetic_face(width: int = 300, height: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """A drawn face (skin oval, dark eyes, red lips, textured background) and its 68 dlib-layout points."""
    import cv2

    cx, cy, s = width / 2, height * 0.45, min(width, height) / 6
    jaw = _arc((cx, cy - 0.3 * s), (1.6 * s, 2.1 * s), np.pi, 0.0, 17)  # temple, round the chin, temple
    brow_l = _arc((cx - 0.6 * s, cy - 0.65 * s), (0.45 * s, 0.15 * s), np.pi, 2 * np.pi, 5)
    brow_r = _arc((cx + 0.6 * s, cy - 0.65 * s), (0.45 * s, 0.15 * s), np.pi, 2 * np.pi, 5)
    nose = np.stack([np.full(4, cx), np.linspace(cy - 0.4 * s, cy + 0.35 * s, 4)], axis=1)
    nose_base = np.stack([np.linspace(cx - 0.3 * s, cx + 0.3 * s, 5), np.full(5, cy + 0.5 * s)], axis=1)

    def eye(ex):
        e = _arc((ex, cy - 0.3 * s), (0.3 * s, 0.12 * s), np.pi, 3 * np.pi, 7)[:-1]
        return e  # 36 outer corner, 37-38 upper lid, 39 inner corner, 40-41 lower lid

    mouth_outer = _arc((cx, cy + 1.05 * s), (0.6 * s, 0.25 * s), np.pi, 3 * np.pi, 13)[:-1]
    mouth_inner = _arc((cx, cy + 1.05 * s), (0.45 * s, 0.03 * s), np.pi, 3 * np.pi, 9)[:-1]
    points = np.concatenate(
        [jaw, brow_l, brow_r, nose, nose_base, eye(cx - 0.6 * s), eye(cx + 0.6 * s), mouth_outer, mouth_inner]
    ).astype(np.float32)
    assert points.shape == (68, 2)
    rng = np.random.default_rng(0)
    image = (rng.integers(60, 200, (height, width, 3))).astype(np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)
    cv2.ellipse(image, (int(cx), int(cy + 0.2 * s)), (int(1.7 * s), int(2.4 * s)), 0, 0, 360, (210, 160, 130), -1)
    noise = rng.normal(0, 6, image.shape)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)  # texture, so a moved pixel shows
    for e in (points[36:42], points[42:48]):
        cv2.fillPoly(image, [np.round(e).astype(np.int32)], (40, 30, 30))
    cv2.fillPoly(image, [np.round(points[48:60]).astype(np.int32)], (170, 60, 70))
    for b in (points[17:22], points[22:27]):
        cv2.polylines(image, [np.round(b).astype(np.int32)], False, (70, 45, 30), 3)
    return image, points


@pytest.fixture(scope="module")
def renderer() -> PortraitRenderer:
    image, points = synthetic_face()
    return PortraitRenderer(image, points, size=160)


def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _polygon(points: np.ndarray, size: int) -> np.ndarray:
    import cv2

    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def test_rest_landmarks_reproduce_the_portrait(renderer):
    frame = renderer.render(renderer.rest_landmarks)
    assert frame.shape == (160, 160, 3) and frame.dtype == np.uint8
    assert renderer.portrait.shape == (160, 160, 3)
    assert np.array_equal(frame, renderer.portrait)
    rest = renderer.rest_landmarks
    assert rest.shape == (68, 2) and rest.dtype == np.float32
    assert np.all((rest > 0) & (rest < 160))


def test_outside_the_ring_nothing_changes(renderer):
    rest = renderer.rest_landmarks
    eye = renderer.eye_distance
    target = rest.copy()
    target[17:27, 1] -= 0.2 * eye  # brows up
    target[[55, 56, 57, 58, 59, 65, 66, 67], 1] += 0.5 * eye  # mouth open
    target[5:12, 1] += 0.4 * eye  # jaw down
    target += [0.05 * eye, 0.02 * eye]  # small head shift
    frame = renderer.render(target)
    moving = renderer.moving_mask
    assert 0.05 < moving.mean() < 0.8
    assert np.array_equal(frame[~moving], renderer.portrait[~moving])
    changed = np.any(frame != renderer.portrait, axis=2)
    assert changed[moving].mean() > 0.1


def _open_mouth(renderer, lip: float, jaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Render with the lower lip lowered by ``lip`` and the jaw by ``jaw`` eye distances; frame and opening mask."""
    rest = renderer.rest_landmarks
    target = rest.copy()
    target[[55, 56, 57, 58, 59, 65, 66, 67], 1] += lip * renderer.eye_distance
    target[3:14, 1] += jaw * renderer.eye_distance
    return renderer.render(target), _polygon(target[60:68], 160)


def _band(mask: np.ndarray, low: float, high: float) -> np.ndarray:
    """The rows of ``mask`` between two percentiles of its height."""
    ys = np.nonzero(mask)[0]
    rows = np.arange(mask.shape[0])[:, None]
    return mask & (rows >= np.percentile(ys, low)) & (rows <= np.percentile(ys, high))


def test_open_mouth_is_filled_dark(renderer):
    rest = renderer.rest_landmarks
    frame, inner = _open_mouth(renderer, 0.5, 0.5)
    # the middle of the opening (between the upper and lower teeth) is a dark cavity, darker than the lips
    lips = _polygon(rest[48:60], 160) & ~_polygon(rest[60:68], 160)
    assert _luma(frame[_band(inner, 30, 70)]).mean() < 0.5 * _luma(renderer.portrait[lips]).mean()


def test_lower_teeth_ride_on_the_jaw(renderer):
    # the jaw and lip drop together: the lower teeth stay behind the lip; a lower lip pulled down further
    # than the jaw (sadness, anger) uncovers them
    with_jaw, inner = _open_mouth(renderer, 0.5, 0.5)
    lip_only, _ = _open_mouth(renderer, 0.5, 0.25)
    bottom = _band(inner, 60, 80)
    assert _luma(lip_only[bottom]).mean() > _luma(with_jaw[bottom]).mean() + 40


def test_blink_covers_the_eye_with_skin(renderer):
    rest = renderer.rest_landmarks
    target = rest.copy()
    for upper, lower in (([37, 38], [41, 40]), ([43, 44], [47, 46])):
        target[upper, 1] = rest[lower, 1] - 0.5
    frame = renderer.render(target)
    eye = _polygon(rest[36:42], 160) | _polygon(rest[42:48], 160)
    before, after = _luma(renderer.portrait[eye]).mean(), _luma(frame[eye]).mean()
    assert after > before + 40  # the dark eye is mostly covered by lid skin


def test_lids_pushed_past_each_other_render_as_closed(renderer):
    """An upper lid sampled below the lower one (a blink on top of a sad droop) draws the same as lids that meet."""
    from emogen.portrait.render import LID_PAIRS

    rest = renderer.rest_landmarks
    met, crossed = rest.copy(), rest.copy()
    for upper, lower in LID_PAIRS:
        middle = (rest[upper, 1] + rest[lower, 1]) / 2
        met[[upper, lower], 1] = middle
        crossed[upper, 1], crossed[lower, 1] = middle + 3, middle - 3
    assert np.array_equal(renderer.render(crossed), renderer.render(met))


def test_crop_and_bad_input():
    image, points = synthetic_face(640, 480)
    left, top, side = crop_box(image.shape, points)
    assert 0 <= left and left + side <= 640 and 0 <= top and top + side <= 480
    assert points[:, 0].min() > left and points[:, 0].max() < left + side
    square, square_points = synthetic_face(200, 200)
    assert crop_box(square.shape, square_points) == (0, 0, 200)  # already a portrait: the whole image
    with pytest.raises(ValueError, match="68, 2"):
        PortraitRenderer(image, points[:60])
    with pytest.raises(ValueError, match="RGB uint8"):
        PortraitRenderer(image.astype(np.float32), points)
