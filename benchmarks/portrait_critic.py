"""Face critic calibration across identities: does a temperature fitted on one unseen face calibrate another?

The shipped face critic is trained on two MEAD identities and calibrated (temperature scaling) on the frames of the
third, so its calibration is measured on the frames it was fitted on. This benchmark trains the recipe's critic three
times, each time holding out one identity (``emogen.training.portrait.train_critic``, the shipped settings), and reads
each held-out identity's frames (eye-frame shapes as ``emogen recognize face`` reads them, and identity-free offsets as
the pipeline does) with:

- the bank's plain posterior (temperature 1);
- its own fold's temperature (fitted on these same frames: what the shipped critic reports);
- the temperatures of the two other folds (fitted on other identities): the honest estimate for a new face.

It prints frame accuracy, ECE (15 bins) and mean top probability per identity, and the figure last. Needs the portrait
cache (``emogen prepare portrait``); about a minute.

    python benchmarks/portrait_critic.py
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import torch

from emogen.calibration import expected_calibration_error, softmax
from emogen.emotion import EmotionBank
from emogen.portrait.dataset import build_portrait_cache
from emogen.training.portrait import CriticTrainConfig, PortraitTrainConfig, _critic_logits, _split_clips, train_critic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=PortraitTrainConfig().cache, help="portrait cache folder")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("emogen").setLevel(logging.WARNING)

    grid, _, mead = _split_clips(build_portrait_cache(args.cache))
    identities = sorted({c.identity for c in mead})
    bank = EmotionBank().eval()
    folds = {}
    for held in identities:
        clips = [c for c in mead if c.identity == held]
        critic, _, _ = train_critic([c for c in mead if c.identity != held], clips, grid, bank, CriticTrainConfig(val_identity=held))
        logits = _critic_logits(critic, bank, clips, critic.template.numpy())
        folds[held] = {"temperature": critic.temperature, "logits": logits}

    print(f"Face critic calibration, leave one MEAD identity out ({', '.join(identities)}); frames of the held-out identity\n")
    print("| held out | input    | frames | accuracy | T own | ECE plain | ECE own T | ECE others' T | top p plain / own / others' |")
    print("|----------|----------|--------|----------|-------|-----------|-----------|---------------|-----------------------------|")
    summary = {"plain": [], "own": [], "others": []}
    for held, fold in folds.items():
        others = [folds[o]["temperature"] for o in identities if o != held]
        for kind, (logits, labels) in fold["logits"].items():
            plain, own = softmax(logits), softmax(logits, fold["temperature"])
            crossed = [softmax(logits, t) for t in others]
            ece = {"plain": expected_calibration_error(plain, labels), "own": expected_calibration_error(own, labels),
                   "others": float(np.mean([expected_calibration_error(p, labels) for p in crossed]))}
            for k, v in ece.items():
                summary[k].append(v)
            top = f"{plain.max(1).mean():.2f} / {own.max(1).mean():.2f} / {np.mean([p.max(1).mean() for p in crossed]):.2f}"
            print(f"| {held:8s} | {kind:8s} | {len(labels):6d} | {(plain.argmax(1) == labels).mean():8.3f} | {fold['temperature']:5.2f} "
                  f"| {ece['plain']:9.3f} | {ece['own']:9.3f} | {ece['others']:13.3f} | {top:27s} |")
    print("\nfigure: mean ECE over identities and inputs (lower is better)")
    for k, label in (("plain", "plain posterior"), ("own", "own identity's T"), ("others", "other identities' T")):
        v = float(np.mean(summary[k]))
        print(f"  {label:20s} {'#' * round(60 * v):30s} {v:.3f}")


if __name__ == "__main__":
    main()
