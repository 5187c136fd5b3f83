"""Benchmark of emotion-conditioned music generation against the EMOPIA test split.

Reported (one table, then its figure):

- models: the element VQ-VAE's reconstruction of the EMOPIA test bars (onset F1 at p > 0.3, pitch F1 of
  the keys a bar starts, position F1 of its onset sixteenths, duration and velocity accuracy at the true
  onsets), how far each element's statistics move when one element's codes are taken from another bar
  (element transfer: its own statistic should move, the others not), and the prior's validation NLL per
  code with and without the emotion, the nats per clip the emotion explains (at most the label entropy,
  about log 4) and the prior's accuracy as a quadrant classifier;
- recognition: the music critic (the network the pipeline reranks with) and the evaluation-only judge
  (logistic regression on hand-made note statistics, trained on the EMOPIA train split, see
  ``emogen/music/judge.py``) on the real EMOPIA test clips: 4 quadrants, arousal, valence; the critic's
  calibration (ECE and mean top probability of its plain and its temperature-scaled posterior);
- controllability: ``--per-quadrant`` generated clips (16 bars) per quadrant category (happy, angry, sad,
  calm at intensity 1), and the judge's accuracy at recognising the requested quadrant, next to its
  accuracy on the real test clips; the pipeline's default number of critic-reranked candidates (``--candidates``),
  and, as a baseline in the same run, the same seeds with one candidate (judge accuracy, statistics within 25 %,
  realism);
- intensity: happy, sad, angry, calm at intensity 0.25 / 0.5 / 1.0: the judge's projected intensity,
  note density (notes/s) and mean velocity, and whether each moves monotonically;
- realism statistics: per quadrant, the generated clips' (intensity 1) means of notes per second, silent
  share of half-second windows, pitch range and mean, mean velocity, polyphony, key clarity
  (Krumhansl-Schmuckler) and repetition across bars (``emogen/music/stats.py``), next to the real test clips
  of that quadrant, with the ratio and whether it is within 25% (beside each miss, the 90% bootstrap interval of the
  real mean over itself: 19-24 test clips a quadrant). The real clips are read through the same
  representation as the model's output (16th grid, duration and velocity classes, at most ``--bars`` bars);
- realism classifier: cross-validated logistic regression on those statistics plus the judge's, telling
  generated clips from real val+test clips, next to the same classifier on two random halves of the real clips;
- stray notes: the share of pieces (intensity 1) holding a note more than an octave beyond their 5th-95th pitch
  percentile (the pipeline folds such notes into the register, ``register_margin``), next to the real test clips;
- intensity sweep: each quadrant at intensity 0 / 0.25 / 0.5 / 0.75 / 1: the critic's probability of the
  requested quadrant and the realism statistics, with the Spearman correlation against intensity and the
  share of the total change carried by the largest single step; counted over all statistics, and over those
  the quadrant's real clips move (mean at least 10% from all real test clips': a=0 is average music, so the
  others have no distance to cover), where the sweep must also go the real quadrant's way; beside each statistic,
  its change from a=0 to a=1 over that change's paired standard error (same seeds at both ends: under 2, the
  statistic's steps are within sampling noise);
- musicality: overlapping area (Yang & Lerch 2020) of generated vs real test distributions of pitch
  range, pitch-class entropy, polyphony, note density and inter-onset interval; and the longest run of
  notes copied from any training clip (next to the same number for the real test clips);
- speed: median seconds to generate 16 bars, batch 1, one CPU thread.

Run: ``python benchmarks/music_emotion.py [--checkpoint checkpoints/music] [--per-quadrant 200] [--quick]`` (about 27 min).
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
from emogen.music.metrics import MUSICALITY_FEATURES, CopyIndex, note_tokens, overlapping_area, realism_accuracy, sweep_shape
from emogen.utils.sweep import even_sweep
from emogen.music.register import has_far_notes
from emogen.music.representation import events_from_grid, grid_from_events
from emogen.music.stats import CLIP_STATISTIC_NAMES, STATISTIC_NAMES, clip_statistics, note_array, piece_statistics
from emogen.music.evaluation import (bars_of, critic_probabilities, critic_scores, element_transfer_movement, encode_clips,
                                     evaluate_vqvae, prior_emotion_information, quadrant_scores)
from emogen.music.features import ELEMENTS
from emogen.pipelines.pipeline_emo_music import DEFAULT_NUM_CANDIDATES, EmoMusicPipeline

CATEGORIES = ("happy", "angry", "sad", "calm")  # Q1..Q4
INTENSITIES = (0.25, 0.5, 1.0)  # the judge-intensity rows and the figure
SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0)  # the intensity sweep
WITHIN = 0.25  # a generated statistic counts as close when within 25% of the real one
BOOTSTRAP = 2000  # resamples of the real test clips for the interval of each real mean
MOVES = 0.10  # a quadrant moves a statistic when its real clips' mean is this far (relative) from all real clips'
REALISM_FEATURES = CLIP_STATISTIC_NAMES + tuple(k for k in STATISTIC_NAMES if k not in ("note_density", "pitch_mean", "pitch_range",
                                                                                      "velocity_mean", "polyphony"))


def real_notes(grid, bars: int):
    """A real clip read through the model's representation (its first ``bars`` bars) as notes at 120 bpm."""
    crop = type(grid)(grid.onsets[:bars], grid.durations[:bars], grid.velocities[:bars], grid.tempo)
    return note_array(events_from_grid(crop), tempo=120.0)


