"""``emogen train music``: the recipe that reproduces ``checkpoints/music/``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ._train_options import CheckpointEveryOpt, ResumeOpt, ThreadsOpt, TrainOutputOpt, TrainSeedOpt, start_training, train_command

EXAMPLES = [
    "emogen train music --output checkpoints/music",
    "emogen train music --output runs/music-small --small",
    "emogen train music --output checkpoints/music --resume",
    "emogen train music --output checkpoints/music --only critic   # retrain the critic, keep VQ-VAE and prior",
    "emogen train music --output checkpoints/music --only prior    # retrain the prior on the folder's VQ-VAE codes",
    "emogen train music --output checkpoints/music --only prior-inner   # retrain only the prior's in-bar transformer",
    "emogen train music --output checkpoints/music --only key      # refit the key guide on the folder's VQ-VAE codes",
    "emogen train music --output checkpoints/music --only realism  # refit the critic's realism head on the folder's music",
    "accelerate launch -m emogen.cli.main train music --output runs/music-gpu",
]


class Stage(str, Enum):
    """A stage that ``--only`` retrains on its own."""

    prior = "prior"
    prior_inner = "prior-inner"
    key = "key"
    critic = "critic"
    realism = "realism"


@train_command("music", EXAMPLES)
def train_music_command(
    output: TrainOutputOpt = Path("checkpoints/music"),
    vq_steps: Annotated[int, typer.Option("--vq-steps", min=1, help="VQ-VAE optimisation steps.")] = 8000,
    prior_steps: Annotated[int, typer.Option("--prior-steps", min=1, help="Prior optimisation steps (first phase: the bar transformer).")] = 3000,
    prior_inner_steps: Annotated[int, typer.Option("--prior-inner-steps", min=1, help="Steps of the prior's second phase (the in-bar transformer, bar transformer frozen).")] = 1000,
    critic_steps: Annotated[int, typer.Option("--critic-steps", min=1, help="Critic optimisation steps.")] = 1000,
    small: Annotated[bool, typer.Option("--small", help="A tiny, fast configuration (for tests; not a useful model).")] = False,
    only: Annotated[Stage | None, typer.Option("--only", help="Retrain only this stage in the existing --output folder; the other models, the bank and the model card are kept, scores.json is updated.")] = None,
    seed: TrainSeedOpt = 0,
    threads: ThreadsOpt = 1,
    resume: ResumeOpt = False,
    checkpoint_every: CheckpointEveryOpt = 500,
) -> None:
    """Train the element VQ-VAE, the emotion-conditioned code prior and the music critic on EMOPIA.

    Official split: train fits, val selects the critic, test is only scored. Writes the pipeline folder
    plus scores.json (reconstruction, prior likelihood, critic test accuracy, minutes) and the model card.
    Each stage checkpoints every --checkpoint-every steps; --resume continues from there.
    --only critic / --only prior retrains just that model of an existing folder (the others untouched);
    --only prior-inner retrains the prior's second phase on the folder's prior; --only key refits the key guide;
    --only realism refits the critic's realism head (real clips against the folder's own generated music).
    """
    from emogen.training.music import MusicTrainConfig, retrain_music_stage, train_music

    start_training(threads)
    if small:
        config = MusicTrainConfig(codebook_sizes=(16, 16, 8, 8), codes_per_element=(2, 2, 1, 1), slots_per_bar=2, latent_dim=8, vq_hidden=32, vq_steps=min(vq_steps, 20), vq_batch=64,
                                  prior_d_model=32, prior_layers=1, prior_heads=2, prior_bars=8, prior_steps=min(prior_steps, 20),
                                  prior_inner_steps=min(prior_inner_steps, 10),
                                  prior_batch=8, critic_hidden=16, critic_steps=min(critic_steps, 30), critic_batch=8,
                                  critic_realism_pieces=16, critic_realism_bars=4, transpositions=(0,), seed=seed, max_clips=24)
    else:
        config = MusicTrainConfig(vq_steps=vq_steps, prior_steps=prior_steps, prior_inner_steps=prior_inner_steps, critic_steps=critic_steps, seed=seed)
    if only is not None:
        scores = retrain_music_stage(output, only.value, config, resume=resume, checkpoint_every=checkpoint_every)
        stage_minutes = ("critic", "realism") if only.value == "critic" else (only.value.replace("-", "_"),)
        minutes = sum(v for k, v in scores["minutes"].items() if k.startswith(stage_minutes))
    else:
        scores = train_music(output, config, resume=resume, checkpoint_every=checkpoint_every)
        minutes = scores["minutes"]["total"]
    test = scores["critic"]["test"]
    typer.echo(f"saved {output}: critic test quadrant accuracy {test['quadrant']:.3f} "
               f"(arousal {test['arousal']:.3f}, valence {test['valence']:.3f}); {minutes:.1f} min")
