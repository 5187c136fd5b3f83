"""``emogen train voice``: the recipe that reproduces ``checkpoints/voice/``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._train_options import CheckpointEveryOpt, ResumeOpt, ThreadsOpt, TrainOutputOpt, TrainSeedOpt, start_training, train_command

EXAMPLES = [
    "emogen train voice --output checkpoints/voice",
    "emogen train voice --output runs/voice-small --encoder-epochs 5 --converter-steps 200",
    "emogen train voice --output checkpoints/voice --resume",
    "accelerate launch -m emogen.cli.main train voice --output runs/voice-gpu",
]


@train_command("voice", EXAMPLES)
def train_voice_command(
    output: TrainOutputOpt = Path("checkpoints/voice"),
    cache: Annotated[Path, typer.Option("--cache", help="Folder of the WORLD/encoder feature cache (built on first use, keyed by clips and feature config).")] = Path("runs/voice_cache"),
    encoder_epochs: Annotated[int, typer.Option("--encoder-epochs", min=1, help="Speech encoder epochs.")] = 40,
    converter_steps: Annotated[int, typer.Option("--converter-steps", min=1, help="Denoiser optimisation steps.")] = 4000,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Batch size of both models.")] = 32,
    seed: TrainSeedOpt = 0,
    threads: ThreadsOpt = 1,
    resume: ResumeOpt = False,
    checkpoint_every: CheckpointEveryOpt = 500,
) -> None:
    """Train the speech emotion encoder and the conversion denoiser on RAVDESS (actors 01-16; 17-18 validate, 19-20 test).

    Writes the pipeline folder with the emotion bank, the encoder as `speech_critic`, the denoiser and a DDIM
    scheduler, plus scores.json (encoder accuracy/UAR, speaker probes, minutes) and the model card. Each
    stage checkpoints every --checkpoint-every steps; --resume continues from there.
    """
    from emogen.training.voice import ConverterTrainConfig, EncoderTrainConfig, VoiceTrainConfig, train_voice

    start_training(threads)
    config = VoiceTrainConfig(
        cache=str(cache),
        encoder=EncoderTrainConfig(epochs=encoder_epochs, batch_size=batch_size, seed=seed),
        converter=ConverterTrainConfig(steps=converter_steps, batch_size=batch_size, seed=seed),
    )
    scores = train_voice(output, config, resume=resume, checkpoint_every=checkpoint_every)
    test = scores["encoder_test"]
    typer.echo(
        f"saved {output}: encoder test accuracy {test['accuracy']:.3f}, UAR {test['uar']:.3f}; "
        f"{scores['minutes']['total']:.1f} min"
    )
