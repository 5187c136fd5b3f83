"""Training data of the portrait motion model: per-frame landmark motion and audio features.

Three sources, all at 25 fps:

- **GRID s1** (``grid-s1``): one speaker, neutral speech with audio. The rest shape is the mean of the
  frames the ``.align`` file marks as silence (``sil``). The held-out test split is the clips whose names
  sort into the last 5 % of all GRID names (fixed, whatever ``grid_limit`` is).
- **MEAD** (``mead-style``): 3 identities x 8 emotions, no audio. The rest shape is the identity's
  neutral clip mean, so a clip's offsets carry its expression.
- **The user's own videos** (any folder of mp4/mov/mkv/webm/avi): audio when the file has it; the rest
  shape is the mean of the 10 % of frames with the smallest mouth opening; emotion unknown (None).

Landmarks come from :class:`~emogen.portrait.face.LandmarkTracker` on the luma plane (dlib looks at
intensity only). Frames where the face is lost are filled by linear interpolation; clips with fewer than
half their frames tracked are skipped with a warning.

**Smoothing.** Landmarks are smoothed over time by a Savitzky-Golay filter of 5 frames, order 2
(weights ``[-3, 12, 17, 12, -3] / 35``), applied to the pixel coordinates. Measured on the leading
silence of 40 GRID clips spread over the corpus (the face is still there, so frame-to-frame motion is
tracking noise): raw landmarks move 0.0065 inter-ocular distances (about 0.3 px) per frame, with a mean
second difference of 0.0123; the filter brings these to 0.0048 and 0.0053 while keeping 94 % of the
2-98 percentile range of mouth opening in speech. A 3-frame moving average or ``[1, 2, 1] / 4`` removes a
little more noise (second difference 0.0035-0.0037) but keeps only 89-91 % of the mouth range, eating
the 2-3 frame lip closures the model must learn; stronger smoothing is left to the motion model, which
produces smooth sequences by construction. See :data:`SMOOTHING`.

Everything heavy (PyAV, dlib) is imported inside functions.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError, InputError
from .features import AUDIO_FEATURE_DIM, FPS, SAMPLE_RATE, audio_features
from .geometry import MOTION_DIM, align_landmarks, landmarks_to_motion, mouth_opening

__all__ = [
    "CACHE_VERSION",
    "GRID_TEST_FRACTION",
    "SMOOTHING",
    "VIDEO_SUFFIXES",
    "PortraitClip",
    "build_portrait_cache",
    "expression_statistics",
    "grid_split",
    "read_video_audio",
    "read_video_frames",
    "smooth_landmarks",
    "track_video",
]

logger = logging.getLogger(__name__)

#: Bump when the extraction changes: old cache files are then ignored.
CACHE_VERSION = "2"
#: Share of GRID clips (by sorted name, the last ones) held out for testing.
GRID_TEST_FRACTION = 0.05
#: Temporal smoothing of the landmarks: Savitzky-Golay window and polynomial order.
SMOOTHING = {"method": "savitzky-golay", "window": 5, "order": 2}
#: File suffixes read from a folder of the user's own videos.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
#: Share of a user clip's frames (smallest mouth opening) averaged into its rest shape.
USER_REST_FRACTION = 0.10


@dataclass
class PortraitClip:
    """One training clip of the portrait motion model.

    Attributes:
        name (`str`): file stem (e.g. ``bbaf2n``, ``M030_front_happy_level3_001``).
        source (`str`): ``"grid"``, ``"mead"`` or ``"user"``.
        identity (`str`): the speaker (``s1``, ``M030``, or the user folder's name).
        emotion (`str | None`): canonical emotion category; ``"neutral"`` for GRID, None when unknown.
        motion (`np.ndarray` of shape `(T, 140)`): float32 eye-frame landmark offsets from ``rest``
            (136) and pose relative to the clip median (4), see :mod:`emogen.portrait.geometry`.
        rest (`np.ndarray` of shape `(68, 2)`): the rest shape in the eye frame.
        audio (`np.ndarray` of shape `(T, 66)` or None): audio features per frame, None without audio.
        split (`str`): ``"train"`` or ``"test"``.
        level (`int | None`): MEAD intensity level.
        meta (`dict`): ``"tracked"``: ``(T,)`` bool, frames where the face was found (the others are
            interpolated, e.g. the blank leading frames of 11 GRID videos: mask them in losses);
            ``"found"``: its mean; GRID also ``"silent"``: ``(T,)`` bool, frames inside ``sil``.
    """

    name: str
    source: str
    identity: str
    emotion: str | None
    motion: np.ndarray
    rest: np.ndarray
    audio: np.ndarray | None
    split: str = "train"
    level: int | None = None
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        """Number of video frames."""
        return int(self.motion.shape[0])

    @property
    def shapes(self) -> np.ndarray:
        """Eye-frame landmarks per frame, ``(T, 68, 2)`` float32 (``motion`` offsets + ``rest``)."""
        return self.motion[:, :136].reshape(-1, 68, 2) + self.rest[None]


# ----------------------------------------------------------------------------------------------- video I/O


def _open(path: str | os.PathLike[str]):  # noqa: ANN202 - av container
    import av

    path = Path(path)
    if not path.is_file():
        msg = f"video {str(path)!r} does not exist; give the path of a video file (mp4, mov, ...)"
        raise InputError(msg)
    try:
        return av.open(str(path))
    except Exception as error:  # av.error.* (invalid data, unknown format)
        msg = f"video {str(path)!r} cannot be opened ({' '.join(str(error).split())}); convert it to mp4"
        raise InputError(msg) from None


def read_video_frames(path: str | os.PathLike[str], fmt: str = "rgb24", fps: float | None = None) -> Iterator[np.ndarray]:
    """Decode a video's frames one at a time with PyAV.

    Args:
        path (`str` or `os.PathLike`): the video file.
        fmt (`str`): PyAV pixel format: ``"rgb24"`` gives ``(H, W, 3)``, ``"gray"`` the luma plane ``(H, W)``.
        fps (`float`, *optional*): resample to this frame rate by nearest timestamp (frames dropped or
            repeated); the file's own frames when None.

    Yields:
        C-contiguous uint8 arrays.

    Raises:
        :class:`~emogen.errors.InputError`: a missing file or one without a decodable video stream.
    """
    container = _open(path)
    try:
        if not container.streams.video:
            msg = f"{str(path)!r} has no video stream; give a video file"
            raise InputError(msg)
        stream = container.streams.video[0]
        if fps is None:
            for frame in container.decode(stream):
                yield np.ascontiguousarray(frame.to_ndarray(format=fmt))
            return
        source_fps = float(stream.average_rate or fps)
        step, k, previous, start = 1.0 / fps, 0, None, None
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else (k + 1) * step
            start = t if start is None else start
            t -= start
            if previous is not None:
                while k * step < (previous[0] + t) / 2:
                    yield previous[1]
                    k += 1
            previous = (t, np.ascontiguousarray(frame.to_ndarray(format=fmt)))
        if previous is not None:
            while k * step < previous[0] + 0.5 / source_fps:
                yield previous[1]
                k += 1
    finally:
        container.close()


def read_video_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray | None:
    """The audio track of a video (or audio file PyAV reads) as mono float32 at ``sample_rate``; None without one."""
    from ..errors import InputError
    from ..voice.audio import decode_audio, resample, to_mono

    try:
        audio, rate = decode_audio(path)
    except InputError:
        return None
    return resample(to_mono(audio), rate, sample_rate).astype(np.float32)


# ----------------------------------------------------------------------------------------------- landmarks


def smooth_landmarks(points: np.ndarray) -> np.ndarray:
    """Savitzky-Golay smoothing (:data:`SMOOTHING`) of a landmark sequence ``(T, ...)`` along time.

    Edges are mirrored; sequences shorter than the window are returned unchanged.
    """
    x = np.asarray(points, dtype=np.float32)
    window = SMOOTHING["window"]
    if len(x) < window:
        return x.copy()
    weights = np.array([-3.0, 12.0, 17.0, 12.0, -3.0], dtype=np.float32) / 35.0  # SG(5, 2)
    half = window // 2
    padded = np.concatenate([x[half:0:-1], x, x[-2 : -half - 2 : -1]], axis=0)
    return sum(w * padded[i : i + len(x)] for i, w in enumerate(weights)).astype(np.float32)


def track_video(path: str | os.PathLike[str], fps: float | None = None, max_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Track dlib's 68 landmarks through a video.

    Args:
        path (`str` or `os.PathLike`): the video.
        fps (`float`, *optional*): resample to this frame rate first (see :func:`read_video_frames`).
        max_frames (`int`, *optional*): stop after this many frames.

    Returns:
        `tuple`: pixel landmarks ``(T, 68, 2)`` float32 (lost frames filled by linear interpolation,
        unsmoothed) and a ``(T,)`` bool mask of the frames where the face was found.
    """
    from .face import LandmarkTracker

    tracker = LandmarkTracker()
    points, found = [], []
    for n, frame in enumerate(read_video_frames(path, fmt="gray", fps=fps)):
        if max_frames is not None and n >= max_frames:
            break
        face = tracker.update(frame)
        found.append(face is not None)
        points.append(face.points if face is not None else np.full((68, 2), np.nan, np.float32))
    if not points:
        return np.zeros((0, 68, 2), np.float32), np.zeros(0, bool)
    array, mask = np.stack(points), np.array(found)
    if mask.any() and not mask.all():
        idx = np.arange(len(mask))
        flat = array.reshape(len(mask), -1)
        for j in range(flat.shape[1]):
            flat[~mask, j] = np.interp(idx[~mask], idx[mask], flat[mask, j])
        array = flat.reshape(array.shape)
    return array, mask


def _eye_shapes(points: np.ndarray) -> np.ndarray:
    return np.stack([align_landmarks(p)[0] for p in points]) if len(points) else np.zeros((0, 68, 2), np.float32)


def _smallest_mouth_rest(shapes: np.ndarray, fraction: float = USER_REST_FRACTION) -> np.ndarray:
    opening = mouth_opening(shapes)
    count = max(1, int(round(fraction * len(shapes))))
    return shapes[np.argsort(opening)[:count]].mean(axis=0).astype(np.float32)


@dataclass
class _Tracked:
    path: Path
    points: np.ndarray  # smoothed pixel landmarks (T, 68, 2)
    shapes: np.ndarray  # eye frame (T, 68, 2)
    mask: np.ndarray  # (T,) bool: the face was found (else interpolated)

    @property
    def found(self) -> float:
        return float(self.mask.mean())


def _track(path: Path) -> _Tracked | None:
    points, mask = track_video(path, fps=FPS)
    if len(mask) == 0 or mask.mean() < 0.5:
        logger.warning("skipping %s: a face was found in %d of %d frames", path.name, int(mask.sum()), len(mask))
        return None
    points = smooth_landmarks(points)
    return _Tracked(path=path, points=points, shapes=_eye_shapes(points), mask=mask)


def _audio(path: Path, num_frames: int) -> np.ndarray | None:
    audio = read_video_audio(path)
    if audio is None or len(audio) == 0 or float(np.max(np.abs(audio))) < 1e-4:
        return None
    return audio_features(audio, SAMPLE_RATE, num_frames)


# ----------------------------------------------------------------------------------------------- sources


def grid_split(names: Sequence[str], fraction: float = GRID_TEST_FRACTION) -> set[str]:
    """The held-out GRID names: those that sort into the last ``fraction`` of ``names`` (at least one)."""
    ordered = sorted(names)
    count = max(1, math.ceil(fraction * len(ordered)))
    return set(ordered[-count:])


def _grid_subset(clips: list, limit: int | None) -> list:
    """``limit`` clips spread evenly over the sorted list (all when None)."""
    if limit is None or limit >= len(clips):
        return clips
    idx = np.unique(np.linspace(0, len(clips) - 1, max(1, limit)).round().astype(int))
    return [clips[i] for i in idx]


def _grid_clip(clip, test_names: set[str]) -> PortraitClip | None:  # noqa: ANN001 - emogen.data.grid.GridClip
    tracked = _track(clip.video)
    if tracked is None:
        return None
    n = len(tracked.shapes)
    t = np.arange(n) / FPS + 0.5 / FPS  # frame centres
    silent = np.zeros(n, bool)
    for w in clip.words:
        if w.word == "sil":
            silent |= (t >= w.start) & (t < w.end)
    rest = tracked.shapes[silent].mean(axis=0) if silent.sum() >= 3 else _smallest_mouth_rest(tracked.shapes)
    name = clip.video.stem
    return PortraitClip(
        name=name,
        source="grid",
        identity="s1",
        emotion="neutral",
        motion=landmarks_to_motion(tracked.points, rest),
        rest=rest.astype(np.float32),
        audio=_audio(clip.video, n),
        split="test" if name in test_names else "train",
        meta={"silent": silent, "found": tracked.found, "tracked": tracked.mask},
    )


def _mead_clips(clips: list, progress) -> list[PortraitClip]:  # noqa: ANN001
    tracked = {c.path.stem: (c, _track(c.path)) for c in progress(clips, desc="MEAD")}
    rests = {}
    for clip, tr in tracked.values():
        if clip.emotion == "neutral" and tr is not None:
            rests.setdefault(clip.identity, []).append(tr.shapes)
    out = []
    for name, (clip, tr) in tracked.items():
        if tr is None:
            continue
        if clip.identity in rests:
            rest = np.concatenate(rests[clip.identity]).mean(axis=0)
        else:
            logger.warning("MEAD identity %s has no neutral clip; %s rests on its own closed-mouth frames", clip.identity, name)
            rest = _smallest_mouth_rest(tr.shapes)
        out.append(
            PortraitClip(
                name=name,
                source="mead",
                identity=clip.identity,
                emotion=clip.emotion,
                motion=landmarks_to_motion(tr.points, rest),
                rest=rest.astype(np.float32),
                audio=None,
                split="train",
                level=clip.level,
                meta={"found": tr.found, "tracked": tr.mask},
            )
        )
    return out


def _user_videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        msg = f"--videos {str(folder)!r} is not a folder; give a folder of talking-face videos"
        raise InputError(msg)
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        msg = f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {str(folder)!r}; add talking-face videos"
        raise InputError(msg)
    return videos


def _user_clip(path: Path, identity: str) -> PortraitClip | None:
    tr = _track(path)
    if tr is None:
        return None
    rest = _smallest_mouth_rest(tr.shapes)
    return PortraitClip(
        name=path.stem,
        source="user",
        identity=identity,
        emotion=None,
        motion=landmarks_to_motion(tr.points, rest),
        rest=rest,
        audio=_audio(path, len(tr.shapes)),
        split="train",
        meta={"found": tr.found, "tracked": tr.mask},
    )


def build_portrait_cache(
    cache_dir: str | os.PathLike[str] = "runs/portrait_cache",
    root: str | os.PathLike[str] | None = None,
    grid_limit: int | None = None,
    user_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> list[PortraitClip]:
    """Extract (or load) the portrait training clips of GRID s1, MEAD and optionally the user's videos.

    The cache file is named by a hash of every input file (path, size, mtime), the settings and
    :data:`CACHE_VERSION`, and is written atomically (see :mod:`emogen.utils.cache`).

    Args:
        cache_dir (`str` or `os.PathLike`): folder of the cache file.
        root (`str` or `os.PathLike`, *optional*): the data folder (``EMOGEN_DATA`` / ``../shared/data`` when None).
        grid_limit (`int`, *optional*): use this many GRID clips, spread evenly over the sorted names (all
            when None). The test split stays the last 5 % of all names.
        user_dir (`str` or `os.PathLike`, *optional*): a folder of the user's own talking videos.
        progress (`bool`): show progress bars.

    Returns:
        `list[PortraitClip]`: GRID clips (sorted by name), then MEAD, then the user's.

    Raises:
        :class:`~emogen.errors.DataNotFoundError`: GRID or MEAD missing; :class:`~emogen.errors.InputError`:
        a bad ``user_dir``.
    """
    from ..data.grid import load_grid
    from ..data.mead import load_mead
    from ..utils.cache import cache_key, load_or_build

    all_grid = load_grid(root)
    test_names = grid_split([c.video.stem for c in all_grid])
    grid = _grid_subset(all_grid, grid_limit)
    mead = load_mead(root)
    user = _user_videos(Path(user_dir)) if user_dir is not None else []
    files = [p for c in grid for p in (c.video, c.video.parent.parent / "align" / f"{c.video.stem}.align")]
    files += [c.path for c in mead] + user
    config = {
        "grid_limit": grid_limit,
        "test": sorted(test_names),
        "smoothing": SMOOTHING,
        "fps": FPS,
        "audio_dim": AUDIO_FEATURE_DIM,
        "motion_dim": MOTION_DIM,
        "user_rest_fraction": USER_REST_FRACTION,
    }
    key = cache_key(files, config, CACHE_VERSION)

    def bar(items, desc: str):  # noqa: ANN001, ANN202
        if not progress:
            return items
        from tqdm.auto import tqdm

        return tqdm(items, desc=desc, unit="clip")

    def build() -> list[PortraitClip]:
        clips = [c for c in (_grid_clip(g, test_names) for g in bar(grid, "GRID")) if c is not None]
        clips += _mead_clips(mead, bar)
        if user:
            identity = Path(user_dir).resolve().name  # type: ignore[arg-type]
            clips += [c for c in (_user_clip(p, identity) for p in bar(user, "videos")) if c is not None]
        if not clips:
            msg = "no clip had a trackable face; check the data folder"
            raise DataNotFoundError(msg)
        return clips

    return load_or_build(cache_dir, "portrait", key, build)


# ----------------------------------------------------------------------------------------------- report


def expression_statistics(clips: Sequence[PortraitClip]) -> dict:
    """Sanity statistics of extracted clips, in inter-ocular units (y down in the eye frame).

    Returns:
        `dict` with ``"clips"``/``"frames"`` per source and split; ``"grid_mouth"``: inner-lip opening
        percentiles (10/50/90) and means of GRID frames marked silence vs speech; ``"mead"``: per emotion,
        the mean over identities of each clip's mean minus its identity's neutral rest shape for
        ``brow`` (brow height above the eye line, + = raised), ``inner_brow`` (points 21-22, + = raised),
        ``brow_gap`` (horizontal gap of the inner brow ends, - = drawn together), ``corner_width``
        (mouth half-width, + = out), ``corner_height`` (corners relative to the eye line, + = up),
        ``corner_lift`` (corners relative to the upper-lip centre, + = up) and ``mouth`` (inner-lip opening).
    """
    from .geometry import brow_height, mouth_corners

    counts: dict[str, dict[str, int]] = {}
    for c in clips:
        entry = counts.setdefault(f"{c.source}/{c.split}", {"clips": 0, "frames": 0})
        entry["clips"] += 1
        entry["frames"] += c.num_frames
    out: dict = {"counts": counts}
    grid = [c for c in clips if c.source == "grid" and "silent" in c.meta]
    if grid:
        opening = np.concatenate([mouth_opening(c.shapes) for c in grid])
        silent = np.concatenate([c.meta["silent"] for c in grid])
        out["grid_mouth"] = {
            name: {
                "mean": float(opening[mask].mean()),
                "p10": float(np.percentile(opening[mask], 10)),
                "p50": float(np.percentile(opening[mask], 50)),
                "p90": float(np.percentile(opening[mask], 90)),
                "frames": int(mask.sum()),
            }
            for name, mask in (("silence", silent), ("speech", ~silent))
            if mask.any()
        }

    def measures(shapes: np.ndarray) -> np.ndarray:
        corners = mouth_corners(shapes)
        return np.stack(
            [
                brow_height(shapes),
                -shapes[:, [21, 22], 1].mean(axis=1),
                shapes[:, 22, 0] - shapes[:, 21, 0],
                corners[:, 0],
                corners[:, 1],
                corners[:, 2],
                mouth_opening(shapes),
            ],
            axis=1,
        ).mean(axis=0)

    names = ("brow", "inner_brow", "brow_gap", "corner_width", "corner_height", "corner_lift", "mouth")
    per_emotion: dict[str, list[np.ndarray]] = {}
    for c in clips:
        if c.source == "mead" and c.emotion is not None:
            per_emotion.setdefault(c.emotion, []).append(measures(c.shapes) - measures(c.rest[None]))
    out["mead"] = {e: dict(zip(names, (float(v) for v in np.mean(d, axis=0)), strict=True)) for e, d in sorted(per_emotion.items())}
    return out
