"""``emogen emotions``: the emotion taxonomy with its valence/arousal/dominance anchors."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from emogen.emotion import ANCHOR_TERMS, CATEGORIES, SYNONYMS, VAD_ANCHORS, EmotionSpec

from ._apps import app
from ._common import examples_epilog, handle_errors

EXAMPLES = [
    "emogen emotions",
    "emogen emotions --check 'happy:0.6+surprised:0.3'",
]


@app.command("emotions", epilog=examples_epilog(EXAMPLES))
@handle_errors
def emotions(
    check: Annotated[
        str | None, typer.Option("--check", help="Parse an emotion spec and print its normalised form.")
    ] = None,
) -> None:
    """List the emotion categories, their synonyms and VAD anchors (Russell & Mehrabian, 1977).

    Specs: NAME[:INTENSITY] with intensity in [0, 1], mixtures joined by '+', va:V,A or vad:V,A,D with
    values in [-1, 1], or auto (read from an input).
    """
    if check is not None:
        typer.echo(EmotionSpec.parse(check).format())
        return
    table = Table(title="emogen emotions (valence, arousal, dominance in [-1, 1])")
    for column in ("emotion", "valence", "arousal", "dominance", "anchor term", "synonyms"):
        table.add_column(column, justify="right" if column in ("valence", "arousal", "dominance") else "left")
    for name in CATEGORIES:
        v, a, d = VAD_ANCHORS[name]
        synonyms = ", ".join(sorted(s for s, target in SYNONYMS.items() if target == name))
        table.add_row(name, f"{v:+.2f}", f"{a:+.2f}", f"{d:+.2f}", ANCHOR_TERMS[name] or "-", synonyms)
    Console(width=140).print(table)
