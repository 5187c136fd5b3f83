"""``emogen recognize music``: the emotion distribution and VAD the music critic hears in a MIDI file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._apps import recognize_app
from ._common import CheckpointOpt, echo_reading, examples_epilog, handle_errors

EXAMPLES = [
    "emogen recognize music piece.mid",
    "emogen recognize music piece.mid --json",
]


@recognize_app.command("music", epilog=examples_epilog(EXAMPLES))
@handle_errors
def recognize_music_command(
    input: Annotated[Path, typer.Argument(help="A MIDI file (.mid, .midi); its first 64 bars (2 s each) are read.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    checkpoint: CheckpointOpt = None,
) -> None:
    """Print the emotion distribution over the four EMOPIA quadrants (happy, angry, sad, calm), valence,
    arousal, dominance and intensity the music critic hears: the encoder that reranks `emogen music
    --candidates` (test quadrant accuracy 0.66). A piece unlike the EMOPIA piano music it learned (a lone note, a
    plain scale, a cluster) is reported as uncertain, with its best guess."""
    import torch

    from emogen.music.critic import load_music_critic, recognize_music

    torch.set_num_threads(1)
    critic, bank = load_music_critic(str(checkpoint) if checkpoint is not None else None)
    echo_reading(recognize_music(str(input), critic, bank), as_json)
