"""``emogen train voice``: the recipe that reproduces ``checkpoints/voice/``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ._apps import train_app
from ._common import examples_epilog, handle_errors

EXAMPLES = [
    "emogen train voice --output checkpoints/voice",
    "emogen train voice --output runs/voice-small --encoder-epochs 5 --converter-steps 200",
    "accelerate launch -m emogen.cli.main train voice --output runs/voice-gpu",
]


@train_app.command("voice", epilog=examples_epilog(EXAMPLES))
@handle_errors
def train_voice_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the trained pipeline (diffusers layout).")] = Path("checkpoints/voice"),
    cache: Annotated[Path, typer.Option("--cache", help="WORLD/encoder feature cache (built on first use).")] = Path("runs/voice_cache/features.pkl"),
    encoder_epochs: Annotated[int, typer.Option("--encoder-epochs", min=1, help="Speech encoder epochs.")] = 40,
    converter_steps: Annotated[int, typer.Option("--converter-steps", min=1, help="Denoiser optimisation steps.")] = 4000,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Batch size of both models.")] = 32,
    seed: Annotated[int, typer.Option("--seed", help="Training seed.")] = 0,
    threads: Annotated[int, typer.Option("--threads", min=1, help="CPU threads for torch.")] = 1,
) -> None:
    """Train the speech emotion encoder and the conversion denoiser on RAVDESS (actors 01-16; 17-18 validate, 19-20 test).

    Writes the pipeline folder with the emotion bank, the encoder as `speech_critic`, the denoiser and a DDIM
    scheduler, plus scores.json (encoder accuracy/UAR, speaker probes, minutes).
    """
    import torch

    from emogen.voice.train import VoiceTrainConfig, train_voice
    from emogen.voice.train_converter import ConverterTrainConfig
    from emogen.voice.train_encoder import EncoderTrainConfig

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = VoiceTrainConfig(
        cache=str(cache),
        encoder=EncoderTrainConfig(epochs=encoder_epochs, batch_size=batch_size, seed=seed),
        converter=ConverterTrainConfig(steps=converter_steps, batch_size=batch_size, seed=seed),
    )
    scores = train_voice(output, config)
    test = scores["encoder_test"]
    typer.echo(
        f"saved {output}: encoder test accuracy {test['accuracy']:.3f}, UAR {test['uar']:.3f}; "
        f"{scores['minutes']['total']:.1f} min"
    )
