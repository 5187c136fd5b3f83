"""The typer apps that command modules attach to: the root ``emogen`` app and its command groups."""

from __future__ import annotations

import typer

from ._common import examples_epilog

__all__ = ["app", "prepare_app", "recognize_app", "train_app"]

CONTEXT = {"help_option_names": ["-h", "--help"]}

ROOT_EXAMPLES = (
    "emogen emotions",
    "emogen portrait --audio speech.wav --image face.png --emotion happy:0.7 -o out.mp4",
    "emogen music --emotion happy:0.7 --bars 16 -o happy.mid",
    "emogen voice --input in.wav --emotion angry:0.8 -o angry.wav",
    "emogen recognize voice in.wav",
    "emogen recognize face photo.png",
    "emogen info",
)

app = typer.Typer(
    name="emogen",
    epilog=examples_epilog(list(ROOT_EXAMPLES)),
    help="Emotional media on a CPU: talking portraits, voice and music, steered by an emotion and an intensity.",
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train the models that ship in checkpoints/ (accelerate: the same command scales to GPUs).", context_settings=CONTEXT, no_args_is_help=True)
recognize_app = typer.Typer(help="Recognise the emotion in an input with emogen's encoders.", context_settings=CONTEXT, no_args_is_help=True)
prepare_app = typer.Typer(help="Extract training data into keyed caches (landmarks, audio features); never committed.", context_settings=CONTEXT, no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(recognize_app, name="recognize")
app.add_typer(prepare_app, name="prepare")
