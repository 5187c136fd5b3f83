"""Teacher-forced probe of the music prior: how real is one bar's worth of its codes, given real music before it?

For each EMOPIA val clip (its first 16 bars), every bar's codes of the chosen elements (``--elements``, default the
pitch codes) are redrawn from the prior, one bar at a time, given the clip's *real* earlier bars and the bar's real
codes of the other elements, conditioned on the clip's own quadrant (no emotion guidance). Decoded like the pipeline
decodes, the clips are then compared with the real clips:

- realism: the benchmarks' cross-validated classifier telling these clips from the real ones (0.5 = indistinguishable),
  on the same statistics as ``music_emotion.py``;
- the statistics that tell them apart: pitch-class entropy, pitch range, key clarity, bar repetition, polyphony, notes
  per second, and the key mode (major minus minor key-profile correlation).

Rows: the VQ-VAE's reconstruction of the real codes (the floor: what the codes can hold), then the prior at each
setting: ``--key-weights`` adds the key guide's log-ratios for the clip's own Krumhansl-Schmuckler key (0 = the prior
alone), ``--temperatures`` divides the logits. Free-running generation (``music_probe.py``) adds the prior's own
earlier bars and guidance on top of this; a prior that fails here fails there. About 20 s a row on 2 threads.

    python benchmarks/music_prior_probe.py
    python benchmarks/music_prior_probe.py --elements pitch,rhythm --key-weights 0 1 --temperatures 1 0.9
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch
from music_emotion import REALISM_FEATURES, all_statistics, real_notes

from emogen.music.dataset import grid_key, grid_tensors, load_music_clips
from emogen.music.metrics import realism_accuracy
from emogen.music.representation import BarGrid, events_from_grid
from emogen.music.stats import note_array
from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

BARS = 16
#: The statistics printed per row (all of ``REALISM_FEATURES`` go into the realism classifier).
SHOWN = ("pitch_class_entropy", "pitch_range", "key_clarity", "bar_repetition", "polyphony", "notes_per_second", "mode")
#: The pipeline's default onset sharpness (``EmoMusicPipeline.__call__``), so notes are decoded as the pipeline decodes them.
ONSET_SHARPNESS = 1.5


def decoded_statistics(pipe: EmoMusicPipeline, codes: torch.Tensor, seed: int) -> np.ndarray:
    """Realism statistics `(N, F)` of `(N, BARS, C)` codes decoded as the pipeline decodes them."""
    generator = torch.Generator().manual_seed(seed)
    onsets, durations, velocities = pipe.vqvae.sample_bars(codes.flatten(0, 1), generator, 1.0, ONSET_SHARPNESS)
    shape = (codes.shape[0], BARS, *onsets.shape[1:])
    rows = []
    for i in range(codes.shape[0]):
        grid = BarGrid(onsets.view(shape)[i].numpy(), durations.view(shape)[i].numpy().astype(np.int8),
                       velocities.view(shape)[i].numpy().astype(np.int8), 120.0)
        stats = all_statistics(note_array(events_from_grid(grid), tempo=120.0))
        rows.append([stats[f] for f in REALISM_FEATURES])
    return np.array(rows)


@torch.no_grad()
def redraw(pipe: EmoMusicPipeline, codes: torch.Tensor, categories: list[str], elements: set[str], keys: torch.Tensor,
           key_weight: float, temperature: float, seed: int) -> torch.Tensor:
    """`codes` `(N, BARS, C)` with the columns of ``elements`` redrawn bar by bar from the prior given the real
    earlier bars and the bar's real other columns (each clip conditioned on its own category at intensity 1)."""
    generator = torch.Generator().manual_seed(seed)
    conditions = {c: pipe.encode_emotion(f"{c}:1", batch_size=1) for c in set(categories)}
    embedding = torch.cat([conditions[c].embedding for c in categories])
    mask = torch.cat([conditions[c].mask for c in categories])
    layout = pipe.vqvae.code_layout
    out = codes.clone()
    for bar in range(BARS):
        context = codes[:, :bar]
        state = pipe.prior.hidden(context, embedding, mask)[:, -1]
        chosen: list[torch.Tensor] = []
        cache: dict = {}
        for e, (element, _) in enumerate(layout):
            if element in elements:
                logits = pipe.prior.element_logits(state, chosen, e, history=context, cache=cache).float().log_softmax(-1)
                if key_weight and pipe.key_guide is not None and pipe.key_guide.guides(e):
                    logits = logits + key_weight * pipe.key_guide.bonus(e, keys)
                code = pipe._sample_code(logits, temperature, 0, generator)
            else:
                code = codes[:, bar, e]
            chosen.append(code)
            out[:, bar, e] = code
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="music pipeline folder (default: the shipped one)")
    parser.add_argument("--elements", default="pitch", help="comma-separated elements to redraw (rhythm, pitch, duration, velocity)")
    parser.add_argument("--key-weights", type=float, nargs="+", default=[0.0, 1.0], help="key guide weights (clip's own key)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0], help="sampling temperatures")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("emogen").setLevel(logging.WARNING)
    elements = {e.strip() for e in args.elements.split(",") if e.strip()}

    pipe = EmoMusicPipeline.from_pretrained(args.checkpoint) if args.checkpoint else EmoMusicPipeline.from_shipped("music")
    unknown = elements - {e for e, _ in pipe.vqvae.code_layout}
    if unknown:
        raise SystemExit(f"unknown element(s) {', '.join(sorted(unknown))}; choose from rhythm, pitch, duration, velocity")
    clips = [c for c in load_music_clips("val") if c.grid.num_bars >= BARS]
    grids = [BarGrid(c.grid.onsets[:BARS], c.grid.durations[:BARS], c.grid.velocities[:BARS], c.grid.tempo) for c in clips]
    real = np.array([[all_statistics(real_notes(c.grid, BARS))[f] for f in REALISM_FEATURES] for c in clips])
    with torch.no_grad():
        codes = torch.stack([pipe.vqvae.encode(*grid_tensors(g)) for g in grids])
    keys = torch.tensor([grid_key(g) for g in grids])

    rows: list[tuple[str, np.ndarray, float]] = []
    start = time.perf_counter()
    rows.append(("VQ-VAE reconstruction (real codes)", decoded_statistics(pipe, codes, args.seed), time.perf_counter() - start))
    for weight in args.key_weights:
        for temperature in args.temperatures:
            start = time.perf_counter()
            new = redraw(pipe, codes, [c.category for c in clips], elements, keys, weight, temperature, args.seed)
            name = f"prior, key guide {weight:g}, temperature {temperature:g}"
            rows.append((name, decoded_statistics(pipe, new, args.seed), time.perf_counter() - start))

    columns = [REALISM_FEATURES.index(f) for f in SHOWN]
    print(f"Teacher-forced prior probe: {len(clips)} EMOPIA val clips of {BARS}+ bars; redrawn: {', '.join(sorted(elements))} codes, "
          "each bar given the real bars before it\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'codes':{width}s} | realism | " + " | ".join(SHOWN) + " | s |")
    print(f"|{'-' * (width + 2)}|---------|" + "|".join("-" * (len(f) + 2) for f in SHOWN) + "|---|")
    print(f"| {'real val clips':{width}s} | 0.5     | " + " | ".join(f"{real[:, j].mean():{len(f)}.3f}" for f, j in zip(SHOWN, columns)) + " | - |")
    scores = []
    for name, stats, seconds in rows:
        scores.append(realism_accuracy(stats, real, seed=args.seed))
        cells = " | ".join(f"{stats[:, j].mean():{len(f)}.3f}" for f, j in zip(SHOWN, columns))
        print(f"| {name:{width}s} | {scores[-1]:.3f}   | {cells} | {seconds:.0f} |")
    print("\nfigure: realism classifier accuracy (0.5 = reads as real)")
    for (name, _, _), score in zip(rows, scores):
        print(f"  {name:{width}s} {'#' * round(40 * score):40s} {score:.3f}")


if __name__ == "__main__":
    main()
