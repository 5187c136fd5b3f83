"""Benchmark of emotion-conditioned music generation against the EMOPIA test split.

Reported (one table, then its figure):

- recognition: the music critic (the network the pipeline reranks with) and the evaluation-only judge
  (logistic regression on hand-made note statistics, trained on the EMOPIA train split, see
  ``emogen/music/judge.py``) on the real EMOPIA test clips: 4 quadrants, arousal, valence;
- controllability: ``--per-quadrant`` generated clips (16 bars) per quadrant category (happy, angry, sad,
  calm at intensity 1), and the judge's accuracy at recognising the requested quadrant, next to its
  accuracy on the real test clips;
- intensity: happy, sad, angry, calm at intensity 0.25 / 0.5 / 1.0: the judge's projected intensity,
  note density (notes/s) and mean velocity, and whether each moves monotonically;
- musicality: overlapping area (Yang & Lerch 2020) of generated vs real test distributions of pitch
  range, pitch-class entropy, polyphony, note density and inter-onset interval; and the longest run of
  notes copied from any training clip (next to the same number for the real test clips);
- speed: median seconds to generate 16 bars, batch 1, one CPU thread.

Run: ``python benchmarks/music_emotion.py [--checkpoint checkpoints/music] [--per-quadrant 50]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from emogen.data.emopia import load_emopia
from emogen.music.dataset import load_music_clips
from emogen.music.judge import QUADRANTS, EmotionJudge
from emogen.music.metrics import MUSICALITY_FEATURES, CopyIndex, note_tokens, overlapping_area
from emogen.music.representation import events_from_grid
from emogen.music.stats import note_array, piece_statistics
from emogen.music.evaluation import critic_predict, quadrant_scores
from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

CATEGORIES = ("happy", "angry", "sad", "calm")  # Q1..Q4
INTENSITIES = (0.25, 0.5, 1.0)


def generate(pipe: EmoMusicPipeline, emotion: str, count: int, bars: int, seed: int, batch: int, **kwargs):
    """``count`` pieces, each from its own seeded generator (seed, seed+1, ...)."""
    sequences = []
    for start in range(0, count, batch):
        n = min(batch, count - start)
        gens = [torch.Generator().manual_seed(seed + start + i) for i in range(n)]
        sequences += pipe(emotion, num_bars=bars, batch_size=n, generator=gens, **kwargs).sequences
    return sequences


def monotone(values: list[float]) -> bool:
    d = np.diff(values)
    return bool(np.all(d > 0) or np.all(d < 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="music pipeline folder (default: the shipped one)")
    parser.add_argument("--per-quadrant", type=int, default=50, help="generated clips per quadrant and per intensity level")
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the pipeline's)")
    parser.add_argument("--candidates", type=int, default=1, help="critic rerank candidates per clip")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--json", default="runs/music_bench/results.json", help="where to write the numbers")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("diffusers").setLevel(logging.ERROR)

    pipe = EmoMusicPipeline.from_pretrained(args.checkpoint) if args.checkpoint else EmoMusicPipeline.from_shipped("music")
    pipe.set_progress_bar_config(disable=True)
    kwargs = {"num_candidates": args.candidates}
    if args.guidance is not None:
        kwargs["guidance_scale"] = args.guidance
    t0 = time.time()

    # 1. recognition on real test clips
    train_clips, test_clips = load_emopia(split="train"), load_emopia(split="test")
    train_notes = [note_array(c.path) for c in train_clips]
    test_notes = [note_array(c.path) for c in test_clips]
    judge = EmotionJudge.fit(train_notes, [c.quadrant for c in train_clips])
    true = np.array([QUADRANTS.index(c.quadrant) for c in test_clips])
    judge_real = quadrant_scores(np.array([QUADRANTS.index(q) for q in judge.predict(test_notes)]), true)
    test_grids = load_music_clips("test")
    critic_true = np.array([QUADRANTS.index(c.quadrant) for c in test_grids])
    critic_real = quadrant_scores(critic_predict(pipe.music_critic, pipe.emotion_bank, [c.grid for c in test_grids]), critic_true)

    # 2. controllability (intensity 1) and 3. intensity levels
    generated: dict[tuple[str, float], list] = {}
    for k, cat in enumerate(CATEGORIES):
        for a in INTENSITIES:
            generated[(cat, a)] = generate(pipe, f"{cat}:{a:g}", args.per_quadrant, args.bars, args.seed + 100000 * k + int(a * 1000), args.batch, **kwargs)
    control = {}
    gen_notes = {key: [note_array(s, tempo=120.0) for s in seqs] for key, seqs in generated.items()}
    for k, cat in enumerate(CATEGORIES):
        pred = judge.predict(gen_notes[(cat, 1.0)])
        control[cat] = float(np.mean([p == QUADRANTS[k] for p in pred]))
    control_mean = float(np.mean(list(control.values())))
    real_per_quadrant = {cat: float(np.mean(np.array(judge.predict([n for n, c in zip(test_notes, test_clips) if c.quadrant == q])) == q))
                         for q, cat in zip(QUADRANTS, CATEGORIES)}
    intensity = {}
    for cat in CATEGORIES:
        rows = []
        for a in INTENSITIES:
            notes = gen_notes[(cat, a)]
            stats = [piece_statistics(n) for n in notes]
            rows.append({"intensity": a,
                         "judge_intensity": float(np.mean(judge.projected_intensity(notes, cat, pipe.emotion_bank))),
                         "note_density": float(np.mean([s["note_density"] for s in stats])),
                         "velocity": float(np.mean([s["velocity_mean"] for s in stats]))})
        intensity[cat] = rows

    # 4. musicality
    all_gen = [n for cat in CATEGORIES for n in gen_notes[(cat, 1.0)]]
    gen_stats = [piece_statistics(n) for n in all_gen]
    real_stats = [piece_statistics(n) for n in test_notes]
    oa = {f: overlapping_area(np.array([s[f] for s in gen_stats]), np.array([s[f] for s in real_stats])) for f in MUSICALITY_FEATURES}
    train_grids = load_music_clips("train")
    index = CopyIndex([note_tokens(events_from_grid(c.grid)) for c in train_grids])
    gen_runs = [index.longest_run(note_tokens(s)) for cat in CATEGORIES for s in generated[(cat, 1.0)]]
    real_runs = [index.longest_run(note_tokens(events_from_grid(c.grid))) for c in test_grids]

    # 5. speed
    times = []
    for i in range(11):
        start = time.perf_counter()
        pipe("happy:0.7", num_bars=16, generator=torch.Generator().manual_seed(i), **kwargs)
        times.append(time.perf_counter() - start)
    speed = float(np.median(times[1:]))

    # table
    n_gen = args.per_quadrant * len(CATEGORIES) * len(INTENSITIES)
    print(f"Music emotion benchmark: EMOPIA test split ({len(test_clips)} clips), {n_gen} generated clips of {args.bars} bars, "
          f"guidance {kwargs.get('guidance_scale', 'default')}, candidates {args.candidates}\n")
    print(f"| {'measure':<52} | {'value':>28} |")
    print(f"|{'-' * 54}|{'-' * 30}|")

    def row(name: str, value: str) -> None:
        print(f"| {name:<52} | {value:>28} |")

    for who, s in (("critic", critic_real), ("judge", judge_real)):
        row(f"{who} on real test clips: quadrant / arousal / valence", f"{s['quadrant']:.3f} / {s['arousal']:.3f} / {s['valence']:.3f}")
    for cat in CATEGORIES:
        row(f"judge accuracy, requested {cat} ({QUADRANTS[CATEGORIES.index(cat)]}): generated / real", f"{control[cat]:.3f} / {real_per_quadrant[cat]:.3f}")
    row("judge accuracy, mean over quadrants: generated / real", f"{control_mean:.3f} / {judge_real['quadrant']:.3f}")
    for cat in CATEGORIES:
        r = intensity[cat]
        row(f"{cat} a=0.25/0.5/1: judge intensity", " / ".join(f"{x['judge_intensity']:.2f}" for x in r))
        row(f"{cat} a=0.25/0.5/1: notes per second", " / ".join(f"{x['note_density']:.2f}" for x in r))
        row(f"{cat} a=0.25/0.5/1: mean velocity", " / ".join(f"{x['velocity']:.1f}" for x in r))
    mono = {cat: {k: monotone([x[k] for x in intensity[cat]]) for k in ("judge_intensity", "note_density", "velocity")} for cat in CATEGORIES}
    for f in MUSICALITY_FEATURES:
        row(f"overlapping area: {f}", f"{oa[f]:.3f}")
    oa_mean = float(np.mean(list(oa.values())))
    row("overlapping area: mean", f"{oa_mean:.3f}")
    row("longest copied run (notes): generated max / median", f"{max(gen_runs)} / {np.median(gen_runs):g}")
    row("longest copied run (notes): real test max / median", f"{max(real_runs)} / {np.median(real_runs):g}")
    row("seconds for 16 bars, batch 1, 1 thread (median)", f"{speed:.3f}")
    checks = {
        "judge acc on generated >= 0.75": control_mean >= 0.75,
        "judge acc on generated >= on real": control_mean >= judge_real["quadrant"],
        "monotone intensity (all)": all(all(v.values()) for v in mono.values()),
        "mean overlapping area >= 0.7": oa_mean >= 0.7,
        "16 bars < 1 s": speed < 1.0,
    }
    print("\nchecks: " + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
    print("monotone per emotion (judge intensity, density, velocity): " + ", ".join(
        f"{c}: {''.join('y' if mono[c][k] else 'n' for k in ('judge_intensity', 'note_density', 'velocity'))}" for c in CATEGORIES))
    print(f"(benchmark took {(time.time() - t0) / 60:.1f} min)")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"critic_real": critic_real, "judge_real": judge_real, "control": control, "control_mean": control_mean,
                               "judge_real_per_quadrant": real_per_quadrant, "intensity": intensity, "monotone": mono,
                               "overlapping_area": oa, "copied_run_generated": gen_runs, "copied_run_real": real_runs,
                               "seconds_16_bars": speed, "checks": checks, "args": vars(args)}, indent=2))

    # figure
    print("\nfigure: judge's projected intensity vs requested intensity")
    for cat in CATEGORIES:
        for x in intensity[cat]:
            v = x["judge_intensity"]
            print(f"  {cat:<5} a={x['intensity']:<4g} {'#' * max(0, int(round(v * 40))):<40} {v:.2f}")


if __name__ == "__main__":
    main()
