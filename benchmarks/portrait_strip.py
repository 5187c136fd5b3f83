"""A strip of talking-portrait frames for the README: neutral, happy, sad, angry, surprised (intensity 1.0).

One row per portrait (default: ``astronaut.png`` and ``mead_W009_neutral.png`` from ``../shared/data/portraits``),
one column per emotion, each the same frame (the middle one by default) of the portrait animated by the
same speech (a held-out GRID test clip unless ``--audio`` is given) with the same seed, so the columns
differ only by the emotion. Labels are drawn under each frame.

Run: ``python benchmarks/portrait_strip.py [-o docs/portrait_strip.png] [--size 256] [--audio a.wav]``.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from emogen.data.paths import dataset_dir
from emogen.pipelines.pipeline_emo_portrait import EmoPortraitPipeline, load_image
from emogen.portrait.face import detect_face
from emogen.utils import atomic_output

EMOTIONS = ("neutral", "happy:1", "sad:1", "angry:1", "surprised:1")
PORTRAITS = ("astronaut.png", "mead_W009_neutral.png")
#: Held-out GRID clip whose speech drives the strip (the first of the test split).
GRID_CLIP = "swav1a"
LABEL_HEIGHT = 26


def speech(path: str | None) -> tuple[np.ndarray, int]:
    """Mono speech: the file at ``path``, or the held-out GRID clip :data:`GRID_CLIP`."""
    from emogen.voice.audio import load_audio, to_mono

    if path is None:
        from emogen.portrait.dataset import read_video_audio

        video = dataset_dir("grid-s1") / "video" / f"{GRID_CLIP}.mp4"
        return read_video_audio(video, 16000), 16000
    audio, rate = load_audio(path)
    return to_mono(audio), rate


def label(tile: np.ndarray, text: str) -> np.ndarray:
    """``tile`` with a white band below it carrying ``text``."""
    import cv2

    band = np.full((LABEL_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1)
    cv2.putText(band, text, ((tile.shape[1] - w) // 2, (LABEL_HEIGHT + h) // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (30, 30, 30), 1, cv2.LINE_AA)
    return np.concatenate([tile, band])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="docs/portrait_strip.png")
    parser.add_argument("--checkpoint", default=None, help="portrait pipeline folder (default: the shipped one)")
    parser.add_argument("--portraits", nargs="+", default=None, help="portrait images (default: astronaut and mead_W009_neutral)")
    parser.add_argument("--audio", default=None, help="speech file (default: a held-out GRID clip)")
    parser.add_argument("--frame", type=float, default=0.5, help="which frame, as a share of the clip (0.5 = the middle)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.ERROR)
    import cv2

    pipe = EmoPortraitPipeline.from_pretrained(args.checkpoint) if args.checkpoint else EmoPortraitPipeline.from_shipped("portrait")
    pipe.set_progress_bar_config(disable=True)
    audio, rate = speech(args.audio)
    paths = [Path(p) for p in args.portraits] if args.portraits else [dataset_dir("portraits") / name for name in PORTRAITS]
    rows = []
    for path in paths:
        image = load_image(path)
        points = detect_face(image, name=path.name).points
        tiles = []
        for emotion in EMOTIONS:
            out = pipe(audio, rate, image, emotion=emotion, size=args.size, landmarks=points, generator=torch.Generator().manual_seed(args.seed))
            index = min(out.num_frames - 1, int(args.frame * out.num_frames))
            tiles.append(label(out.frame(index), emotion.replace(":1", " 1.0")))
        rows.append(np.concatenate(tiles, axis=1))
    strip = np.concatenate(rows, axis=0)
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        if not cv2.imwrite(str(tmp), strip[..., ::-1]):
            raise SystemExit(f"could not write {target}")
    print(f"wrote {target} ({strip.shape[1]}x{strip.shape[0]} px)")


if __name__ == "__main__":
    main()
