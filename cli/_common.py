"""What every command shares: option aliases, examples in the epilog, and one-line errors with exit code 2."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from emogen.errors import EmogenError

__all__ = [
    "CheckpointOpt",
    "DeviceOpt",
    "EmotionOpt",
    "MaxSecondsOpt",
    "OutputOpt",
    "QuietOpt",
    "SeedOpt",
    "ThreadsOpt",
    "cli_errors",
    "echo_reading",
    "examples_epilog",
    "fail",
    "handle_errors",
]

F = TypeVar("F", bound=Callable[..., Any])

EmotionOpt = Annotated[
    str,
    typer.Option("--emotion", "-e", help="Emotion spec: happy:0.7, happy:0.6+surprised:0.3, va:0.5,-0.2, vad:..., auto. See `emogen emotions`."),
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed; the same seed gives the same output.")]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Output file; written atomically (no partial file on failure).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (GPU when present, else CPU), cpu, cuda, cuda:N or mps.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
CheckpointOpt = Annotated[Path | None, typer.Option("--checkpoint", help="A pipeline folder (written by `emogen train`) to use instead of the shipped checkpoint.")]
ThreadsOpt = Annotated[int, typer.Option("--threads", min=1, help="CPU threads for torch (emogen's models are small: 1 is fastest on a busy CPU).")]
MaxSecondsOpt = Annotated[float, typer.Option("--max-seconds", help="Refuse longer inputs unless raised (long recordings are processed in chunks cut at pauses).")]


def examples_epilog(examples: list[str]) -> str:
    """Render a list of example command lines as an 'Examples' epilog for ``--help``."""
    lines = "\n\n".join(f"  $ {example}" for example in examples)
    return f"Examples:\n\n{lines}"


def fail(message: str) -> None:
    """Print ``error: <message>`` on one line to stderr and exit with code 2 (bad usage / bad input)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn :class:`~emogen.errors.EmogenError` into a one-line error and exit code 2.

    Other exceptions keep their traceback (exit 1); set ``EMOGEN_DEBUG=1`` to see tracebacks of
    EmogenErrors too.
    """
    try:
        yield
    except EmogenError as error:
        if os.environ.get("EMOGEN_DEBUG"):
            raise
        fail(" ".join(str(error).split()))


def handle_errors(fn: F) -> F:
    """Decorator form of :func:`cli_errors` for command functions."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with cli_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def echo_reading(reading: Any, as_json: bool) -> None:
    """Print an :class:`~emogen.emotion.EmotionReading` as one JSON object or as a table (``emogen recognize``)."""
    import json

    typer.echo(json.dumps(reading.to_dict()) if as_json else reading.format_table())
