"""``emogen train music``: the recipe that reproduces ``checkpoints/music/``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ._apps import train_app
from ._common import examples_epilog, handle_errors

EXAMPLES = [
    "emogen train music --output checkpoints/music",
    "emogen train music --output runs/music-small --small",
    "accelerate launch -m emogen.cli.main train music --output runs/music-gpu",
]


@train_app.command("music", epilog=examples_epilog(EXAMPLES))
@handle_errors
def train_music_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the trained pipeline (diffusers layout).")] = Path("checkpoints/music"),
    vq_steps: Annotated[int, typer.Option("--vq-steps", min=1, help="VQ-VAE optimisation steps.")] = 2500,
    prior_steps: Annotated[int, typer.Option("--prior-steps", min=1, help="Prior optimisation steps.")] = 3000,
    critic_steps: Annotated[int, typer.Option("--critic-steps", min=1, help="Critic optimisation steps.")] = 1200,
    small: Annotated[bool, typer.Option("--small", help="A tiny, fast configuration (for tests; not a useful model).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Training seed.")] = 0,
    threads: Annotated[int, typer.Option("--threads", min=1, help="CPU threads for torch.")] = 1,
) -> None:
    """Train the element VQ-VAE, the emotion-conditioned code prior and the music critic on EMOPIA.

    Official split: train fits, val selects the critic, test is only scored. Writes the pipeline folder
    plus scores.json (reconstruction, prior likelihood, critic test accuracy, minutes).
    """
    import torch

    from emogen.music.train import MusicTrainConfig, train_music

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if small:
        config = MusicTrainConfig(codebook_sizes=(16, 16, 8, 8), latent_dim=8, vq_hidden=32, vq_steps=min(vq_steps, 20), vq_batch=64,
                                  prior_d_model=32, prior_layers=1, prior_heads=2, prior_bars=8, prior_steps=min(prior_steps, 20),
                                  prior_batch=8, critic_hidden=16, critic_steps=min(critic_steps, 30), critic_batch=8,
                                  transpositions=(0,), seed=seed, max_clips=24)
    else:
        config = MusicTrainConfig(vq_steps=vq_steps, prior_steps=prior_steps, critic_steps=critic_steps, seed=seed)
    scores = train_music(output, config)
    test = scores["critic"]["test"]
    typer.echo(f"saved {output}: critic test quadrant accuracy {test['quadrant']:.3f} "
               f"(arousal {test['arousal']:.3f}, valence {test['valence']:.3f}); {scores['minutes']['total']:.1f} min")
