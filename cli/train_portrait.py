"""``emogen train portrait``: the recipe that reproduces ``checkpoints/portrait/``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ._train_options import CheckpointEveryOpt, ResumeOpt, ThreadsOpt, TrainOutputOpt, TrainSeedOpt, start_training, train_command

EXAMPLES = [
    "emogen train portrait --output checkpoints/portrait",
    "emogen train portrait --output runs/portrait-small --motion-steps 300 --critic-steps 100",
    "emogen train portrait --output checkpoints/portrait --resume",
    "emogen train portrait --output checkpoints/portrait --only critic   # retrain and recalibrate only the face critic (seconds)",
]


@train_command("portrait", EXAMPLES)
def train_portrait_command(
    output: TrainOutputOpt = Path("checkpoints/portrait"),
    cache: Annotated[Path, typer.Option("--cache", help="Folder of the landmark/audio cache (`emogen prepare portrait`; built on first use).")] = Path("runs/portrait_cache"),
    grid_limit: Annotated[int | None, typer.Option("--grid-limit", min=1, help="Use this many GRID clips (all when omitted).")] = None,
    motion_steps: Annotated[int, typer.Option("--motion-steps", min=1, help="Motion denoiser optimisation steps.")] = 6000,
    critic_steps: Annotated[int, typer.Option("--critic-steps", min=1, help="Face critic optimisation steps.")] = 1500,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Batch size of the motion denoiser.")] = 32,
    seed: TrainSeedOpt = 0,
    threads: ThreadsOpt = 1,
    resume: ResumeOpt = False,
    checkpoint_every: CheckpointEveryOpt = 500,
    only: Annotated[Literal["critic"] | None, typer.Option("--only", help="Retrain only the face critic inside an existing --output folder (its calibration too); the motion denoiser, the bank and the model card are kept, scores.json is updated.")] = None,
) -> None:
    """Train the face critic (MEAD) and the landmark-motion denoiser (GRID lip sync + MEAD expressions).

    Writes the pipeline folder with the motion denoiser, a DDIM scheduler, the emotion bank and the face
    critic, plus scores.json (held-out GRID lip sync vs a still face, critic accuracy on a held-out
    identity, minutes) and the model card. Each stage checkpoints every --checkpoint-every steps;
    --resume continues from there. The critic's temperature is fitted on the held-out identity's frames.
    --only critic retrains just the face critic of an existing folder.
    """
    from emogen.training.portrait import CriticTrainConfig, MotionTrainConfig, PortraitTrainConfig, retrain_portrait_critic, train_portrait

    start_training(threads)
    config = PortraitTrainConfig(
        cache=str(cache),
        grid_limit=grid_limit,
        motion=MotionTrainConfig(steps=motion_steps, batch_size=batch_size, seed=seed),
        critic=CriticTrainConfig(steps=critic_steps, seed=seed),
    )
    if only == "critic":
        critic = retrain_portrait_critic(output, config)["critic_validation"]
        typer.echo(f"saved {output}/face_critic: held-out frame accuracy {critic.get('frame_accuracy_absolute', float('nan')):.2f}, "
                   f"temperature {critic.get('calibration_temperature', float('nan')):.2f}, ECE {critic.get('frame_ece_before_absolute', float('nan')):.3f} -> "
                   f"{critic.get('frame_ece_after_absolute', float('nan')):.3f}")
        return
    scores = train_portrait(output, config, resume=resume, checkpoint_every=checkpoint_every)
    lip = scores["lip_sync"]
    typer.echo(
        f"saved {output}: held-out M-LMD {lip['m_lmd']:.4f} (still face {lip['m_lmd_still_face']:.4f}), "
        f"critic frame accuracy {scores['critic_validation'].get('frame_accuracy_absolute', float('nan')):.2f}; "
        f"{scores['minutes']['total']:.1f} min"
    )
