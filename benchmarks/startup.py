"""Start-up benchmark: wall time of whole ``emogen`` processes as a user meets them, and where it goes.

Runs each command ``--repeats`` times (default 5) as a fresh process and prints the median, with the
budget of issue 7 beside it; then, for music and voice, splits one in-process run into imports, model
loading and the work itself. The figure (music and voice wall time as a ratio to the audio they make) is
last. Needs the shipped checkpoints and, for the voice rows, a RAVDESS clip from ``../shared/data``.

    python benchmarks/startup.py
    python benchmarks/startup.py --repeats 9
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emogen.utils.process import emogen_command

#: A 3.4 s neutral RAVDESS sentence of a test actor (not used in training).
VOICE_CLIP = "ravdess-speech/Actor_19/03-01-01-01-01-01-19.flac"

#: In-process stage timing of the music and voice commands (the same calls the CLI makes).
STAGES = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
from emogen.cli import main  # noqa: F401  (the CLI's own imports)
kind = sys.argv[1]
if kind == "music":
    from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline as Pipeline
else:
    import soundfile as sf
    from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline as Pipeline
torch.set_num_threads(1)
t1 = time.perf_counter()
pipe = Pipeline.from_shipped(kind)
pipe.set_progress_bar_config(disable=True)
t2 = time.perf_counter()
generator = torch.Generator().manual_seed(0)
if kind == "music":
    out = pipe("happy:0.7", num_bars=16, generator=generator)
    out.save(sys.argv[2])
else:
    audio, rate = sf.read(sys.argv[3], dtype="float32")
    out = pipe(audio, rate, emotion="angry:0.8", generator=generator)
    out.save(sys.argv[2])
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "loading": t2 - t1, "work": t3 - t2}))
"""


def _wall(command: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - start)
    return times


def _stages(kind: str, output: Path, clip: Path | None, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        args = [sys.executable, "-c", STAGES, kind, str(output)] + ([str(clip)] if clip else [])
        result = subprocess.run(args, check=True, capture_output=True, text=True, cwd=output.parent)  # the installed package
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    """Time the commands, print the table, the breakdown, and the figure last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (the median is reported)")
    args = parser.parse_args()
    data = Path(os.environ.get("EMOGEN_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    clip = data / VOICE_CLIP
    emogen = emogen_command()
    work = Path(tempfile.mkdtemp(prefix="emogen-startup-"))
    import soundfile as sf

    clip_seconds = sf.info(str(clip)).duration if clip.is_file() else None
    rows = [
        ("emogen --help", emogen + ["--help"], 0.5),
        ("emogen emotions", emogen + ["emotions"], 0.5),
        ("emogen music --bars 16", emogen + ["music", "-e", "happy:0.7", "--bars", "16", "--seed", "0", "-q", "-o", str(work / "m.mid")], 2.0),
    ]
    if clip_seconds is not None:
        rows.append((f"emogen voice ({clip_seconds:.1f} s clip)", emogen + ["voice", "-i", str(clip), "-e", "angry:0.8", "--seed", "0", "-q", "-o", str(work / "v.wav")], 3.0))
    else:
        print(f"(voice rows skipped: {clip} not found; set EMOGEN_DATA)")

    print(f"Whole-process wall time, median of {args.repeats} ({os.cpu_count()} CPUs)")
    print(f"{'command':<34} {'median s':>9} {'min s':>7} {'max s':>7} {'budget s':>9}  ok")
    medians = {}
    for name, command, budget in rows:
        times = _wall(command, args.repeats)
        medians[name] = statistics.median(times)
        ok = "yes" if medians[name] <= budget else "NO"
        print(f"{name:<34} {medians[name]:>9.2f} {min(times):>7.2f} {max(times):>7.2f} {budget:>9.1f}  {ok}")

    print("\nWhere the time goes (in-process, median; imports include torch and the CLI)")
    print(f"{'command':<12} {'imports s':>10} {'loading s':>10} {'work s':>8}")
    breakdown = {"music": _stages("music", work / "s.mid", None, args.repeats)}
    if clip_seconds is not None:
        breakdown["voice"] = _stages("voice", work / "s.wav", clip, args.repeats)
    for kind, parts in breakdown.items():
        print(f"{kind:<12} {parts['imports']:>10.2f} {parts['loading']:>10.2f} {parts['work']:>8.2f}")
    shutil.rmtree(work, ignore_errors=True)

    music_seconds = 16 * 2.0  # 16 bars of 4/4 at 120 bpm
    figure = f"music 16 bars: {medians['emogen music --bars 16']:.2f} s per process = {medians['emogen music --bars 16'] / music_seconds:.3f} x real time"
    if clip_seconds is not None:
        voice = medians[rows[-1][0]]
        figure += f"; voice: {voice:.2f} s for {clip_seconds:.1f} s = {voice / clip_seconds:.2f} x real time (whole process)"
    print("\n" + figure)


if __name__ == "__main__":
    main()
