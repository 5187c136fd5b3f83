"""Options and set-up shared by the ``emogen train`` commands (light: no torch at import)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ._apps import train_app
from ._common import ThreadsOpt, examples_epilog, handle_errors

__all__ = ["CheckpointEveryOpt", "ResumeOpt", "ThreadsOpt", "TrainOutputOpt", "TrainSeedOpt", "start_training", "train_command"]

TrainOutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Folder for the trained pipeline (diffusers layout), scores.json and the model card.")]
TrainSeedOpt = Annotated[int, typer.Option("--seed", help="Training seed (data order, noise, initialisation).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its checkpoints (kept beside --output in .<name>.train/ until the run ends).")]
CheckpointEveryOpt = Annotated[int, typer.Option("--checkpoint-every", min=1, help="Steps between checkpoints within each stage (each stage's end is always saved).")]


def start_training(threads: int) -> None:
    """Set torch's CPU threads and log training progress to stderr."""
    import logging

    import torch

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # one line per checkpoint is ours


def train_command(name: str, examples: list[str]) -> Callable[[Callable], Callable]:
    """Register an ``emogen train <name>`` command with its examples epilog and the one-line error handler."""

    def register(function: Callable) -> Callable:
        return train_app.command(name, epilog=examples_epilog(examples))(handle_errors(function))

    return register
