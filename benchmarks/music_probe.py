"""Quick probe of music sampling settings on the EMOPIA val clips (what settings are chosen on; the test split stays for
``music_emotion.py``).

For each setting (pipeline keyword arguments, e.g. ``guidance_scale=1.5,key_guidance=0`` or ``num_candidates=4``), it
generates ``--per-quadrant`` pieces of 16 bars per quadrant at intensity 1 (seeds 5000 + 100000 x quadrant + i, the same
for every setting) and measures:

- statistics within 25 %: the 8 clip statistics of ``emogen.music.stats`` per quadrant, generated mean over real val
  mean (32 in all), and each ratio;
- judge accuracy: the evaluation-only judge (trained on the train split's real clips) names the requested quadrant;
- realism: a cross-validated classifier telling generated from real val clips (0.5 = indistinguishable);
- key adherence: the Krumhansl-Schmuckler key of the notes equals the key the pipeline drew (exact, mode, tonic);
- stray notes: share of pieces with a note more than an octave beyond their 5th-95th pitch percentile (real val beside).

The figure (judge accuracy and realism per setting) is last. About 1 min a setting at 40 pieces a quadrant (2 threads;
20 s with one candidate).

    python benchmarks/music_probe.py default "guidance_scale=1" "num_candidates=1"
    python benchmarks/music_probe.py "key_guidance=0" "key_guidance=1.5" --per-quadrant 60
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch
from music_emotion import CATEGORIES, REALISM_FEATURES, all_statistics, real_notes

from emogen.data.emopia import load_emopia
from emogen.music.dataset import load_music_clips
from emogen.music.features import clip_keys
from emogen.music.judge import QUADRANTS, EmotionJudge
from emogen.music.key_guide import parse_key
from emogen.music.metrics import realism_accuracy
from emogen.music.register import has_far_notes
from emogen.music.representation import grid_from_events
from emogen.music.stats import CLIP_STATISTIC_NAMES, note_array
from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

INTEGER_SETTINGS = ("num_candidates", "top_k")


def parse_setting(text: str) -> dict[str, float | int | None]:
    """``"default"`` -> {}; ``"guidance_scale=1.5,num_candidates=4"`` -> keyword arguments of the pipeline
    (``name=none`` passes ``None``, e.g. ``register_margin=none``)."""
    if text == "default":
        return {}
    out: dict[str, float | int | None] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if not value:
            raise SystemExit(f"setting {part!r} is not name=value (e.g. guidance_scale=1.5)")
        out[name] = None if value.lower() == "none" else int(value) if name in INTEGER_SETTINGS else float(value)
    return out


def key_matches(sequence, key_name: str) -> tuple[bool, bool, bool]:
    """(exact key, mode, tonic) of the notes' Krumhansl-Schmuckler key against the drawn key."""
    grid = grid_from_events(sequence)
    found = int(clip_keys(torch.from_numpy(grid.onsets)[None], torch.from_numpy(grid.durations.astype(np.int64))[None])[0])
    drawn = parse_key(key_name)
    return found == drawn, (found >= 12) == (drawn >= 12), found % 12 == drawn % 12


