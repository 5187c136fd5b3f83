"""Benchmark of emotional voice conversion on the RAVDESS test actors (19, 20).

Every neutral clip of the test actors is converted to every other RAVDESS emotion. Reported:

- emotion: accuracy of an evaluation-only judge (logistic regression on openSMILE eGeMAPS, trained on
  real clips of actors 01-16, independent of the training critic) on the model's conversions, next to
  the unchanged source, a rule-based baseline (per-emotion global F0 mean/range, energy and rate from
  training statistics) and the real target recordings;
- fidelity: MCD (dB) and log-F0 RMSE against the real target recording of the same actor, statement
  and repetition (strong intensity), after DTW;
- intensity: the judge's target probability at intensity 0.25 / 0.5 / 1.0;
- speed: real-time factor of the pipeline at its default steps on this machine; and the throughput of a batch
  (issue #10): one ``emogen voice --input DIR -o OUT`` process over 40 test clips, wall time including
  start-up and model loading as a ratio to their duration, for the clips as stored (16 kHz mono flac) and as
  phone recordings (48 kHz stereo AAC ``.m4a``, converted full band);
- full band (issue #10): the data hold no speech recorded above 16 kHz (RAVDESS and nEMO are 16 kHz, GRID's
  audio is 16 kHz AAC), so each neutral test clip gets a synthetic band up to 12 kHz
  (:func:`full_band_surrogate`) at 44.1 and 48 kHz and is converted at a=1.0, once at its own rate and once
  through the 16 kHz path resampled up (the pipeline before full band, ``output_sample_rate``): energy above
  8 kHz out/in, raw and relative to the change below 8 kHz; the loudest 1 kHz band above the content
  (13 kHz up) relative to the content; the image band (15-17 kHz, where a 16 kHz signal's images of its
  lowest kHz fall) over the median of the bands above the content; judge accuracy, the judge's target
  probability and MCD of the output read at 16 kHz; real-time factor at 48 kHz;
- speaker (issue #10): with two speaker embeddings trained on other speakers (RAVDESS actors 01-16, all
  emotions), a cepstral one (:mod:`emogen.voice.speaker`) and one on the judge's eGeMAPS features, the cosine
  similarity of each signal to the centroid of its speaker's real neutral recordings (the source clip left
  out): conversions at a=1.0 vs the speaker's real strong recordings of the same emotion (ratio, target
  >= 0.9), with the unchanged source, a WORLD analysis-synthesis copy of it and the rule-based baseline for
  reference; and closed-set identification among the enrolled unseen actors 17-20;
- speaking rate (issue #10): per emotion, the speech duration (within 20 dB of the loudest frame,
  :data:`RATE_TOP_DB`) emotional / neutral of the real pairs (same actor, statement and repetition, strong
  intensity) vs output / input of the conversions at a=1.0 (geometric means), and whether they move the same
  way (|log ratio| < 0.02 counts as no change); a WORLD copy of the sources checks the measure itself.

- another language (issue #10): nEMO's held-out speakers (KD0, SM0; Polish): their neutral clips converted at
  a=1.0 to each of nEMO's five emotions, against the real recording of the same speaker, sentence and
  emotion, the unchanged source and the rule-based baseline fitted on nEMO's training speakers; judged by
  the same kind of eGeMAPS classifier trained on nEMO's training speakers; plus the speaking-rate table of
  these pairs, and an intensity sweep like RAVDESS's over every second of these sources (23 clips, so each
  level's mean rests on about three times as many sources as the 8 neutral clips of RAVDESS's test actors).

Run: ``python benchmarks/voice_conversion.py [--checkpoint checkpoints/voice] [--threads 1] [--quick] [--only-nemo]``
(``--quick``: repetition 1 only, intensity 1.0 only, no full band, no batch).
Needs ``opensmile`` (``pip install opensmile==2.6.0``). Caches features under ``runs/voice_cache``, in files
named by a hash of the clips, the feature settings and a code version (:mod:`emogen.utils.cache`).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from emogen.data import RavdessClip, load_ravdess
from emogen.data.nemo import NEMO_SPLITS, NemoClip, load_nemo, read_nemo_audio
from emogen.voice.audio import MODEL_SAMPLE_RATE, resample, save_audio, to_mono, trim_silence
from emogen.voice.baseline import RuleBasedConverter
from emogen.voice.dataset import build_cache, build_nemo_cache
from emogen.voice.fullband import band_energy
from emogen.voice.judge import EGeMAPSJudge, egemaps
from emogen.utils.cache import cache_key, load_or_build
from emogen.utils.process import emogen_command
from emogen.utils.sweep import even_sweep, sweep_shape
from emogen.voice.metrics import fidelity_audio
from emogen.voice.speaker import SpeakerEmbedding, cosine, fit_speaker_embedding
from emogen.voice.world import analyze, synthesize

TRAIN_ACTORS = set(range(1, 17))
INTENSITIES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Prosodic measures of the intensity sweep: eGeMAPS v02 functional index and label.
PROSODY = {"F0 mean st": 0, "F0 range st": 5, "loudness": 10, "alpha ratio dB": 58}
#: Version of the eGeMAPS cache's code (read16 + egemaps): bump it when they change.
EGEMAPS_VERSION = "1"
#: Rates of the full-band check, and the upper edge of the content of its inputs (Hz).
FULL_BAND_RATES = (44100, 48000)
CONTENT_HZ = 12000.0
#: Files in the batch-throughput run, and the rate of its phone-style copies.
BATCH_FILES = 40
PHONE_RATE = 48000
#: Unseen actors enrolled (by their neutral recordings) for closed-set speaker identification.
ENROLL_ACTORS = (17, 18, 19, 20)
#: Systems of the speaker table, in print order, with their labels.
SPEAKER_SYSTEMS = {"source": "unchanged source", "copy": "WORLD copy of source", "rule": "rule-based baseline",
                   "model": "emogen voice (a=1.0)", "real": "real target recordings"}
#: |log duration ratio| under which a speaking-rate change counts as none in the same-sign check.
RATE_DEADBAND = 0.02
#: Speech is what lies within this many dB of the loudest 10 ms frame when durations are measured. At
#: trim_silence's default 35 dB, breath and room noise 25-35 dB down count as speech in the recordings but
#: not in WORLD resynthesis, so a WORLD copy with nothing changed measured 0.82x the source's duration
#: (RAVDESS actors 19-20); at 20 dB it measures 1.00x.
RATE_TOP_DB = 20.0


def read16(path: Path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(to_mono(audio), sr, MODEL_SAMPLE_RATE)


def batch_throughput(clips: list[RavdessClip], phone: bool, checkpoint: str | None, emotion: str = "happy:0.7") -> dict[str, float]:
    """Wall time of one ``emogen voice`` process converting a folder of ``clips`` (start-up and loading included)
    as a ratio to their duration: as stored, or (``phone``) as 48 kHz stereo AAC ``.m4a`` files."""
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        seconds = 0.0
        for clip in clips:
            x = read16(clip.path)
            seconds += len(x) / MODEL_SAMPLE_RATE
            if phone:
                stereo = np.repeat(resample(x, MODEL_SAMPLE_RATE, PHONE_RATE)[:, None], 2, axis=1)
                save_audio(folder / f"{clip.path.stem}.m4a", stereo, PHONE_RATE)
            else:
                shutil.copy(clip.path, folder / clip.path.name)
        cmd = [*emogen_command(), "voice", "--input", str(folder), "-o", str(out), "--emotion", emotion, "--seed", "0", "--quiet"]
        if checkpoint:
            cmd += ["--checkpoint", checkpoint]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - start
        written = len(list(out.iterdir()))
    return {"files": len(clips), "written": written, "seconds": seconds, "wall": wall, "rtf": wall / seconds}


def read_nemo16(clip: NemoClip) -> np.ndarray:
    audio, rate = read_nemo_audio(clip)
    return resample(audio, rate, MODEL_SAMPLE_RATE)


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


def full_band_surrogate(x16: np.ndarray, rate: int, cutoff: float = CONTENT_HZ, seed: int = 0) -> np.ndarray:
    """A 16 kHz clip at ``rate`` with a synthetic band from 8 kHz to ``cutoff`` and nothing above.

    The band is white noise shaped, frame by frame (32 ms, 75% overlap), to the clip's own mean power
    density in 5-7.5 kHz, falling 6 dB per octave above 7.5 kHz with raised-cosine edges (7.5-8.5 kHz and
    the last kHz below ``cutoff``): fricatives and breathy frames get a strong high band, vowels a weak one,
    as in real full-band speech. It owes nothing to WORLD. Everything above ``cutoff`` is zeroed, so any
    energy there in a conversion is the converter's (images, noise floor).
    """
    from scipy.signal import istft, stft

    x = resample(x16, MODEL_SAMPLE_RATE, rate).astype(np.float64)
    nper = int(round(0.032 * rate))
    nov = nper * 3 // 4
    freqs, _, spec = stft(x, rate, nperseg=nper, noverlap=nov)
    _, _, noise = stft(np.random.default_rng(seed).standard_normal(len(x)), rate, nperseg=nper, noverlap=nov)
    ref = (freqs >= 5000) & (freqs < 7500)
    density = np.mean(np.abs(spec[ref]) ** 2, axis=0) / np.mean(np.abs(noise[ref]) ** 2)
    rise = np.sin(0.5 * np.pi * np.clip((freqs - 7500) / 1000, 0, 1)) ** 2
    fall = np.sin(0.5 * np.pi * np.clip((cutoff - freqs) / 1000, 0, 1)) ** 2
    shape = rise * fall * 7500 / np.maximum(freqs, 1.0)
    _, high = istft(noise * shape[:, None] * np.sqrt(density)[None], rate, nperseg=nper, noverlap=nov)
    y = np.fft.rfft(x + high[: len(x)])
    y[np.fft.rfftfreq(len(x), 1.0 / rate) > cutoff] = 0
    return np.fft.irfft(y, len(x)).astype(np.float32)


def full_band_measures(source: np.ndarray, output: np.ndarray, rate: int, cutoff: float = CONTENT_HZ) -> dict[str, float]:
    """High band (> 8 kHz) out/in in dB, raw and minus the change below 8 kHz; the loudest 1 kHz band above
    ``cutoff`` + 1 kHz in dB re the output's content below ``cutoff``; and the image band (15-17 kHz) in dB
    over the median 1 kHz band above the content."""

    def ratio(a: float, b: float) -> float:
        return float(10 * np.log10(max(a, 1e-30) / max(b, 1e-30)))

    high = ratio(band_energy(output, rate, 8000, rate / 2), band_energy(source, rate, 8000, rate / 2))
    low = ratio(band_energy(output, rate, 0, 8000), band_energy(source, rate, 0, 8000))
    content = band_energy(output, rate, 0, cutoff)
    above = [band_energy(output, rate, lo, lo + 1000) for lo in np.arange(cutoff + 1000, rate / 2 - 999, 1000)]
    image = band_energy(output, rate, 15000, 17000) / 2
    return {"high": high, "high_vs_low": high - low, "above": ratio(max(above), content), "image": ratio(image, float(np.median(above)))}


def world_copy(x: np.ndarray) -> np.ndarray:
    """WORLD analysis and resynthesis of the speech in a 16 kHz clip with nothing changed, silence around it
    kept as the pipeline keeps it: what the vocoder alone does to the voice."""
    start, end = trim_silence(x, MODEL_SAMPLE_RATE, pad_seconds=0.2)
    y = synthesize(analyze(x[start:end], MODEL_SAMPLE_RATE))[: end - start]
    return np.concatenate([x[:start], y, np.zeros(end - start - len(y), np.float32), x[end:]]).astype(np.float32)


def speech_seconds(x: np.ndarray) -> float:
    """Duration of the speech in a 16 kHz clip (:func:`~emogen.voice.audio.trim_silence` at :data:`RATE_TOP_DB`)."""
    start, end = trim_silence(x, MODEL_SAMPLE_RATE, top_db=RATE_TOP_DB)
    return (end - start) / MODEL_SAMPLE_RATE


def nemo_features(cache_dir: Path, clips: list[NemoClip]) -> dict[str, np.ndarray]:
    """eGeMAPS of nEMO clips, cached as :func:`real_features`."""
    key = cache_key([c.path for c in clips], egemaps_config(), EGEMAPS_VERSION)
    return load_or_build(cache_dir, "egemaps-nemo", key, lambda: {c.path.stem: egemaps(read_nemo16(c), MODEL_SAMPLE_RATE) for c in clips})


def add_sweep_point(sweep: dict[str, dict[str, dict[float, list[float]]]], emotion: str, intensity: float, judge_p: float,
                    result, source: np.ndarray, features: np.ndarray) -> None:
    """Add one conversion's sweep measures (judge and critic target probability, duration ratio, prosody from its
    eGeMAPS ``features``) to ``sweep[emotion][measure][intensity]``."""
    out = result.audios[0]
    measures = {"judge p": judge_p, "critic p": float(result.critic_scores[0].get(f"p_{emotion}", np.nan)),
                "duration x": len(out) / len(source)} | {name: float(features[i]) for name, i in PROSODY.items()}
    for name, value in measures.items():
        sweep.setdefault(emotion, {}).setdefault(name, {}).setdefault(intensity, []).append(value)


def nemo_section(pipe, cache: Path, call_kwargs: dict, seed: int, every: int, sweep_every: int = 0) -> None:
    """Conversion on nEMO's held-out speakers (see the module docstring): judge table and speaking rates; with
    ``sweep_every``, an intensity sweep over every ``sweep_every``-th of those sources (the same seed at every level)."""
    clips = load_nemo()
    train = [c for c in clips if c.speaker in NEMO_SPLITS["train"]]
    test = [c for c in clips if c.speaker in NEMO_SPLITS["test"]]
    feats = nemo_features(cache, train + test)
    judge = EGeMAPSJudge.fit(np.stack([feats[c.path.stem] for c in train]), [c.emotion for c in train], [c.speaker for c in train])
    judge.add_speakers(np.stack([feats[c.path.stem] for c in test]), [c.emotion for c in test], [c.speaker for c in test])
    rule = RuleBasedConverter.fit(list(build_nemo_cache(cache, speakers=NEMO_SPLITS["train"]).values()))
    by_key = {(c.speaker, c.sentence, c.emotion): c for c in test}
    emotions = sorted({c.emotion for c in clips} - {"neutral"})
    sources = [c for c in test if c.emotion == "neutral" and all((c.speaker, c.sentence, e) in by_key for e in emotions)][::every]
    hits = {k: [] for k in ("source", "rule", "model", "real")}
    p_target = {k: [] for k in hits}
    mcd = {k: [] for k in ("source", "rule", "model")}
    rates = {e: {k: [] for k in ("real", "model", "rule")} for e in emotions}
    swept = set(range(0, len(sources), sweep_every)) if sweep_every else set()
    sweep: dict[str, dict[str, dict[float, list[float]]]] = {}
    real_change: dict[str, dict[str, list[float]]] = {}
    for index, source in enumerate(sources):
        x = read_nemo16(source)
        source_seconds = speech_seconds(x)
        for n, emotion in enumerate(emotions):
            target = by_key[(source.speaker, source.sentence, emotion)]
            y = read_nemo16(target)
            out = None
            for a in INTENSITIES if index in swept else ():
                result = pipe(x, MODEL_SAMPLE_RATE, emotion=f"{emotion}:{a:g}", generator=torch.Generator().manual_seed(seed + n), **call_kwargs)
                out = result.audios[0] if a == 1.0 else out  # the same call as below: reused
                features = egemaps(result.audios[0], MODEL_SAMPLE_RATE)
                p = judge.predict_proba(features[None], [source.speaker])[0]
                add_sweep_point(sweep, emotion, a, float(p[judge.classes.index(emotion)]), result, x, features)
            if index in swept:
                x_features, y_features = feats[source.path.stem], feats[target.path.stem]
                change = real_change.setdefault(emotion, {})
                for name, i in PROSODY.items():
                    change.setdefault(name, []).append(float(y_features[i] - x_features[i]))
                change.setdefault("duration x", []).append(speech_seconds(y) / source_seconds - 1.0)
            if out is None:
                out = pipe(x, MODEL_SAMPLE_RATE, emotion=f"{emotion}:1", generator=torch.Generator().manual_seed(seed + n), **call_kwargs).audios[0]
            signals = {"source": x, "rule": rule.convert(x, MODEL_SAMPLE_RATE, f"{emotion}:1"), "model": out}
            for name, signal in signals.items():
                p = judge.predict_proba(egemaps(signal, MODEL_SAMPLE_RATE)[None], [source.speaker])[0]
                hits[name].append(judge.classes[int(np.argmax(p))] == emotion)
                p_target[name].append(float(p[judge.classes.index(emotion)]))
                mcd[name].append(fidelity_audio(signal, y, MODEL_SAMPLE_RATE)[0])
            p = judge.predict_proba(feats[target.path.stem][None], [target.speaker])[0]
            hits["real"].append(judge.classes[int(np.argmax(p))] == emotion)
            p_target["real"].append(float(p[judge.classes.index(emotion)]))
            for key, signal in (("real", y), ("model", out), ("rule", signals["rule"])):
                rates[emotion][key].append(float(np.log(speech_seconds(signal) / source_seconds)))
    print(f"\nnEMO (Polish) held-out speakers {NEMO_SPLITS['test']}: {len(sources)} neutral clips x {len(emotions)} emotions = "
          f"{len(sources) * len(emotions)} conversions at a=1.0; judge: eGeMAPS + logistic regression on nEMO's training speakers "
          f"({len(judge.classes)} classes, chance {1 / len(judge.classes):.2f})")
    print(f"| {'system':<22} | {'judge acc':>9} | {'p target':>8} | {'MCD dB':>7} |")
    print(f"|{'-' * 24}|{'-' * 11}|{'-' * 10}|{'-' * 9}|")
    names = {"source": "unchanged source", "rule": "rule-based baseline", "model": "emogen voice (a=1.0)", "real": "real target recordings"}
    for key, label in names.items():
        m = f"{np.mean(mcd[key]):7.2f}" if key in mcd else f"{'-':>7}"
        print(f"| {label:<22} | {np.mean(hits[key]):9.3f} | {np.mean(p_target[key]):8.3f} | {m} |")
    print(f"| {'emotion':<9} | {'real':>6} | {'emogen':>6} | {'rule':>6} | same sign |")
    same = []
    for emotion, by in rates.items():
        mean = {k: float(np.mean(v)) for k, v in by.items()}
        same.append(rate_sign(mean["model"]) == rate_sign(mean["real"]))
        print(f"| {emotion:<9} | {np.exp(mean['real']):6.3f} | {np.exp(mean['model']):6.3f} | {np.exp(mean['rule']):6.3f} | {str(same[-1]):>9} |")
    print(f"nEMO checks: judge acc above source and rule: {np.mean(hits['model']) > max(np.mean(hits['source']), np.mean(hits['rule']))}; "
          f"rate same sign as nEMO's real pairs: {sum(same)} of {len(same)}")
    if sweep:
        print(f"\nnEMO intensity sweep: {len(swept)} held-out neutral clips x {len(emotions)} emotions at each level; the judge is nEMO's")
        print_sweep(sweep, {e: {k: float(np.mean(v)) for k, v in by.items()} for e, by in real_change.items()})


def speaker_match(embedding: np.ndarray, actor: int, source: str, enrolled: dict[int, dict[str, np.ndarray]]) -> tuple[float, bool]:
    """Cosine similarity of ``embedding`` to the centroid of ``actor``'s enrolled neutral clips (``source`` left
    out), and whether that centroid is the nearest of all enrolled actors'."""
    sims = {a: cosine(embedding, np.mean([e for stem, e in clips.items() if stem != source], axis=0)) for a, clips in enrolled.items()}
    return sims[actor], max(sims, key=sims.get) == actor


