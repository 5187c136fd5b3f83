"""``emogen recognize face``: the emotion distribution and VAD the face critic sees in a photo or a video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._apps import recognize_app
from ._common import CheckpointOpt, echo_reading, examples_epilog, handle_errors

EXAMPLES = [
    "emogen recognize face portrait.png",
    "emogen recognize face talking.mp4 --json",
]


@recognize_app.command("face", epilog=examples_epilog(EXAMPLES))
@handle_errors
def recognize_face_command(
    input: Annotated[Path, typer.Argument(help="A photo (png, jpg) or a video (mp4, mov, ...) of one frontal face.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    checkpoint: CheckpointOpt = None,
) -> None:
    """Print the emotion distribution, valence/arousal/dominance and intensity a face shows (landmark geometry).

    A video is read frame by frame (the face tracked) and its frames' embeddings are averaged.
    """
    import torch

    from emogen.errors import InputError
    from emogen.portrait.critic import load_face_critic, recognize_face

    if not input.is_file():
        msg = f"input {str(input)!r} does not exist; give a photo or a video of a face"
        raise InputError(msg)
    torch.set_num_threads(1)
    critic, bank = load_face_critic(str(checkpoint) if checkpoint is not None else None)
    seen = recognize_face(str(input), critic, bank)
    echo_reading(seen, as_json)
