"""Face detection, landmarks, the eye frame, tracking and the portrait data cache (fast: a few frames)."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from emogen.errors import InputError, NoFaceError
from emogen.portrait.geometry import MOTION_DIM, Similarity, align_landmarks, landmarks_to_motion, motion_to_landmarks

pytest.importorskip("dlib", reason="needs dlib-bin for face landmarks")
pytest.importorskip("av", reason="needs PyAV to decode video")


def _image(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def portraits(data_root: Path) -> list[Path]:
    paths = sorted((data_root / "portraits").glob("*.png"))
    if not paths:
        pytest.skip("needs ../shared/data/portraits/*.png")
    return paths


@pytest.fixture(scope="module")
def grid_video(data_root: Path) -> Path:
    videos = sorted((data_root / "grid-s1" / "video").glob("*.mp4"))
    if not videos:
        pytest.skip("needs ../shared/data/grid-s1/video/*.mp4")
    return videos[0]


def test_landmarks_on_portraits(portraits: list[Path]) -> None:
    from emogen.portrait.face import detect_face, face_asymmetry

    for path in portraits:
        image = _image(path)
        face = detect_face(image, name=path.name)
        assert face.points.shape == (68, 2) and face.points.dtype == np.float32
        left, top, right, bottom = face.box
        inside = (face.points[:, 0] > left - 0.2 * (right - left)) & (face.points[:, 0] < right + 0.2 * (right - left))
        assert inside.all(), path.name
        assert face.eye_distance >= 40 and face_asymmetry(face.points) < 0.2, path.name
        # anatomical order: brows above eyes above nose tip above mouth above chin
        ys = [face.points[i, 1].mean() for i in (slice(17, 27), slice(36, 48), 33, slice(48, 68), 8)]
        assert ys == sorted(ys), path.name


def test_several_faces_warns_and_takes_largest(portraits: list[Path], caplog: pytest.LogCaptureFixture) -> None:
    from emogen.portrait.face import detect_face

    astronaut = next((p for p in portraits if p.name == "astronaut.png"), None)
    if astronaut is None:
        pytest.skip("needs portraits/astronaut.png")
    with caplog.at_level(logging.WARNING, logger="emogen.portrait.face"):
        face = detect_face(_image(astronaut), name="astronaut.png")
    assert any("2 faces found" in r.getMessage() for r in caplog.records)
    assert face.box[1] < 200  # the face, not the patch on the suit lower down


def test_no_face_is_one_line_input_error() -> None:
    from emogen.portrait.face import detect_face

    with pytest.raises(NoFaceError) as info:
        detect_face(np.full((240, 320, 3), 128, np.uint8), name="blank.png")
    assert isinstance(info.value, InputError)
    assert "\n" not in str(info.value) and "blank.png" in str(info.value)
    with pytest.raises(InputError):
        detect_face(np.zeros((10, 10, 5), np.uint8))


def test_too_small_and_turned_away(portraits: list[Path]) -> None:
    from emogen.portrait.face import FaceTooSmallError, FaceTurnedAwayError, check_face, detect_face

    face = detect_face(_image(portraits[0]))
    small = replace(face, points=face.points * 0.5)
    with pytest.raises(FaceTooSmallError, match="too small"):
        check_face(small, "small.png")
    turned = face.points.copy()
    norm, sim = align_landmarks(turned)
    norm[27:36, 0] += 0.6  # nose swung towards one cheek, as in a strong yaw
    with pytest.raises(FaceTurnedAwayError, match="turned away"):
        check_face(replace(face, points=sim.apply(norm)), "side.png")


def test_similarity_round_trip() -> None:
    rng = np.random.default_rng(0)
    sim = Similarity(scale=47.0, angle=0.2, tx=180.0, ty=140.0)
    points = rng.normal(size=(68, 2)).astype(np.float32)
    np.testing.assert_allclose(sim.inverse(sim.apply(points)), points, atol=1e-4)
    pixels = sim.apply(points)
    norm, found = align_landmarks(pixels)
    np.testing.assert_allclose(found.apply(norm), pixels, atol=1e-3)
    np.testing.assert_allclose(norm[36:42].mean(0), [-0.5, 0.0], atol=1e-5)
    np.testing.assert_allclose(norm[42:48].mean(0), [0.5, 0.0], atol=1e-5)


def test_motion_vector_shapes_and_inverse() -> None:
    rng = np.random.default_rng(1)
    base = Similarity(50.0, 0.05, 160.0, 120.0)
    rest = rng.normal(scale=0.8, size=(68, 2)).astype(np.float32)
    frames = []
    for t in range(12):
        shape = rest + rng.normal(scale=0.02, size=(68, 2))
        frames.append(Similarity(50.0 * (1 + 0.01 * t), 0.05 + 0.01 * t, 160.0 + t, 120.0 - t).apply(shape))
    points = np.stack(frames)
    motion = landmarks_to_motion(points, rest)
    assert motion.shape == (12, MOTION_DIM) == (12, 140) and motion.dtype == np.float32
    reference = align_landmarks(points[6])[1]
    back = motion_to_landmarks(landmarks_to_motion(points, rest, reference), rest, reference)
    np.testing.assert_allclose(back, points, atol=1e-2)
    assert motion_to_landmarks(motion, rest, base, use_pose=False).shape == (12, 68, 2)


def test_tracker_follows_grid_frames(grid_video: Path) -> None:
    from emogen.portrait.dataset import read_video_frames
    from emogen.portrait.face import LandmarkTracker, detect_face

    frames = [f for _, f in zip(range(8), read_video_frames(grid_video, fmt="gray"), strict=False)]
    tracker = LandmarkTracker()
    tracked = [tracker.update(f) for f in frames]
    assert all(t is not None for t in tracked) and tracker.detections == 1
    detected = detect_face(frames[-1], upsample=0).points
    assert np.abs(tracked[-1].points - detected).mean() < 2.0  # pixels, inter-ocular distance ~46
    blank = LandmarkTracker()
    assert blank.update(np.zeros((120, 160), np.uint8)) is None


def test_video_and_audio_decoding(grid_video: Path) -> None:
    from emogen.portrait.dataset import read_video_audio, read_video_frames
    from emogen.portrait.features import AUDIO_FEATURE_DIM, audio_features

    frames = list(read_video_frames(grid_video))
    assert frames[0].ndim == 3 and frames[0].dtype == np.uint8 and frames[0].flags["C_CONTIGUOUS"]
    half = list(read_video_frames(grid_video, fmt="gray", fps=12.5))
    assert abs(len(half) - len(frames) / 2) <= 1
    audio = read_video_audio(grid_video)
    assert audio is not None and audio.dtype == np.float32 and abs(len(audio) / 16000 - len(frames) / 25) < 0.1
    feats = audio_features(audio, 16000, len(frames))
    assert feats.shape == (len(frames), AUDIO_FEATURE_DIM) and np.isfinite(feats).all()
    with pytest.raises(InputError):
        next(read_video_frames(grid_video.with_name("missing.mp4")))


def test_smoothing_keeps_polynomials_and_split_is_fixed() -> None:
    from emogen.portrait.dataset import grid_split, smooth_landmarks

    t = np.arange(20, dtype=np.float32)[:, None, None]
    quad = np.broadcast_to(0.01 * t**2 - t + 3, (20, 68, 2))
    np.testing.assert_allclose(smooth_landmarks(quad)[2:-2], quad[2:-2], atol=1e-3)
    names = [f"c{i:03d}" for i in range(100)]
    assert grid_split(names) == {f"c{i:03d}" for i in range(95, 100)}
    assert grid_split(list(reversed(names))) == grid_split(names)


def test_build_portrait_cache_small(data_root: Path, tmp_path: Path) -> None:
    from emogen.portrait.dataset import build_portrait_cache, expression_statistics

    grid, mead = data_root / "grid-s1", data_root / "mead-style"
    stems = sorted(p.stem for p in (grid / "video").glob("*.mp4"))[:2]
    meads = sorted(mead.glob("M030_front_*happy*.mp4")) + sorted(mead.glob("M030_front_neutral*.mp4"))
    if len(stems) < 2 or len(meads) < 2:
        pytest.skip("needs GRID and MEAD clips")
    root = tmp_path / "data"
    for stem in stems:
        for sub, suffix in (("video", ".mp4"), ("align", ".align")):
            (root / "grid-s1" / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy2(grid / sub / f"{stem}{suffix}", root / "grid-s1" / sub)
    (root / "mead-style").mkdir()
    for path in meads:
        shutil.copy2(path, root / "mead-style")
    clips = build_portrait_cache(tmp_path / "cache", root=root, progress=False)
    assert [c.source for c in clips] == ["grid", "grid", "mead", "mead"]
    assert [c.split for c in clips[:2]] == ["train", "test"]  # the last 5 % (at least one) of the names
    for clip in clips:
        assert clip.motion.shape == (clip.num_frames, 140) and clip.rest.shape == (68, 2)
        assert (clip.audio is None) == (clip.source == "mead")
        assert clip.audio is None or clip.audio.shape == (clip.num_frames, 66)
        assert clip.meta["tracked"].shape == (clip.num_frames,)
    assert len(list((tmp_path / "cache").glob("portrait-*.pkl"))) == 1
    again = build_portrait_cache(tmp_path / "cache", root=root, progress=False)
    np.testing.assert_array_equal(again[0].motion, clips[0].motion)
    stats = expression_statistics(clips)
    assert stats["grid_mouth"]["speech"]["mean"] > stats["grid_mouth"]["silence"]["mean"]
    assert stats["mead"]["happy"]["corner_width"] > 0