def rate_sign(log_ratio: float) -> int:
    """-1, 0 or 1: shorter, unchanged (within :data:`RATE_DEADBAND`) or longer."""
    return 0 if abs(log_ratio) < RATE_DEADBAND else int(np.sign(log_ratio))


def print_speaker(speaker: dict[str, dict[str, list[tuple[float, bool]]]]) -> None:
    """The speaker table: per embedding and system, mean similarity to the speaker's neutral centroid, the
    ratio to the real recordings' and closed-set identification accuracy; then the checks."""
    print(f"\nspeaker: cosine similarity to the centroid of the speaker's real neutral recordings (source clip left out), "
          f"embeddings trained on actors 01-16; ID: nearest centroid among actors {ENROLL_ACTORS} (chance {1 / len(ENROLL_ACTORS):.2f})")
    print(f"| {'embedding':<9} | {'system':<22} | {'similarity':>10} | {'/ real':>6} | {'ID acc':>6} |")
    print(f"|{'-' * 11}|{'-' * 24}|{'-' * 12}|{'-' * 8}|{'-' * 8}|")
    ratios = {}
    for name, systems in speaker.items():
        real = float(np.mean([s for s, _ in systems["real"]]))
        for key, label in SPEAKER_SYSTEMS.items():
            sims, hits = zip(*systems[key])
            print(f"| {name:<9} | {label:<22} | {np.mean(sims):10.3f} | {np.mean(sims) / real:6.3f} | {np.mean(hits):6.3f} |")
        ratios[name] = float(np.mean([s for s, _ in systems["model"]])) / real
    print("speaker checks: similarity converted / real >= 0.9: " + "; ".join(f"{k}: {v >= 0.9} ({v:.2f})" for k, v in ratios.items()))


