"""Music critic designs compared where 86 test clips cannot: song-grouped cross-validation over train + val.

EMOPIA's test split holds 86 clips (a standard error of about 0.05 on an accuracy), so it cannot rank critics whose
accuracies differ by a few points. This benchmark trains each design by the recipe (``emogen.training.music.train_critic``,
the shipped settings but ``critic_linear``) on 3 of 5 folds of the train + val clips, grouped by song so no song is on
two sides, selects on the next fold (the recipe's val role: the linear critic's L2 weight, the bar encoder's best
step) and reads the held-out fold. It prints per-fold and
pooled quadrant, arousal and valence accuracy, then each design trained on train (val for selection) and read on test as
``scores.json`` reports it, and the figure last.

    python benchmarks/music_critic.py                 # both designs, about 14 min on 2 threads (the bar encoder is most of it)
    python benchmarks/music_critic.py --only linear   # about 2 min
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from dataclasses import replace

import numpy as np
import torch

from emogen.data.emopia import QUADRANTS
from emogen.emotion import EmotionBank
from emogen.music.dataset import load_music_clips
from emogen.music.evaluation import critic_predict, quadrant_scores
from emogen.training.music import MusicTrainConfig, train_critic

DESIGNS = {"linear": True, "bar encoder": False}


def song_of(name: str) -> str:
    """EMOPIA clip ``Q1_<song>_<n>`` -> ``<song>`` (clips of one song share it)."""
    return re.sub(r"^Q\d_|_\d+$", "", name)


def song_folds(clips, folds: int) -> list[np.ndarray]:
    """Clip indices of ``folds`` song-grouped folds (songs dealt round-robin in order of first appearance)."""
    songs = list(dict.fromkeys(song_of(c.name) for c in clips))
    fold_of_song = {s: i % folds for i, s in enumerate(songs)}
    return [np.array([i for i, c in enumerate(clips) if fold_of_song[song_of(c.name)] == f]) for f in range(folds)]


def read(critic, bank, clips) -> np.ndarray:
    """Predicted quadrant index of each clip."""
    return critic_predict(critic, bank, [c.grid for c in clips])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", choices=list(DESIGNS), default=None, help="one design")
    parser.add_argument("--checkpoint", default="checkpoints/music", help="music folder whose emotion bank the critic maps into")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("emogen").setLevel(logging.WARNING)
    bank = EmotionBank.from_pretrained(args.checkpoint, subfolder="emotion_bank").eval().requires_grad_(False)
    train, val, test = (load_music_clips(s) for s in ("train", "val", "test"))
    pool = train + val
    truth = np.array([QUADRANTS.index(c.quadrant) for c in pool])
    test_truth = np.array([QUADRANTS.index(c.quadrant) for c in test])
    folds = song_folds(pool, args.folds)
    designs = {args.only: DESIGNS[args.only]} if args.only else DESIGNS
    start = time.perf_counter()
    results = {}
    for name, linear in designs.items():
        config = replace(MusicTrainConfig(), critic_linear=linear)
        predicted = np.full(len(pool), -1)
        per_fold = []
        for f, held in enumerate(folds):
            select = folds[(f + 1) % args.folds]  # the recipe's val role: model selection on other songs
            rest = np.setdiff1d(np.arange(len(pool)), np.concatenate([held, select]))
            critic, _ = train_critic([pool[i] for i in rest], [pool[i] for i in select], bank, config)
            predicted[held] = read(critic, bank, [pool[i] for i in held])
            per_fold.append(float(np.mean(predicted[held] == truth[held])))
        critic, _ = train_critic(train, val, bank, config)
        results[name] = {"folds": per_fold, "pooled": quadrant_scores(predicted, truth),
                         "test": quadrant_scores(read(critic, bank, test), test_truth), "hits": predicted == truth}

    print(f"Music critic designs: EMOPIA train + val ({len(pool)} clips, {len({song_of(c.name) for c in pool})} songs), "
          f"{args.folds} song-grouped folds; test split {len(test)} clips\n")
    print("| design | per-fold quadrant accuracy | pooled quadrant / arousal / valence | test quadrant / arousal / valence |")
    print("|---|---|---|---|")
    for name, r in results.items():
        p, t = r["pooled"], r["test"]
        print(f"| {name} | {' / '.join(f'{a:.3f}' for a in r['folds'])} | {p['quadrant']:.3f} / {p['arousal']:.3f} / {p['valence']:.3f} "
              f"| {t['quadrant']:.3f} / {t['arousal']:.3f} / {t['valence']:.3f} |")
    if len(results) == 2:
        a, b = (results[n]["hits"].astype(float) for n in DESIGNS)
        diff = a - b
        print(f"\npaired difference linear - bar encoder over {len(pool)} clips: {diff.mean():+.3f} (standard error {diff.std(ddof=1) / np.sqrt(len(diff)):.3f}); "
              f"folds where linear is at least as good: {sum(x >= y for x, y in zip(*(results[n]['folds'] for n in DESIGNS)))} / {args.folds}")
    print(f"({(time.perf_counter() - start) / 60:.1f} min)\n")
    print("figure: pooled cross-validated quadrant accuracy | test accuracy")
    for name, r in results.items():
        cv, te = r["pooled"]["quadrant"], r["test"]["quadrant"]
        print(f"  {name:12s} {'#' * round(40 * cv):40s} {cv:.3f} | {'#' * round(40 * te):40s} {te:.3f}")


if __name__ == "__main__":
    main()
