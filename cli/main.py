"""The ``emogen`` console script: the root app, ``--version``, and the command modules it loads."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer
from typer._click import exceptions as click_errors  # typer 0.29 vendors its slice of Click

from emogen import __version__

from ._apps import app

__all__ = ["app", "main"]

#: Command modules of ``emogen.cli``; each attaches its commands to the apps in ``_apps`` on import.
COMMAND_MODULES: tuple[str, ...] = ("emotions", "info", "music", "voice", "recognize_voice", "train_music", "train_voice", "prepare_portrait", "portrait", "train_portrait", "recognize_face", "recognize_music")


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
    """Entry point of the ``emogen`` console script.

    Usage errors (an option out of range, a missing argument) print one ``error:`` line and exit 2, as
    emogen's own input errors do; ``-h`` shows the full usage.
    """
    try:
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as error:
        typer.echo(error.format_message())
        code = 0
    except click_errors.ClickException as error:
        where = f"{error.ctx.command_path}: " if getattr(error, "ctx", None) is not None else ""
        typer.echo(f"error: {where}{' '.join(error.format_message().split())} (see -h)", err=True)
        code = error.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        code = 130
    sys.exit(code or 0)


if __name__ == "__main__":  # `python -m emogen.cli.main` / `accelerate launch -m emogen.cli.main`
    main()