def print_rates(rates: dict[str, dict[str, list[float]]], all_real: dict[str, list[float]], setting: dict[str, float], copy: list[float]) -> None:
    """The speaking-rate table: per emotion, geometric-mean duration ratios of the real pairs and the
    conversions, the pipeline's setting, and whether the conversion moves the way the real pairs do."""
    print(f"\nspeaking rate: speech duration (within {RATE_TOP_DB:g} dB of the loudest frame) emotional / neutral (real pairs, strong) and "
          f"output / input (a=1.0), geometric mean; setting: the pipeline's factor; same sign: conversion vs real pairs of these actors, "
          f"|log| < {RATE_DEADBAND} counts as no change")
    print(f"| {'emotion':<9} | {'real':>6} | {'real, all actors':>16} | {'setting':>7} | {'emogen':>6} | {'rule':>6} | same sign |")
    print(f"|{'-' * 11}|{'-' * 8}|{'-' * 18}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 11}|")
    same = []
    for emotion, by in rates.items():
        mean = {k: float(np.mean(v)) for k, v in by.items()}
        ok = rate_sign(mean["model"]) == rate_sign(mean["real"])
        same.append(ok)
        print(f"| {emotion:<9} | {np.exp(mean['real']):6.3f} | {np.exp(np.mean(all_real[emotion])):16.3f} | {setting[emotion]:7.3f} | "
              f"{np.exp(mean['model']):6.3f} | {np.exp(mean['rule']):6.3f} | {str(ok):>9} |")
    print(f"measurement check: a WORLD copy of the sources (nothing changed) measures {np.exp(np.mean(copy)):.3f}x their duration")
    print(f"rate checks: same sign as the real pairs for every emotion: {all(same)} ({sum(same)} of {len(same)})")


