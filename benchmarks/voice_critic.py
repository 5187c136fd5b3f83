"""Benchmark of the speech critic's recognition and calibration on held-out speakers, noise and non-speech.

For each critic given (the shipped one, and with ``--compare`` another critic folder, e.g. the previous
RAVDESS-only critic), on speakers no critic trained on:

- per corpus (RAVDESS actors 19-20, nEMO speakers SM0 and KD0; the validation speakers too with
  ``--validation``): 8-class accuracy, unweighted average recall (UAR), expected calibration error (ECE,
  15 equal-width bins) of the raw bank posterior and of the calibrated one, the ECE a perfectly calibrated
  critic would show on as many clips ("floor": ~0.10 on RAVDESS' 120 test clips), mean top probability,
  and the share of readings flagged "uncertain";
- the same clips with babble or white noise at 0-5 dB SNR ("noisy");
- non-speech (white/pink/brown noise, sine chords, mains hum, clicks, near-silence, and EMOPIA test songs
  through the additive synth; plus, when the soundfont piano renders, EMOPIA test songs through it, a timbre
  no critic trained on): mean top probability per kind.

With ``--cv-folds 5`` it also cross-validates the critic recipe over RAVDESS speakers
(:func:`emogen.training.voice.cross_validate_critic`: five critics, each trained and calibrated without four
actors, about an hour on one core; the readings are kept in ``--cv-json`` and reused): accuracy and ECE of
the out-of-fold calibrated readings of all 20 actors (1200 clips, floor about 0.03) and per fold.

Prints the table(s), then writes a figure (reliability diagrams of the shipped critic on each corpus before
and after calibration, and its top-probability histograms on clean speech, noisy speech and non-speech).

Run: ``python benchmarks/voice_critic.py [--checkpoint checkpoints/voice] [--compare runs/critic/speech_critic_before]
[--figure runs/critic/voice_critic.png] [--json runs/critic/voice_critic.json] [--cv-folds 5]``. The clips' frames are cached
under ``--cache`` by the same code the training recipe uses (:func:`emogen.training.voice.build_critic_data`).
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from emogen.training.voice import CriticClip, CriticItem, build_critic_data, critic_logits, evaluate_critic, shipped_encoder_config
from emogen.calibration import reliability_bins, softmax

CORPUS_NAMES = {"ravdess": "RAVDESS", "nemo": "nEMO"}


def soundfont_music(count: int = 8, seconds: float = 4.0, seed: int = 7) -> list[CriticItem]:
    """EMOPIA test songs through the soundfont piano (a timbre the critic never trained on); empty when it cannot render."""
    try:
        from emogen.data.emopia import load_emopia
        from emogen.music.representation import events_from_midi
        from emogen.music.soundfont import render_piano
        from emogen.voice.audio import resample, to_mono
        from emogen.voice.augment import set_level
        from emogen.voice.recognize import speech_frames

        rng = np.random.default_rng(seed)
        clips = load_emopia(split="test")
        items = []
        for i, clip in enumerate(clips[:: max(1, len(clips) // count)][:count]):
            audio = render_piano(events_from_midi(clip.path))
            rate = 44100
            audio = resample(to_mono(np.asarray(audio, dtype=np.float32)), rate, 16000)
            start = int(rng.integers(0, max(1, len(audio) - int(seconds * 16000))))
            x = set_level(audio[start : start + int(seconds * 16000)], float(rng.uniform(-35, -15)))
            items.append(CriticItem(CriticClip(f"sf-{i}", "nonspeech", "nonspeech", None, "normal", "nonspeech:music_soundfont"), speech_frames(x, 16000)))
        return items
    except Exception as error:  # the soundfont renderer or its soundfont is missing
        logging.getLogger(__name__).warning("soundfont music skipped: %s", error)
        return []


def load_critic(folder: Path):
    from emogen.emotion import EmotionBank
    from emogen.voice.encoder import SpeechEmotionEncoder

    if (folder / "speech_critic").is_dir():
        encoder = SpeechEmotionEncoder.from_pretrained(folder, subfolder="speech_critic")
        bank = EmotionBank.from_pretrained(folder, subfolder="emotion_bank")
    else:
        encoder = SpeechEmotionEncoder.from_pretrained(folder)
        bank = EmotionBank.from_pretrained(folder.parent if (folder.parent / "emotion_bank").is_dir() else "checkpoints/voice", subfolder="emotion_bank")
    return encoder.eval(), bank.eval()


def table(results: dict[str, dict], splits: tuple[str, ...]) -> str:
    lines = [f"{'critic':<10} {'set':<34} {'clips':>5} {'acc':>6} {'UAR':>6} {'ECE raw':>8} {'ECE cal':>8} {'floor':>6} {'top p':>6} {'uncert':>6}"]
    for name, scores in results.items():
        for corpus in ("ravdess", "nemo"):
            for split in splits:
                for condition in ("clean", "noisy"):
                    s = scores.get(f"{corpus}_{split}_{condition}")
                    if s is None:
                        continue
                    label = f"{CORPUS_NAMES[corpus]} {split} {condition if condition == 'clean' else '0-5 dB'}"
                    lines.append(f"{name:<10} {label:<34} {s['clips']:>5} {s['accuracy']:>6.3f} {s['uar']:>6.3f} {s['ece_before']:>8.3f} "
                                 f"{s['ece_after']:>8.3f} {s['ece_after_interval']['floor']:>6.3f} {s['mean_top_prob_after']:>6.3f} {s['uncertain_share']:>6.2f}")
        for split in splits:
            s = scores.get(f"nonspeech_{split}")
            if s is None:
                continue
            lines.append(f"{name:<10} {'non-speech ' + split:<34} {s['clips']:>5} {'':>6} {'':>6} {'':>8} {'':>8} {'':>6} {s['mean_top_prob']:>6.3f} {s['uncertain_share']:>6.2f}")
            for kind, p in s["per_kind"].items():
                lines.append(f"{'':<10} {'  ' + kind:<34} {'':>5} {'':>6} {'':>6} {'':>8} {'':>8} {'':>6} {p:>6.3f}")
        lines.append(f"{'':<10} temperature {scores['temperature']:.3f}, uncertain below {scores['uncertain_below']:.2f}")
    return "\n".join(lines)


def figure(path: Path, encoder, bank, data, compared=None) -> None:
    """Reliability diagrams per corpus (the shipped critic calibrated in blue; in red the ``compared`` critic
    ``(encoder, bank)`` when given, else the shipped critic's raw posterior), then the shipped critic's
    top-probability histograms; PIL only."""
    from PIL import Image, ImageDraw

    panel, pad = 260, 40
    corpora = sorted({c.clip.corpus for c in data.test})
    width = pad + (len(corpora) + 1) * (panel + pad)
    image = Image.new("RGB", (width, panel + 2 * pad + 20), "white")
    draw = ImageDraw.Draw(image)
    temperature = float(encoder.config.temperature)

    def frame(x0: int, title: str) -> None:
        draw.rectangle([x0, pad, x0 + panel, pad + panel], outline="black")
        draw.text((x0, pad - 16), title, fill="black")

    for n, corpus in enumerate(corpora):
        x0 = pad + n * (panel + pad)
        part = [c for c in data.test if c.clip.corpus == corpus]
        categories = list(encoder.config.categories)
        labels = np.array([categories.index(c.clip.emotion) for c in part])
        frame(x0, f"{CORPUS_NAMES[corpus]} test: confidence vs accuracy")
        draw.line([x0, pad + panel, x0 + panel, pad], fill=(160, 160, 160))
        red = softmax(critic_logits(*(compared or (encoder, bank)), part), float(compared[0].config.temperature) if compared else 1.0)
        blue = softmax(critic_logits(encoder, bank, part), temperature)
        for probs, colour, offset in ((red, (220, 60, 60), 0), (blue, (40, 90, 220), 4)):
            bins = reliability_bins(probs, labels, 15)
            for conf, acc, count in zip(bins["confidence"], bins["accuracy"], bins["count"]):
                if count == 0:
                    continue
                cx, cy = x0 + conf * panel, pad + panel - acc * panel
                r = 2 + min(6, count ** 0.5 / 3)
                draw.ellipse([cx - r + offset, cy - r, cx + r + offset, cy + r], outline=colour, width=2)
        draw.text((x0, pad + panel + 4), f"red: {'compared critic' if compared else 'raw posterior'}, blue: shipped, calibrated", fill="black")
    x0 = pad + len(corpora) * (panel + pad)
    frame(x0, "top probability (calibrated)")
    sets = (("clean speech", data.test, (40, 150, 60)), ("0-5 dB speech", data.test_noisy, (230, 140, 20)), ("non-speech", data.nonspeech_test, (120, 60, 180)))
    for k, (name, items, colour) in enumerate(sets):
        if not items:
            continue
        top = softmax(critic_logits(encoder, bank, items), temperature).max(1)
        hist, _ = np.histogram(top, bins=20, range=(0.0, 1.0))
        hist = hist / max(1, hist.sum())
        for b, h in enumerate(hist):
            bx = x0 + b * panel / 20 + k * 4
            draw.rectangle([bx, pad + panel - h * panel, bx + 3, pad + panel], fill=colour)
        draw.text((x0 + 4, pad + 4 + 12 * k), f"{name}: mean {top.mean():.2f}", fill=colour)
    draw.text((x0, pad + panel + 4), "x: top probability 0..1", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def cross_validation(folds: int, cache: str, path: Path) -> str:
    """Out-of-fold RAVDESS readings of ``folds`` critics trained by the shipped recipe (computed once, kept in
    ``path``), as a table: pooled and per fold accuracy, ECE with its bootstrap interval and floor."""
    from emogen.training.voice import cross_validate_critic
    from emogen.calibration import ece_interval, expected_calibration_error

    settings = {"folds": folds, "config": json.loads(json.dumps(vars(shipped_encoder_config()), default=list))}
    stored = json.loads(path.read_text()) if path.is_file() else None
    if stored is None or stored.get("settings") != settings:
        cv = cross_validate_critic(shipped_encoder_config(), cache, folds)
        stored = {"settings": settings, "probabilities": cv["probabilities"].tolist(), "labels": cv["labels"].tolist(),
                  "actors": cv["actors"], "folds": cv["folds"]}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored) + "\n")
    probs, labels, actors = np.array(stored["probabilities"]), np.array(stored["labels"]), np.array(stored["actors"])
    lines = [f"\nRAVDESS speaker cross-validation ({folds} folds of the shipped critic recipe; every actor read by a critic that never heard it, "
             "calibrated on two other unseen actors + nEMO validation)",
             f"{'test actors':<16} {'T':>6} {'clips':>5} {'acc':>6} {'ECE cal':>8} {'90% interval':>14} {'floor':>6}"]
    rows = [(", ".join(str(a) for a in f["test"]), f["temperature"], np.isin(actors, [f"ravdess-{a:02d}" for a in f["test"]])) for f in stored["folds"]]
    rows.append(("all 20 (pooled)", float("nan"), np.ones(len(labels), dtype=bool)))
    for name, temperature, rows_mask in rows:
        p, y = probs[rows_mask], labels[rows_mask]
        interval = ece_interval(p, y)
        lines.append(f"{name:<16} {temperature:>6.3f} {len(y):>5} {np.mean(p.argmax(1) == y):>6.3f} {expected_calibration_error(p, y):>8.3f} "
                     f"{interval['low']:>6.3f}-{interval['high']:<6.3f} {interval['floor']:>6.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="checkpoints/voice", help="voice pipeline folder whose speech_critic is scored")
    parser.add_argument("--compare", default=None, help="another critic folder (speech_critic/ or a pipeline folder) to score beside it")
    parser.add_argument("--cache", default="runs/voice_cache", help="cache folder of the critic's frames")
    parser.add_argument("--validation", action="store_true", help="also score the validation speakers")
    parser.add_argument("--figure", default="runs/critic/voice_critic.png")
    parser.add_argument("--json", default="runs/critic/voice_critic.json", help="where to write the numbers")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cv-folds", type=int, default=0, help="also cross-validate the critic recipe over RAVDESS speakers in this many folds (0: skip)")
    parser.add_argument("--cv-json", default="runs/critic/voice_critic_cv.json", help="where the cross-validated readings are kept (reused when the recipe is unchanged)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)

    data = build_critic_data(shipped_encoder_config(), args.cache, training=False)
    data.nonspeech_test.extend(soundfont_music())
    critics = {"shipped": load_critic(Path(args.checkpoint))}
    if args.compare:
        critics["compared"] = load_critic(Path(args.compare))
    results = {name: evaluate_critic(encoder, bank, data) for name, (encoder, bank) in critics.items()}
    splits = ("validation", "test") if args.validation else ("test",)
    print(table(results, splits))
    if args.cv_folds:
        print(cross_validation(args.cv_folds, args.cache, Path(args.cv_json)))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    encoder, bank = critics["shipped"]
    figure(Path(args.figure), encoder, bank, data, critics.get("compared"))
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