def probe(pipe: EmoMusicPipeline, setting: dict, per_quadrant: int, judge: EmotionJudge, real_stats: dict, pool: np.ndarray) -> dict:
    """All the measures of one setting (see the module docstring)."""
    ratios, judge_acc, features, strays, keys = {}, {}, [], [], []
    for k, (quadrant, category) in enumerate(zip(QUADRANTS, CATEGORIES)):
        sequences, names = [], []
        for start in range(0, per_quadrant, 10):
            n = min(10, per_quadrant - start)
            gens = [torch.Generator().manual_seed(5000 + 100000 * k + start + i) for i in range(n)]
            out = pipe(f"{category}:1", num_bars=16, batch_size=n, generator=gens, **setting)
            sequences += out.sequences
            names += out.key_names
        notes = [note_array(s, tempo=120.0) for s in sequences]
        stats = [all_statistics(n) for n in notes]
        features += [[s[f] for f in REALISM_FEATURES] for s in stats]
        judge_acc[quadrant] = float(np.mean([p == quadrant for p in judge.predict(notes)]))
        ratios[quadrant] = {f: np.mean([s[f] for s in stats]) / np.mean([s[f] for s in real_stats[quadrant]]) for f in CLIP_STATISTIC_NAMES}
        strays += [has_far_notes(n.pitch) for n in notes]
        keys += [key_matches(s, name) for s, name in zip(sequences, names)]
    within = sum(abs(r - 1) <= 0.25 for q in QUADRANTS for r in ratios[q].values())
    key_share = np.mean(keys, axis=0) if keys else np.full(3, np.nan)
    return {"within": within, "judge": judge_acc, "realism": realism_accuracy(np.array(features), pool, seed=0), "ratios": ratios,
            "stray": float(np.mean(strays)), "key_exact": float(key_share[0]), "key_mode": float(key_share[1]), "key_tonic": float(key_share[2])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", help="'default' or name=value[,name=value...] pipeline keyword arguments")
    parser.add_argument("--per-quadrant", type=int, default=40, help="pieces per quadrant and setting")
    parser.add_argument("--checkpoint", default=None, help="music pipeline folder (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    settings = [(text, parse_setting(text)) for text in args.settings]
    torch.set_num_threads(args.threads)
    logging.getLogger("emogen").setLevel(logging.WARNING)

    pipe = EmoMusicPipeline.from_pretrained(args.checkpoint) if args.checkpoint else EmoMusicPipeline.from_shipped("music")
    pipe.set_progress_bar_config(disable=True)
    train = load_emopia(split="train")
    judge = EmotionJudge.fit([note_array(c.path) for c in train], [c.quadrant for c in train])
    val = load_music_clips("val")
    real = {q: [real_notes(c.grid, 16) for c in val if c.quadrant == q] for q in QUADRANTS}
    real_stats = {q: [all_statistics(n) for n in real[q]] for q in QUADRANTS}
    pool = np.array([[s[f] for f in REALISM_FEATURES] for q in QUADRANTS for s in real_stats[q]])
    real_stray = np.mean([has_far_notes(n.pitch) for q in QUADRANTS for n in real[q]])

    results = []
    for text, setting in settings:
        start = time.perf_counter()
        results.append(probe(pipe, setting, args.per_quadrant, judge, real_stats, pool))
        results[-1]["seconds"] = time.perf_counter() - start

    print(f"Music probe: EMOPIA val clips ({len(val)}), {args.per_quadrant} generated pieces of 16 bars per quadrant at intensity 1\n")
    width = max(len(t) for t, _ in settings)
    print(f"| {'setting':{width}s} | within 25 % | judge Q1 / Q2 / Q3 / Q4 (mean) | realism | key exact / mode / tonic | stray notes | s |")
    print(f"|{'-' * (width + 2)}|-------------|--------------------------------|---------|--------------------------|-------------|---|")
    for (text, _), r in zip(settings, results):
        j = r["judge"]
        print(f"| {text:{width}s} | {r['within']:5d} / 32  | {' / '.join(f'{j[q]:.2f}' for q in QUADRANTS)} ({np.mean(list(j.values())):.3f}) "
              f"| {r['realism']:.3f}   | {r['key_exact']:.2f} / {r['key_mode']:.2f} / {r['key_tonic']:.2f}       | {r['stray']:.2f}        | {r['seconds']:.0f} |")
    print(f"(real val clips: realism of real vs real 0.5 by construction; stray notes {real_stray:.2f})\n")
    print("generated / real val mean per statistic (* within 25 %):")
    for (text, _), r in zip(settings, results):
        for q in QUADRANTS:
            cells = " ".join(f"{f[:10]} {v:.2f}{'*' if abs(v - 1) <= 0.25 else ' '}" for f, v in r["ratios"][q].items())
            print(f"  {text:{width}s} {q}: {cells}")
    print("\nfigure: judge accuracy (mean over quadrants) | realism, per setting")
    for (text, _), r in zip(settings, results):
        acc = float(np.mean(list(r["judge"].values())))
        print(f"  {text:{width}s} {'#' * round(40 * acc):40s} {acc:.3f} | {'#' * round(20 * r['realism']):20s} {r['realism']:.3f}")


if __name__ == "__main__":
    main()