def all_statistics(notes) -> dict[str, float]:
    """The realism statistics and the judge's, one dict."""
    return {**piece_statistics(notes), **clip_statistics(notes)}


def generate(pipe: EmoMusicPipeline, emotion: str, count: int, bars: int, seed: int, batch: int, **kwargs):
    """``count`` pieces, each from its own seeded generator (seed, seed+1, ...)."""
    sequences = []
    for start in range(0, count, batch):
        n = min(batch, count - start)
        gens = [torch.Generator().manual_seed(seed + start + i) for i in range(n)]
        sequences += pipe(emotion, num_bars=bars, batch_size=n, generator=gens, **kwargs).sequences
    return sequences


def statistics_table(generated: dict[str, list], real: dict[str, list], seed: int = 0) -> dict[str, dict[str, dict]]:
    """Per quadrant and clip statistic: generated mean (``generated[category]`` notes) over real mean (``real[quadrant]``),
    whether it is within 25 %, and the 90 % bootstrap interval of the real mean over itself (``real_interval``, as ratios:
    how far the real mean of 19-24 test clips could have fallen by chance; ``in_real_interval`` when the generated mean
    lies inside it)."""
    rng = np.random.default_rng(seed)
    table = {}
    for q, cat in zip(QUADRANTS, CATEGORIES):
        gen_s, real_s = [clip_statistics(n) for n in generated[cat]], [clip_statistics(n) for n in real[q]]
        resample = rng.integers(0, len(real_s), (BOOTSTRAP, len(real_s)))
        table[q] = {}
        for f in CLIP_STATISTIC_NAMES:
            real_values = np.array([x[f] for x in real_s], dtype=float)
            g, r = float(np.mean([x[f] for x in gen_s])), float(real_values.mean())
            ratio = g / r if r != 0 else float("inf") if g != 0 else 1.0
            low, high = (np.quantile(real_values[resample].mean(1), [0.05, 0.95]) / r) if r != 0 else (1.0, 1.0)
            table[q][f] = {"generated": g, "real": r, "ratio": ratio, "within": bool(abs(ratio - 1) <= WITHIN),
                           "real_interval": [float(low), float(high)], "in_real_interval": bool(low <= ratio <= high)}
    return table


