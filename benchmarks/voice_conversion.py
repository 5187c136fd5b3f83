"""Benchmark of emotional voice conversion on the RAVDESS test actors (19, 20).

Every neutral clip of the test actors is converted to every other RAVDESS emotion. Reported:

- emotion: accuracy of an evaluation-only judge (logistic regression on openSMILE eGeMAPS, trained on
  real clips of actors 01-16, independent of the training critic) on the model's conversions, next to
  the unchanged source, a rule-based baseline (per-emotion global F0 mean/range, energy and rate from
  training statistics) and the real target recordings;
- fidelity: MCD (dB) and log-F0 RMSE against the real target recording of the same actor, statement
  and repetition (strong intensity), after DTW;
- intensity: the judge's target probability at intensity 0.25 / 0.5 / 1.0;
- speed: real-time factor of the pipeline at its default steps on this machine.

Run: ``python benchmarks/voice_conversion.py [--checkpoint checkpoints/voice] [--threads 1]``.
Needs ``opensmile`` (``pip install opensmile==2.6.0``). Caches features under ``runs/voice_cache``, in files
named by a hash of the clips, the feature settings and a code version (:mod:`emogen.utils.cache`).
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from emogen.data import RavdessClip, load_ravdess
from emogen.voice.audio import MODEL_SAMPLE_RATE, resample, to_mono
from emogen.voice.baseline import RuleBasedConverter
from emogen.voice.dataset import build_cache
from emogen.voice.judge import EGeMAPSJudge, egemaps
from emogen.utils.cache import cache_key, load_or_build
from emogen.voice.metrics import fidelity_audio

TRAIN_ACTORS = set(range(1, 17))
INTENSITIES = (0.25, 0.5, 1.0)
#: Version of the eGeMAPS cache's code (read16 + egemaps): bump it when they change.
EGEMAPS_VERSION = "1"


def read16(path: Path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(to_mono(audio), sr, MODEL_SAMPLE_RATE)


def egemaps_config() -> dict[str, object]:
    """The settings the eGeMAPS features depend on (part of the cache key): openSMILE's version, feature set
    and level (those of :func:`emogen.voice.judge.egemaps`) and the analysis sample rate."""
    import opensmile

    return {
        "opensmile": opensmile.__version__,
        "feature_set": opensmile.FeatureSet.eGeMAPSv02.name,
        "feature_level": opensmile.FeatureLevel.Functionals.name,
        "sample_rate": MODEL_SAMPLE_RATE,
    }


def real_features(cache_dir: Path, clips: list[RavdessClip]) -> dict[str, np.ndarray]:
    """eGeMAPS of every real RAVDESS clip, cached in ``cache_dir`` under a hash of the clips and settings."""
    key = cache_key([c.path for c in clips], egemaps_config(), EGEMAPS_VERSION)
    return load_or_build(cache_dir, "egemaps", key, lambda: {c.path.stem: egemaps(read16(c.path), MODEL_SAMPLE_RATE) for c in clips})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="voice pipeline folder (default: the shipped one)")
    parser.add_argument("--cache", default="runs/voice_cache", help="feature cache folder")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the pipeline's)")
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the pipeline's)")
    parser.add_argument("--temperature", type=float, default=None, help="initial-noise scale (default: the pipeline's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--actors", default="19,20", help="evaluation actors (17,18 = validation, for tuning)")
    args = parser.parse_args()
    test_actors = {int(a) for a in args.actors.split(",")}
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline

    pipe = EmoVoicePipeline.from_pretrained(args.checkpoint) if args.checkpoint else EmoVoicePipeline.from_shipped("voice")
    pipe.set_progress_bar_config(disable=True)
    call_kwargs = {}
    if args.steps is not None:
        call_kwargs["num_inference_steps"] = args.steps
    if args.guidance is not None:
        call_kwargs["guidance_scale"] = args.guidance
    if args.temperature is not None:
        call_kwargs["temperature"] = args.temperature

    cache = Path(args.cache)
    clips = load_ravdess()
    feats = real_features(cache, clips)
    train = [c for c in clips if c.actor in TRAIN_ACTORS]
    judge = EGeMAPSJudge.fit(np.stack([feats[c.path.stem] for c in train]), [c.emotion for c in train], [c.actor for c in train])
    test = [c for c in clips if c.actor in test_actors]
    judge.add_speakers(np.stack([feats[c.path.stem] for c in test]), [c.emotion for c in test], [c.actor for c in test])
    world_cache = build_cache(cache, root=None)  # the same call (and cache file) as the voice training recipe
    rule = RuleBasedConverter.fit([f for f in world_cache.values() if f.clip.actor in TRAIN_ACTORS])

    targets = {(c.actor, c.statement, c.repetition, c.emotion): c for c in test if c.emotion != "neutral" and c.intensity == "strong"}
    sources = [c for c in test if c.emotion == "neutral"]
    emotions = sorted({c.emotion for c in clips} - {"neutral"})
    rows: dict[str, list] = {k: [] for k in ("model", "rule", "source", "real")}
    fid: dict[str, list] = {k: [] for k in ("model", "rule", "source")}
    probs: dict[float, list[float]] = {a: [] for a in INTENSITIES}
    model_seconds = audio_seconds = 0.0
    for source in sources:
        x = read16(source.path)
        for n, emotion in enumerate(emotions):
            target = targets[(source.actor, source.statement, source.repetition, emotion)]
            y = read16(target.path)
            outputs = {}
            for a in INTENSITIES:
                gen = torch.Generator().manual_seed(args.seed + n)
                t0 = time.perf_counter()
                out = pipe(x, MODEL_SAMPLE_RATE, emotion=f"{emotion}:{a:g}", generator=gen, **call_kwargs).audios[0]
                if a == 1.0:
                    model_seconds += time.perf_counter() - t0
                    audio_seconds += len(x) / MODEL_SAMPLE_RATE
                outputs[a] = out
                p = judge.predict_proba(egemaps(out, MODEL_SAMPLE_RATE)[None], [source.actor])[0]
                probs[a].append(float(p[judge.classes.index(emotion)]))
            candidates = {"model": outputs[1.0], "rule": rule.convert(x, MODEL_SAMPLE_RATE, f"{emotion}:1"), "source": x}
            for name, signal in candidates.items():
                pred = judge.predict(egemaps(signal, MODEL_SAMPLE_RATE)[None], [source.actor])[0]
                rows[name].append(pred == emotion)
                fid[name].append(fidelity_audio(signal, y, MODEL_SAMPLE_RATE))
            rows["real"].append(judge.predict(feats[target.path.stem][None], [target.actor])[0] == emotion)

    n = len(rows["model"])
    acc = {k: float(np.mean(v)) for k, v in rows.items()}
    mcd = {k: float(np.mean([f[0] for f in v])) for k, v in fid.items()}
    rmse = {k: float(np.nanmean([f[1] for f in v])) for k, v in fid.items()}
    rtf = model_seconds / audio_seconds
    print(f"Voice conversion benchmark: RAVDESS actors {sorted(test_actors)}, {len(sources)} neutral clips x {len(emotions)} emotions = {n} conversions")
    print(f"judge: eGeMAPS + logistic regression trained on real clips of actors 01-16 ({len(judge.classes)} classes)\n")
    print(f"| {'system':<22} | {'judge acc':>9} | {'MCD dB':>7} | {'logF0 RMSE':>10} |")
    print(f"|{'-' * 24}|{'-' * 11}|{'-' * 9}|{'-' * 12}|")
    names = {"source": "unchanged source", "rule": "rule-based baseline", "model": "emogen voice (a=1.0)", "real": "real target recordings"}
    for key in ("source", "rule", "model", "real"):
        m = f"{mcd[key]:7.2f}" if key in mcd else f"{'-':>7}"
        r = f"{rmse[key]:10.3f}" if key in rmse else f"{'-':>10}"
        print(f"| {names[key]:<22} | {acc[key]:9.3f} | {m} | {r} |")
    mean_p = {a: float(np.mean(v)) for a, v in probs.items()}
    print("\nintensity (judge's mean target probability): " + ", ".join(f"a={a:g}: {p:.3f}" for a, p in mean_p.items()))
    steps = call_kwargs.get("num_inference_steps", 10)
    print(f"speed: real-time factor {rtf:.3f} at {steps} steps ({torch.get_num_threads()} CPU thread(s))")
    print(f"checks: acc >= 0.7 x real: {acc['model'] >= 0.7 * acc['real']}; acc > rule: {acc['model'] > acc['rule']}; "
          f"MCD below source and rule: {mcd['model'] < min(mcd['source'], mcd['rule'])}; "
          f"logF0 RMSE below source and rule: {rmse['model'] < min(rmse['source'], rmse['rule'])}; "
          f"intensity monotone: {all(mean_p[a] < mean_p[b] for a, b in zip(INTENSITIES, INTENSITIES[1:]))}; RTF <= 0.3: {rtf <= 0.3}")
    print("\nfigure: judge's target probability vs requested intensity")
    for a, p in mean_p.items():
        print(f"  a={a:<4g} {'#' * int(round(p * 50)):<50} {p:.3f}")


if __name__ == "__main__":
    main()
