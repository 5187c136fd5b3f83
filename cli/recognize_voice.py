"""``emogen recognize voice``: the emotion distribution and VAD the speech encoder hears in a recording."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._apps import recognize_app
from ._common import CheckpointOpt, MaxSecondsOpt, echo_reading, examples_epilog, handle_errors

EXAMPLES = [
    "emogen recognize voice speech.wav",
    "emogen recognize voice speech.flac --json",
]


@recognize_app.command("voice", epilog=examples_epilog(EXAMPLES))
@handle_errors
def recognize_voice(
    input: Annotated[Path, typer.Argument(help="Speech recording: anything soundfile reads, any rate, mono or stereo.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    max_seconds: MaxSecondsOpt = 600.0,
    checkpoint: CheckpointOpt = None,
) -> None:
    """Print the emotion distribution, valence/arousal/dominance and intensity heard in a voice clip."""
    import torch

    from emogen.voice.audio import load_audio
    from emogen.voice.recognize import load_speech_encoder, recognize_emotion

    torch.set_num_threads(1)  # a small model: one thread is fastest, and never oversubscribes a busy CPU
    audio, sample_rate = load_audio(input, max_seconds=max_seconds)
    encoder, bank = load_speech_encoder(str(checkpoint) if checkpoint is not None else None)
    heard = recognize_emotion(audio, sample_rate, encoder, bank)
    echo_reading(heard, as_json)
