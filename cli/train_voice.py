"""``emogen train voice``: the recipe that reproduces ``checkpoints/voice/``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._train_options import CheckpointEveryOpt, ResumeOpt, ThreadsOpt, TrainOutputOpt, TrainSeedOpt, start_training, train_command

EXAMPLES = [
    "emogen train voice --output checkpoints/voice",
    "emogen train voice --output checkpoints/voice --only critic     # retrain only the speech critic",
    "emogen train voice --output checkpoints/voice --only converter  # retrain only the converter",
    "emogen train voice --output runs/voice-small --encoder-epochs 5 --converter-steps 200",
    "emogen train voice --output checkpoints/voice --resume",
    "accelerate launch -m emogen.cli.main train voice --output runs/voice-gpu",
]


@train_command("voice", EXAMPLES)
def train_voice_command(
    output: TrainOutputOpt = Path("checkpoints/voice"),
    cache: Annotated[Path, typer.Option("--cache", help="Folder of the WORLD/encoder feature cache (built on first use, keyed by clips and feature config).")] = Path("runs/voice_cache"),
    only: Annotated[
        str | None,
        typer.Option("--only", help="Run one stage only, inside an existing --output folder, keeping the rest: 'critic' retrains the speech critic, 'converter' the conversion denoiser."),
    ] = None,
    encoder_epochs: Annotated[int | None, typer.Option("--encoder-epochs", min=1, help="Speech critic epochs (default: the shipped recipe's).")] = None,
    converter_steps: Annotated[int | None, typer.Option("--converter-steps", min=1, help="Denoiser optimisation steps (default: the shipped recipe's).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Batch size of both models.")] = 32,
    seed: TrainSeedOpt = 0,
    threads: ThreadsOpt = 1,
    resume: ResumeOpt = False,
    checkpoint_every: CheckpointEveryOpt = 500,
) -> None:
    """Train the speech critic and the conversion denoiser (RAVDESS actors 01-16; 17-18 validate, 19-20 test).

    Both also learn from nEMO (6 of 9 speakers; the converter from its parallel neutral -> emotion pairs);
    the critic also from augmented copies and non-speech negatives, and is calibrated on the validation
    speakers. Writes the pipeline folder with the emotion bank, the
    critic as `speech_critic`, the denoiser and a DDIM scheduler, plus scores.json (critic accuracy, UAR and
    calibration per corpus, speaker probes, minutes) and the model card. With --only critic, only
    `speech_critic/`, its scores and its card sections change; with --only converter, only `denoiser/`
    and its scores. Each stage checkpoints every
    --checkpoint-every steps; --resume continues from there.
    """
    from emogen.errors import EmogenError
    from emogen.training.voice import VOICE_STAGES, ConverterTrainConfig, VoiceTrainConfig, shipped_encoder_config, train_voice

    if only not in (None, *VOICE_STAGES):
        msg = f"--only must be one of {', '.join(VOICE_STAGES)}, got {only!r}"
        raise EmogenError(msg)
    start_training(threads)
    encoder = shipped_encoder_config(batch_size=batch_size, seed=seed, **({"epochs": encoder_epochs} if encoder_epochs else {}))
    config = VoiceTrainConfig(
        cache=str(cache),
        encoder=encoder,
        converter=ConverterTrainConfig(batch_size=batch_size, seed=seed, **({"steps": converter_steps} if converter_steps else {})),
    )
    scores = train_voice(output, config, resume=resume, checkpoint_every=checkpoint_every, only=only)
    if only == "converter":
        pairs = ", ".join(f"{k} {v}" for k, v in scores["num_pairs_per_corpus"].items())
        typer.echo(f"saved {output}/denoiser: {scores['num_pairs']} pairs ({pairs}); {scores['minutes']['converter']:.1f} min training")
        return
    test = scores["encoder_test"]
    critic = scores.get("critic", {})
    nemo = critic.get("nemo_test_clean")
    extra = f", nEMO test accuracy {nemo['accuracy']:.3f} (ECE {nemo['ece_after']:.3f})" if nemo else ""
    typer.echo(
        f"saved {output}{'/speech_critic' if only else ''}: RAVDESS test accuracy {test['accuracy']:.3f}, UAR {test['uar']:.3f}{extra}; "
        f"{scores['minutes'].get('critic_total', scores['minutes'].get('total', 0.0)):.1f} min"
    )
