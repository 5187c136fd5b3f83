"""The ``emogen`` console script: the root app, ``--version``, and the command modules it loads."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from emogen import __version__

from ._apps import app

__all__ = ["app", "main"]

#: Command modules of ``emogen.cli``; each attaches its commands to the apps in ``_apps`` on import.
COMMAND_MODULES: tuple[str, ...] = ("emotions", "info", "music", "voice", "recognize_voice", "train_music", "train_voice")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"emogen {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Emotional media on a CPU: talking portraits, voice and music, steered by an emotion and an intensity.

    Emotions are specs such as happy:0.7, happy:0.6+surprised:0.3 or va:0.5,-0.2 (`emogen emotions`).
    """
    del version


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__package__}.{name}":
                raise


_load_commands()


def main() -> None:
    """Entry point of the ``emogen`` console script."""
    app()