def real_pair_change(sources: list[RavdessClip], targets: dict, feats: dict[str, np.ndarray],
                     rates: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Per emotion, the mean change of each prosodic measure from the neutral ``sources`` to the same actor's,
    sentence's and repetition's strong emotional recording (eGeMAPS ``feats``), and of ``duration x`` (the real
    pairs' duration ratio minus 1, from ``rates``)."""
    out = {}
    for emotion, by_system in rates.items():
        pairs = [(feats[c.path.stem], feats[targets[(c.actor, c.statement, c.repetition, emotion)].path.stem]) for c in sources]
        out[emotion] = {name: float(np.mean([y[i] - x[i] for x, y in pairs])) for name, i in PROSODY.items()}
        out[emotion]["duration x"] = float(np.mean(np.exp(by_system["real"]))) - 1.0
    return out


def print_sweep(sweep: dict[str, dict[str, dict[float, list[float]]]], real_change: dict[str, dict[str, float]]) -> None:
    """The intensity sweep table: per emotion and measure, the means at each intensity, Spearman, largest step share,
    and for the prosodic measures the real pairs' change (strong emotional recording minus the neutral source) next
    to the model's (a=1 minus a=0)."""
    print("\nintensity sweep (mean over the conversions; rho: Spearman with intensity, sign = direction; step: the largest "
          "single step's share of the total change, 0.25 = even, 1 = a switch; real: the same sources' real emotional "
          "recordings minus the sources; model/real: the model's change from a=0 to a=1 over the real change)")
    head = " | ".join(f"a={a:<4g}" for a in INTENSITIES)
    print(f"| {'emotion':<9} | {'measure':<14} | {head} | {'rho':>5} | {'step':>4} | {'real':>7} | model/real |")
    print(f"|{'-' * 11}|{'-' * 16}|" + "|".join("-" * 8 for _ in INTENSITIES) + f"|{'-' * 7}|{'-' * 6}|{'-' * 9}|{'-' * 12}|")
    even = {"judge": [0, 0], "critic and prosody": [0, 0]}  # group -> [passing, total]
    real_way = [0, 0, 0]  # prosodic measures: moving the real pairs' way, of those also even, total
    for emotion, measures in sweep.items():
        for name, by_a in measures.items():
            means = [float(np.nanmean(by_a[a])) for a in INTENSITIES]
            shape = sweep_shape(np.array(INTENSITIES), means)
            rho, step = shape["rho"], shape["largest_step"]
            group = even["judge" if name == "judge p" else "critic and prosody"]
            group[0] += even_sweep(shape)
            group[1] += 1
            cells = " | ".join(f"{m:6.3f}" if abs(m) < 10 else f"{m:6.2f}" for m in means)
            real = real_change.get(emotion, {}).get(name)
            extra = f" | {'':>7} | {'':>10} |"
            if real is not None:
                model = means[-1] - means[0]
                same = np.sign(model) == np.sign(real) and real != 0
                real_way[0] += int(same)
                real_way[1] += int(same and even_sweep(shape))
                real_way[2] += 1
                extra = f" | {real:+7.2f} | {model / real if real else float('nan'):10.2f} |"
            print(f"| {emotion:<9} | {name:<14} | {cells} | {rho:5.2f} | {step:4.2f}{extra}")
    print(f"Spearman >= 0.9 and no step above half the change: critic target probability and the prosodic measures "
          f"{even['critic and prosody'][0]} of {even['critic and prosody'][1]}; judge target probability {even['judge'][0]} of {even['judge'][1]}")
    print(f"prosodic measures the model moves the real pairs' way: {real_way[0]} of {real_way[2]} (and evenly: {real_way[1]})")


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
    parser.add_argument("--quick", action="store_true", help="repetition 1 only, intensity 1.0 only, no full band (for iterating)")
    parser.add_argument("--nemo-every", type=int, default=4, help="nEMO section: convert every n-th neutral clip of the held-out speakers (0: skip the section)")
    parser.add_argument("--nemo-sweep-every", type=int, default=2, help="nEMO intensity sweep over every n-th of the nEMO section's sources (0: no sweep)")
    parser.add_argument("--only-nemo", action="store_true", help="run the nEMO section alone (about 16 min with its sweep)")
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
    if args.only_nemo:
        nemo_section(pipe, cache, call_kwargs, args.seed, args.nemo_every, 0 if args.quick else args.nemo_sweep_every)
        return
    clips = load_ravdess()
    feats = real_features(cache, clips)
    train = [c for c in clips if c.actor in TRAIN_ACTORS]
    judge = EGeMAPSJudge.fit(np.stack([feats[c.path.stem] for c in train]), [c.emotion for c in train], [c.actor for c in train])
    test = [c for c in clips if c.actor in test_actors]
    judge.add_speakers(np.stack([feats[c.path.stem] for c in test]), [c.emotion for c in test], [c.actor for c in test])
    world_cache = build_cache(cache, root=None)  # the same call (and cache file) as the voice training recipe
    rule = RuleBasedConverter.fit([f for f in world_cache.values() if f.clip.actor in TRAIN_ACTORS])
    intensities = (1.0,) if args.quick else INTENSITIES
    # speaker embeddings trained on other speakers; the unseen actors' neutral recordings enrolled
    embedders = {"cepstral": fit_speaker_embedding(cache), "eGeMAPS": SpeakerEmbedding.fit(np.stack([feats[c.path.stem] for c in train]), [str(c.actor) for c in train])}
    enrolled_actors = set(ENROLL_ACTORS) | test_actors
    enrolled = {name: {a: {} for a in enrolled_actors} for name in embedders}
    for c in clips:
        if c.actor in enrolled_actors and c.emotion == "neutral":
            enrolled["cepstral"][c.actor][c.path.stem] = embedders["cepstral"].embed(read16(c.path), MODEL_SAMPLE_RATE)
            enrolled["eGeMAPS"][c.actor][c.path.stem] = embedders["eGeMAPS"].embed_statistics(feats[c.path.stem])

    targets = {(c.actor, c.statement, c.repetition, c.emotion): c for c in test if c.emotion != "neutral" and c.intensity == "strong"}
    sources = [c for c in test if c.emotion == "neutral" and (c.repetition == 1 or not args.quick)]
    emotions = sorted({c.emotion for c in clips} - {"neutral"})
    rows: dict[str, list] = {k: [] for k in ("model", "rule", "source", "real")}
    fid: dict[str, list] = {k: [] for k in ("model", "rule", "source")}
    probs: dict[float, list[float]] = {a: [] for a in intensities}
    # speaker: embedding -> system -> (similarity, identified) per conversion; rate: emotion -> system -> log ratios
    speaker = {name: {k: [] for k in SPEAKER_SYSTEMS} for name in embedders}
    rates = {e: {k: [] for k in ("real", "model", "rule")} for e in emotions}
    all_real: dict[str, list[float]] = {e: [] for e in emotions}  # real pairs of every actor
    copy_rates: list[float] = []  # WORLD copies of the sources: the duration measure's own error
    strong = {(c.actor, c.statement, c.repetition, c.emotion): c for c in clips if c.intensity == "strong"}
    for c in clips:
        if c.emotion == "neutral":
            neutral_seconds = speech_seconds(read16(c.path))
            for emotion in emotions:
                all_real[emotion].append(np.log(speech_seconds(read16(strong[(c.actor, c.statement, c.repetition, emotion)].path)) / neutral_seconds))
    # intensity sweep: emotion -> measure -> intensity -> values (judge and critic target probability, prosody)
    sweep: dict[str, dict[str, dict[float, list[float]]]] = {}
    model_seconds = audio_seconds = 0.0
    # full band: (path, rate) -> measures per conversion; judge hits and MCD of the 16 kHz reading
    paths = ("16 kHz path", "full band")
    wide: dict[tuple[str, int], list[dict[str, float]]] = {(p, r): [] for p in paths for r in FULL_BAND_RATES}
    wide_seconds = {p: [0.0, 0.0] for p in paths}
    for source in sources:
        x = read16(source.path)
        x_features, copy = egemaps(x, MODEL_SAMPLE_RATE), world_copy(x)
        speaker_inputs = {"source": (x, x_features), "copy": (copy, egemaps(copy, MODEL_SAMPLE_RATE))}
        copy_rates.append(float(np.log(speech_seconds(copy) / speech_seconds(x))))
        for n, emotion in enumerate(emotions):
            target = targets[(source.actor, source.statement, source.repetition, emotion)]
            y = read16(target.path)
            outputs = {}
            for a in intensities:
                gen = torch.Generator().manual_seed(args.seed + n)
                t0 = time.perf_counter()
                result = pipe(x, MODEL_SAMPLE_RATE, emotion=f"{emotion}:{a:g}", generator=gen, **call_kwargs)
                out = result.audios[0]
                if a == 1.0:
                    model_seconds += time.perf_counter() - t0
                    audio_seconds += len(x) / MODEL_SAMPLE_RATE
                outputs[a] = out
                features = egemaps(out, MODEL_SAMPLE_RATE)
                p = judge.predict_proba(features[None], [source.actor])[0]
                probs[a].append(float(p[judge.classes.index(emotion)]))
                add_sweep_point(sweep, emotion, a, float(p[judge.classes.index(emotion)]), result, x, features)
            candidates = {"model": outputs[1.0], "rule": rule.convert(x, MODEL_SAMPLE_RATE, f"{emotion}:1"), "source": x}
            for name, signal in candidates.items():
                pred = judge.predict(egemaps(signal, MODEL_SAMPLE_RATE)[None], [source.actor])[0]
                rows[name].append(pred == emotion)
                fid[name].append(fidelity_audio(signal, y, MODEL_SAMPLE_RATE))
            rows["real"].append(judge.predict(feats[target.path.stem][None], [target.actor])[0] == emotion)
            speaker_inputs |= {"model": (outputs[1.0], egemaps(outputs[1.0], MODEL_SAMPLE_RATE)),
                               "rule": (candidates["rule"], egemaps(candidates["rule"], MODEL_SAMPLE_RATE)), "real": (y, feats[target.path.stem])}
            for key, (signal, features) in speaker_inputs.items():
                if key in ("source", "copy") and n > 0:
                    continue  # once per source clip
                vectors = {"cepstral": embedders["cepstral"].embed(signal, MODEL_SAMPLE_RATE), "eGeMAPS": embedders["eGeMAPS"].embed_statistics(features)}
                for name, vector in vectors.items():
                    speaker[name][key].append(speaker_match(vector, source.actor, source.path.stem, enrolled[name]))
            source_seconds = speech_seconds(x)
            for key, signal in (("real", y), ("model", outputs[1.0]), ("rule", candidates["rule"])):
                rates[emotion][key].append(float(np.log(speech_seconds(signal) / source_seconds)))
            for rate in ([] if args.quick else FULL_BAND_RATES):
                wide_in = full_band_surrogate(x, rate)
                for path in paths:
                    gen = torch.Generator().manual_seed(args.seed + n)
                    t0 = time.perf_counter()
                    if path == "full band":
                        out = pipe(wide_in, rate, emotion=f"{emotion}:1", generator=gen, **call_kwargs).audios[0]
                    else:  # what the pipeline did before: convert at 16 kHz, resample up
                        x_16 = resample(wide_in, rate, MODEL_SAMPLE_RATE)
                        out = pipe(x_16, MODEL_SAMPLE_RATE, emotion=f"{emotion}:1", generator=gen, output_sample_rate=rate, **call_kwargs).audios[0]
                    if rate == 48000:
                        wide_seconds[path][0] += time.perf_counter() - t0
                        wide_seconds[path][1] += len(wide_in) / rate
                    m = full_band_measures(wide_in, out, rate)
                    out16 = resample(out, rate, MODEL_SAMPLE_RATE)
                    p = judge.predict_proba(egemaps(out16, MODEL_SAMPLE_RATE)[None], [source.actor])[0]
                    m["p"] = float(p[judge.classes.index(emotion)])
                    m["hit"] = float(judge.classes[int(np.argmax(p))] == emotion)
                    m["mcd"] = fidelity_audio(out16, y, MODEL_SAMPLE_RATE)[0]
                    wide[(path, rate)].append(m)

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
    if not args.quick:
        batch_clips = sorted(test, key=lambda c: c.path.name)[:BATCH_FILES]
        for label, phone in (("16 kHz flac", False), ("48 kHz stereo m4a", True)):
            b = batch_throughput(batch_clips, phone, args.checkpoint)
            print(f"batch: one `emogen voice --input DIR -o OUT` process, {b['files']} files ({label}, {b['seconds']:.1f} s of speech), "
                  f"{b['written']} written: wall {b['wall']:.1f} s, real-time factor {b['rtf']:.3f} with start-up (<= 0.3: {b['rtf'] <= 0.3})")
    print(f"checks: acc >= 0.7 x real: {acc['model'] >= 0.7 * acc['real']}; acc > rule: {acc['model'] > acc['rule']}; "
          f"MCD below source and rule: {mcd['model'] < min(mcd['source'], mcd['rule'])}; "
          f"logF0 RMSE below source and rule: {rmse['model'] < min(rmse['source'], rmse['rule'])}; "
          f"intensity monotone: {all(mean_p[a] < mean_p[b] for a, b in zip(intensities, intensities[1:])) if len(intensities) > 1 else '-'}; RTF <= 0.3: {rtf <= 0.3}")
    print_speaker(speaker)
    setting = {e: float(np.exp(pipe.denoiser.log_rate(pipe.encode_emotion(f"{e}:1", batch_size=1).weights)[0])) for e in emotions}
    print_rates(rates, all_real, setting, copy_rates)
    if args.quick:
        print("\n(--quick: no full band, no intensity sweep)")
    else:
        print(f"\nfull band: the {len(sources)} neutral clips with a synthetic band 8-12 kHz (nothing above), "
              f"x {len(emotions)} emotions at a=1.0, per rate; high band: energy above 8 kHz out/in, mean [min, max]")
        print(f"| {'system':<12} | {'rate':>5} | {'high band dB':>20} | {'re below 8k dB':>20} | {'above 13k dB':>12} | {'image dB':>8} | {'judge acc':>9} | {'p target':>8} | {'MCD dB':>6} |")
        print(f"|{'-' * 14}|{'-' * 7}|{'-' * 22}|{'-' * 22}|{'-' * 14}|{'-' * 10}|{'-' * 11}|{'-' * 10}|{'-' * 8}|")

        def spread(values: list[float]) -> str:
            return f"{np.mean(values):5.1f} [{np.min(values):5.1f}, {np.max(values):5.1f}]"

        for (path, rate), ms in wide.items():
            col = {k: [m[k] for m in ms] for k in ms[0]}
            print(f"| {path:<12} | {rate:>5} | {spread(col['high']):>20} | {spread(col['high_vs_low']):>20} | {np.max(col['above']):12.1f} | "
                  f"{np.max(col['image']):8.1f} | {np.mean(col['hit']):9.3f} | {np.mean(col['p']):8.3f} | {np.mean(col['mcd']):6.2f} |")
        wide_rtf = {p: s / a for p, (s, a) in wide_seconds.items()}
        full = [m for r in FULL_BAND_RATES for m in wide[("full band", r)]]
        banded = [m for r in FULL_BAND_RATES for m in wide[("16 kHz path", r)]]
        p_change = float(np.mean([a["p"] - b["p"] for a, b in zip(full, banded)]))
        print("above 13k: loudest 1 kHz band above the content re the content (max over clips); image: 15-17 kHz over the median band above the content (max);")
        print(f"p target: the judge's mean target probability, read at 16 kHz; full band - 16 kHz path on the same inputs: {p_change:+.3f}")
        print(f"speed at 48 kHz: real-time factor {wide_rtf['16 kHz path']:.3f} (16 kHz path), {wide_rtf['full band']:.3f} (full band)")
        print(f"full-band checks: high band within 6 dB of the change below 8 kHz: {all(abs(m['high_vs_low']) <= 6 for m in full)}; "
              f"no image (image <= 3 dB): {all(m['image'] <= 3 for m in full)}; "
              f"p target within 0.05 of the 16 kHz path: {abs(p_change) <= 0.05}; RTF <= 0.3: {wide_rtf['full band'] <= 0.3}")
        print_sweep(sweep, real_pair_change(sources, targets, feats, rates))
    if args.nemo_every:
        nemo_section(pipe, cache, call_kwargs, args.seed, args.nemo_every, 0 if args.quick else args.nemo_sweep_every)
    print("\nfigure: judge's target probability vs requested intensity")
    for a, p in mean_p.items():
        print(f"  a={a:<4g} {'#' * int(round(p * 50)):<50} {p:.3f}")


if __name__ == "__main__":
    main()