def monotone(values: list[float]) -> bool:
    d = np.diff(values)
    return bool(np.all(d > 0) or np.all(d < 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="music pipeline folder (default: the shipped one)")
    parser.add_argument("--per-quadrant", type=int, default=200,
                        help="generated clips per quadrant and per intensity level (200: a level's mean statistics vary about 4%% between seed sets)")
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the pipeline's)")
    parser.add_argument("--candidates", type=int, default=None, help="critic rerank candidates per clip (default: the pipeline's)")
    parser.add_argument("--top-k", type=int, default=None, help="keep the k likeliest codes when sampling (default: the pipeline's)")
    parser.add_argument("--key-guidance", type=float, default=None, help="weight of the key guide (default: the pipeline's; 0 = off)")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--json", default="runs/music_bench/results.json", help="where to write the numbers")
    parser.add_argument("--quick", action="store_true", help="12 clips per quadrant and level, 5 timing runs (about a quarter of the time)")
    args = parser.parse_args()
    if args.quick:
        args.per_quadrant = min(args.per_quadrant, 12)
    torch.set_num_threads(1)
    logging.getLogger("diffusers").setLevel(logging.ERROR)

    pipe = EmoMusicPipeline.from_pretrained(args.checkpoint) if args.checkpoint else EmoMusicPipeline.from_shipped("music")
    pipe.set_progress_bar_config(disable=True)
    if args.candidates is None:
        args.candidates = DEFAULT_NUM_CANDIDATES
    kwargs = {"num_candidates": args.candidates}
    if args.guidance is not None:
        kwargs["guidance_scale"] = args.guidance
    if args.top_k is not None:
        kwargs["top_k"] = args.top_k
    if args.key_guidance is not None:
        kwargs["key_guidance"] = args.key_guidance
    t0 = time.time()

    # 1. recognition on real test clips
    train_clips, test_clips = load_emopia(split="train"), load_emopia(split="test")
    train_notes = [note_array(c.path) for c in train_clips]
    test_notes = [note_array(c.path) for c in test_clips]
    judge = EmotionJudge.fit(train_notes, [c.quadrant for c in train_clips])
    true = np.array([QUADRANTS.index(c.quadrant) for c in test_clips])
    judge_real = quadrant_scores(np.array([QUADRANTS.index(q) for q in judge.predict(test_notes)]), true)
    test_grids = load_music_clips("test")
    critic_real = critic_scores(pipe.music_critic, pipe.emotion_bank, test_grids)  # accuracies and calibration

    # models: VQ-VAE reconstruction and element transfer on test bars, prior likelihood on val clips
    vq_test = evaluate_vqvae(pipe.vqvae, test_grids)
    bars = bars_of(test_grids)
    nonempty = bars[0].flatten(1).any(1)
    transfer = element_transfer_movement(pipe.vqvae, *(x[nonempty] for x in bars), seed=args.seed)
    val_sequences = encode_clips(pipe.vqvae, load_music_clips("val"), (0,))
    nll = prior_emotion_information(pipe.prior, val_sequences, pipe.emotion_bank)

    # 2. controllability (intensity 1) and 3. intensity levels
    generated: dict[tuple[str, float], list] = {}
    for k, cat in enumerate(CATEGORIES):
        for a in SWEEP:
            # the same seeds at every level (common random numbers): a step between levels is the intensity's, not the seeds'
            generated[(cat, a)] = generate(pipe, f"{cat}:{a:g}", args.per_quadrant, args.bars, args.seed + 100000 * k, args.batch, **kwargs)
    control = {}
    gen_notes = {key: [note_array(s, tempo=120.0) for s in seqs] for key, seqs in generated.items()}
    for k, cat in enumerate(CATEGORIES):
        pred = judge.predict(gen_notes[(cat, 1.0)])
        control[cat] = float(np.mean([p == QUADRANTS[k] for p in pred]))
    control_mean = float(np.mean(list(control.values())))
    # the same pieces without the critic's choice (one candidate, the same seeds): what reranking adds and costs
    single = {}
    if args.candidates > 1:
        for k, cat in enumerate(CATEGORIES):
            seqs = generate(pipe, f"{cat}:1", args.per_quadrant, args.bars, args.seed + 100000 * k, args.batch, **{**kwargs, "num_candidates": 1})
            single[cat] = [note_array(seq, tempo=120.0) for seq in seqs]
    control_single = {cat: float(np.mean([p == QUADRANTS[k] for p in judge.predict(notes)])) for k, (cat, notes) in enumerate(single.items())}
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

    # 5. realism: statistics per quadrant (generated at intensity 1 vs real test clips), classifier, sweep
    val_grids = load_music_clips("val")
    real_test = {q: [real_notes(c.grid, args.bars) for c in test_grids if c.quadrant == q] for q in QUADRANTS}
    stats_table = statistics_table({cat: gen_notes[(cat, 1.0)] for cat in CATEGORIES}, real_test, seed=args.seed)
    within_count = sum(v["within"] for q in QUADRANTS for v in stats_table[q].values())
    # the misses that the real mean itself could have shown by chance (few test clips per quadrant)
    chance_misses = sum(not v["within"] and v["in_real_interval"] for q in QUADRANTS for v in stats_table[q].values())
    # where intensity has a distance to cover: the quadrant's real mean vs that of all real test clips (a=0 is average music)
    real_all = [clip_statistics(n) for q in QUADRANTS for n in real_test[q]]
    real_shift = {cat: {f: stats_table[q][f]["real"] / float(np.mean([x[f] for x in real_all])) - 1.0 for f in CLIP_STATISTIC_NAMES}
                  for q, cat in zip(QUADRANTS, CATEGORIES)}
    within_total = len(QUADRANTS) * len(CLIP_STATISTIC_NAMES)
    pool = [c for c in val_grids + test_grids]
    pool_stats = np.array([[all_statistics(real_notes(c.grid, args.bars))[f] for f in REALISM_FEATURES] for c in pool])
    gen_stats_x = np.array([[all_statistics(n)[f] for f in REALISM_FEATURES] for cat in CATEGORIES for n in gen_notes[(cat, 1.0)]])
    realism_gen = realism_accuracy(gen_stats_x, pool_stats, seed=args.seed)
    if single:
        single_table = statistics_table(single, real_test, seed=args.seed)
        within_single = sum(v["within"] for q in QUADRANTS for v in single_table[q].values())
        single_x = np.array([[all_statistics(n)[f] for f in REALISM_FEATURES] for cat in CATEGORIES for n in single[cat]])
        realism_single = realism_accuracy(single_x, pool_stats, seed=args.seed)
    # key mode (major minus minor key-profile correlation), read from the realism features: a difference, not a ratio
    # (real means sit near 0); real = the test clips, the end of the pool
    mode_col, gen_ends = REALISM_FEATURES.index("mode"), np.cumsum([len(gen_notes[(cat, 1.0)]) for cat in CATEGORIES])
    test_modes, test_quadrants = pool_stats[len(val_grids) :, mode_col], np.array([c.quadrant for c in test_grids])
    mode_table = {}
    for q, cat, end in zip(QUADRANTS, CATEGORIES, gen_ends):
        generated_modes, real_modes = gen_stats_x[end - len(gen_notes[(cat, 1.0)]) : end, mode_col], test_modes[test_quadrants == q]
        mode_table[q] = {"generated": float(generated_modes.mean()), "real": float(real_modes.mean()),
                         "generated_minor": float((generated_modes < 0).mean()), "real_minor": float((real_modes < 0).mean())}
    halves = np.random.default_rng(args.seed).permutation(len(pool))
    realism_real = realism_accuracy(pool_stats[halves[: len(pool) // 2]], pool_stats[halves[len(pool) // 2 :]], seed=args.seed)
    sweep = {}
    for k, cat in enumerate(CATEGORIES):
        rows, per_clip = [], {}
        for a in SWEEP:
            grids = [grid_from_events(seq) for seq in generated[(cat, a)]]
            probs = critic_probabilities(pipe.music_critic, pipe.emotion_bank, grids) if pipe.music_critic is not None else np.full((len(grids), 4), np.nan)
            st = [clip_statistics(n) for n in gen_notes[(cat, a)]]
            per_clip[a] = {f: np.array([x[f] for x in st], dtype=float) for f in CLIP_STATISTIC_NAMES}
            rows.append({"intensity": a, "critic_target": float(np.mean(probs[:, k])),
                         **{f: float(per_clip[a][f].mean()) for f in CLIP_STATISTIC_NAMES},
                         "minor_share": float(np.mean([all_statistics(n)["mode"] < 0 for n in gen_notes[(cat, a)]]))})
        shape = {m: sweep_shape(np.array(SWEEP), np.array([r[m] for r in rows])) for m in ("critic_target", *CLIP_STATISTIC_NAMES, "minor_share")}
        # the whole sweep's change (a=1 minus a=0, the same seeds: paired) over its standard error; below 2 the
        # statistic's change is within what these clips' sampling could give, and so are its steps
        for f in CLIP_STATISTIC_NAMES:
            diff = per_clip[SWEEP[-1]][f] - per_clip[SWEEP[0]][f]
            se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
            shape[f]["change_over_se"] = float(diff.mean() / se) if se > 0 else 0.0
        sweep[cat] = {"levels": rows, "shape": shape}

    # 6. speed
    times = []
    for i in range(6 if args.quick else 11):
        start = time.perf_counter()
        pipe("happy:0.7", num_bars=16, generator=torch.Generator().manual_seed(i), **kwargs)
        times.append(time.perf_counter() - start)
    speed = float(np.median(times[1:]))

    # table
    n_gen = args.per_quadrant * len(CATEGORIES) * len(SWEEP)
    print(f"Music emotion benchmark: EMOPIA test split ({len(test_clips)} clips), {n_gen} generated clips of {args.bars} bars, "
          f"guidance {kwargs.get('guidance_scale', 'default')}, top-k {kwargs.get('top_k', 'default')}, candidates {args.candidates}\n")
    print(f"| {'measure':<52} | {'value':>28} |")
    print(f"|{'-' * 54}|{'-' * 30}|")

    def row(name: str, value: str) -> None:
        print(f"| {name:<52} | {value:>28} |")

    row("VQ-VAE test bars: onset F1 / pitch F1 / position F1", f"{vq_test['onset_f1']:.3f} / {vq_test['pitch_f1']:.3f} / {vq_test['position_f1']:.3f}")
    row("VQ-VAE test notes: duration / velocity accuracy (+-1)",
        f"{vq_test['duration_accuracy']:.3f} / {vq_test['velocity_accuracy']:.3f} ({vq_test['velocity_within_one']:.3f})")
    row("prior val NLL per code: conditioned / unconditional", f"{nll['nll_conditioned']:.4f} / {nll['nll_unconditional']:.4f}")
    row("prior val: nats per clip the emotion explains / most possible", f"{nll['nats_per_clip']:.2f} / {nll['label_entropy']:.2f}")
    row("prior val as a classifier: quadrant accuracy", f"{nll['quadrant_accuracy']:.3f}")
    for who, s in (("critic", critic_real), ("judge", judge_real)):
        row(f"{who} on real test clips: quadrant / arousal / valence", f"{s['quadrant']:.3f} / {s['arousal']:.3f} / {s['valence']:.3f}")
    row(f"critic on real test clips: ECE (15 bins) plain / calibrated (T = {pipe.music_critic.temperature:.2f})",
        f"{critic_real['ece_before']:.3f} / {critic_real['ece_after']:.3f}")
    row("critic on real test clips: mean top probability plain / calibrated", f"{critic_real['mean_top_prob_before']:.3f} / {critic_real['mean_top_prob_after']:.3f}")
    for cat in CATEGORIES:
        row(f"judge accuracy, requested {cat} ({QUADRANTS[CATEGORIES.index(cat)]}): generated / real", f"{control[cat]:.3f} / {real_per_quadrant[cat]:.3f}")
    # binomial standard errors: of the mean over the four quadrants' generated clips, and of the real test clips' accuracy
    se_generated = float(np.sqrt(sum(c * (1 - c) / args.per_quadrant for c in control.values())) / len(control))
    se_real = float(np.sqrt(judge_real["quadrant"] * (1 - judge_real["quadrant"]) / len(test_clips)))
    row("judge accuracy, mean over quadrants: generated / real", f"{control_mean:.3f} / {judge_real['quadrant']:.3f}")
    row("  standard error: generated / real", f"{se_generated:.3f} / {se_real:.3f}")
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
    row("stats within 25% of real (quadrant x statistic, below)", f"{within_count} / {within_total}")
    row("  of the misses, inside the real mean's 90% bootstrap interval", f"{chance_misses} / {within_total - within_count}")
    row("realism classifier accuracy: generated vs real", f"{realism_gen:.3f}")
    row("realism classifier accuracy: real vs real (halves)", f"{realism_real:.3f}")
    stray_gen = np.mean([has_far_notes(n.pitch) for cat in CATEGORIES for n in gen_notes[(cat, 1.0)]])
    stray_real = np.mean([has_far_notes(n.pitch) for q in QUADRANTS for n in real_test[q]])
    row("pieces with a note > 12 st beyond 5-95%: gen / real", f"{stray_gen:.2f} / {stray_real:.2f}")
    if single:
        row("1 candidate (no reranking): judge accuracy", f"{np.mean(list(control_single.values())):.3f}")
        row("1 candidate: stats within 25% / realism accuracy", f"{within_single} / {within_total} / {realism_single:.3f}")
    sweep_ok = {cat: even_sweep(sweep[cat]["shape"]["critic_target"], signed=True) for cat in CATEGORIES}
    stat_sweeps = [sweep[cat]["shape"][f] for cat in CATEGORIES for f in CLIP_STATISTIC_NAMES]
    stats_sweep_ok = sum(even_sweep(s) for s in stat_sweeps)
    moving = [(cat, f) for cat in CATEGORIES for f in CLIP_STATISTIC_NAMES if abs(real_shift[cat][f]) >= MOVES]
    moving_even = {(c, f): even_sweep({**sweep[c]["shape"][f], "rho": sweep[c]["shape"][f]["rho"] * np.sign(real_shift[c][f])}, signed=True)
                   for c, f in moving}
    moving_ok = sum(moving_even.values())
    moving_noise = sum(not ok and abs(sweep[c]["shape"][f]["change_over_se"]) < 2 for (c, f), ok in moving_even.items())
    row("sweep: critic p(target) rho >= 0.9, step <= 1/2", f"{sum(sweep_ok.values())} / {len(CATEGORIES)}")
    row("sweep: statistics |rho| >= 0.9, step <= 1/2", f"{stats_sweep_ok} / {len(stat_sweeps)}")
    row(f"sweep: statistics real quadrants move >= {MOVES:.0%}, real's way", f"{moving_ok} / {len(moving)}")
    row("  of their misses, total change < 2 standard errors", f"{moving_noise} / {len(moving) - moving_ok}")
    row("seconds for 16 bars, batch 1, 1 thread (median)", f"{speed:.3f}")
    checks = {
        "VQ-VAE test onset F1 >= 0.9": vq_test["onset_f1"] >= 0.9,
        "critic test accuracy >= 0.65": critic_real["quadrant"] >= 0.65,
        "stats within 25% of real (all)": within_count == within_total,
        "realism acc <= real-vs-real + 0.05": realism_gen <= realism_real + 0.05,
        "sweep critic p(target) (all)": all(sweep_ok.values()),
        "judge acc on generated >= 0.75": control_mean >= 0.75,
        "judge acc on generated >= on real": control_mean >= judge_real["quadrant"],
        "monotone intensity (all)": all(all(v.values()) for v in mono.values()),
        "mean overlapping area >= 0.7": oa_mean >= 0.7,
        "16 bars < 1 s": speed < 1.0,
    }
    print("\nchecks: " + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
    print("monotone per emotion (judge intensity, density, velocity): " + ", ".join(
        f"{c}: {''.join('y' if mono[c][k] else 'n' for k in ('judge_intensity', 'note_density', 'velocity'))}" for c in CATEGORIES))

    print(f"\nrealism statistics, generated (intensity 1, {args.per_quadrant} per quadrant) vs real test clips (<= {args.bars} bars): "
          "generated / real = ratio (* within 25%; otherwise [the real mean's 90% bootstrap interval as ratios])")
    print("| statistic | " + " | ".join(f"{q} {c}" for q, c in zip(QUADRANTS, CATEGORIES)) + " |")
    print("|---|" + "---|" * len(QUADRANTS))
    for f in CLIP_STATISTIC_NAMES:
        cells = [stats_table[q][f] for q in QUADRANTS]
        print(f"| {f} | " + " | ".join(f"{c['generated']:.2f} / {c['real']:.2f} = {c['ratio']:.2f}"
                                     + ("*" if c["within"] else " [{:.2f}-{:.2f}]".format(*c["real_interval"])) for c in cells) + " |")
    print("| key mode (major - minor correlation) | " + " | ".join(f"{mode_table[q]['generated']:+.3f} / {mode_table[q]['real']:+.3f}" for q in QUADRANTS) + " |")
    print("| share of clips in minor (key mode < 0) | " + " | ".join(f"{mode_table[q]['generated_minor']:.2f} / {mode_table[q]['real_minor']:.2f}" for q in QUADRANTS) + " |")

    print(f"\nelement transfer ({int(nonempty.sum())} test bars, each given another bar's codes of one element): how far each "
          "element's statistic moved toward the other bar's (1 = all the way, 0 = not at all)")
    print("| transferred | " + " | ".join(ELEMENTS) + " |")
    print("|---|" + "---|" * len(ELEMENTS))
    for element in ELEMENTS:
        print(f"| {element} | " + " | ".join(f"{transfer[element][s]:.2f}" for s in ELEMENTS) + " |")

    print(f"\nintensity sweep ({args.per_quadrant} clips per level): mean at a = {' / '.join(f'{a:g}' for a in SWEEP)}; "
          "Spearman rho; largest step's share of the total change; the change a=0 -> 1 over its standard error (paired)")
    print(f"real quadrant vs all real test clips: the relative difference (moves when >= {MOVES:.0%})")
    print("| emotion | measure | values | rho | largest step | change / SE | real quadrant vs all real |")
    print("|---|---|---|---|---|---|---|")
    for cat in CATEGORIES:
        for m in ("critic_target", *CLIP_STATISTIC_NAMES, "minor_share"):
            vals = " / ".join(f"{r[m]:.2f}" for r in sweep[cat]["levels"])
            sh = sweep[cat]["shape"][m]
            shift = f"{real_shift[cat][m]:+.0%}" if m in real_shift[cat] else ""
            t = f"{sh['change_over_se']:+.1f}" if "change_over_se" in sh else ""
            print(f"| {cat} | {m} | {vals} | {sh['rho']:+.2f} | {sh['largest_step']:.2f} | {t} | {shift} |")
    print(f"(benchmark took {(time.time() - t0) / 60:.1f} min)")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"vqvae_test": vq_test, "element_transfer": transfer, "prior_val_nll": nll, "key_mode": mode_table, "critic_real": critic_real, "judge_real": judge_real, "control": control, "control_mean": control_mean,
                               "judge_real_per_quadrant": real_per_quadrant, "judge_standard_error": {"generated": se_generated, "real": se_real}, "intensity": intensity, "monotone": mono,
                               "overlapping_area": oa, "copied_run_generated": gen_runs, "copied_run_real": real_runs,
                               "seconds_16_bars": speed, "checks": checks, "args": vars(args),
                               "realism_statistics": stats_table, "realism_within": [within_count, within_total],
                               "realism_accuracy": {"generated_vs_real": realism_gen, "real_vs_real": realism_real,
                                                    "features": list(REALISM_FEATURES), "real_pool": len(pool)},
                               "sweep": sweep, "real_shift": real_shift, "sweep_moving": [moving_ok, len(moving)],
                               "single_candidate": {"control": control_single, "realism_within": [within_single, within_total],
                                                    "realism_accuracy": realism_single} if single else None}, indent=2))

    # figure
    print("\nfigure: judge's projected intensity vs requested intensity")
    for cat in CATEGORIES:
        for x in intensity[cat]:
            v = x["judge_intensity"]
            print(f"  {cat:<5} a={x['intensity']:<4g} {'#' * max(0, int(round(v * 40))):<40} {v:.2f}")


if __name__ == "__main__":
    main()
