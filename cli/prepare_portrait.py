"""``emogen prepare portrait``: extract the portrait motion model's training data into a keyed cache."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from ._apps import prepare_app
from ._common import QuietOpt, examples_epilog, handle_errors

EXAMPLES = [
    "emogen prepare portrait",
    "emogen prepare portrait --grid-limit 100 --cache runs/portrait_cache_small",
    "emogen prepare portrait --videos my_videos/",
]


@prepare_app.command("portrait", epilog=examples_epilog(EXAMPLES))
@handle_errors
def prepare_portrait(
    cache: Annotated[Path, typer.Option("--cache", help="Cache folder; the file inside is named by a hash of the inputs and settings.")] = Path("runs/portrait_cache"),
    grid_limit: Annotated[int | None, typer.Option("--grid-limit", min=1, help="Use this many GRID clips, spread evenly over the corpus (default: all).")] = None,
    videos: Annotated[Path | None, typer.Option("--videos", help="A folder of your own talking-face videos (mp4, mov, mkv, webm, avi) to add.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Data folder holding grid-s1/ and mead-style/ (default: EMOGEN_DATA or ../shared/data).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as one JSON object.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Track dlib's 68 landmarks through GRID s1 (speech with audio), MEAD (emotions) and your videos.

    Stores per-frame landmark motion in the eye frame (136 offsets from the clip's rest shape + 4 pose
    channels) and 25 fps audio features. Prints clip and frame counts, GRID mouth opening in silence vs
    speech, and MEAD's per-emotion brow and mouth-corner offsets from neutral.
    """
    from emogen.portrait.dataset import build_portrait_cache, expression_statistics

    start = time.perf_counter()
    clips = build_portrait_cache(cache, root=data, grid_limit=grid_limit, user_dir=videos, progress=not quiet)
    stats = expression_statistics(clips)
    stats["seconds"] = round(time.perf_counter() - start, 1)
    if as_json:
        typer.echo(json.dumps(stats))
        return
    for split, entry in stats["counts"].items():
        typer.echo(f"{split:<12} {entry['clips']:5d} clips {entry['frames']:7d} frames")
    for name, m in stats.get("grid_mouth", {}).items():
        typer.echo(f"GRID mouth opening, {name:<8}: mean {m['mean']:.3f}  p10/p50/p90 {m['p10']:.3f}/{m['p50']:.3f}/{m['p90']:.3f}  ({m['frames']} frames)")
    if stats["mead"]:
        typer.echo("MEAD offsets from neutral (eye units; + = raised / out / up / open):")
        typer.echo(f"  {'emotion':<10}" + "".join(f"{k:>14}" for k in next(iter(stats["mead"].values()))))
        for emotion, values in stats["mead"].items():
            typer.echo(f"  {emotion:<10}" + "".join(f"{v:14.4f}" for v in values.values()))
    typer.echo(f"{sum(e['clips'] for e in stats['counts'].values())} clips in {stats['seconds']:.1f} s; cache {cache}")
