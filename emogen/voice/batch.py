"""Many recordings in one process: find the inputs of a folder or glob, plan the outputs, and run a job per file
with a progress bar, reporting a failing file and going on with the rest.

The CLI's ``emogen voice --input DIR_OR_GLOB -o OUT_DIR`` and ``emogen recognize voice DIR_OR_GLOB`` load their
model once and hand :func:`run_batch` one job per file.

Example:
    >>> inputs = find_inputs("clips/*.m4a")  # doctest: +SKIP
    >>> plan = plan_outputs(inputs, "angry", "wav")  # doctest: +SKIP
    >>> report = run_batch(inputs, lambda path: convert(path, plan[path]))  # doctest: +SKIP
    >>> report.failed  # doctest: +SKIP
    []
"""

from __future__ import annotations

import glob
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EmogenError, InputError
from .audio import AUDIO_SUFFIXES, OUTPUT_FORMATS

__all__ = ["BatchReport", "find_inputs", "input_path", "is_batch_input", "plan_outputs", "run_batch"]

logger = logging.getLogger(__name__)


def input_path(value: str) -> Path:
    """The path a command-line input names. An empty string (an unset shell variable, say) is refused with
    :class:`InputError` instead of becoming ``Path("")``, the current folder, which would then be read as a batch."""
    if not str(value).strip():
        msg = "the input is empty (an unset shell variable?); give an audio file, a folder or a quoted glob such as 'clips/*.wav'"
        raise InputError(msg)
    return Path(value)


def is_batch_input(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names many inputs: an existing folder, or a glob pattern that is not itself a file."""
    path = Path(path)
    return path.is_dir() or (glob.has_magic(str(path)) and not path.exists())


def find_inputs(pattern: str | os.PathLike[str]) -> list[Path]:
    """The files a folder (its audio and video files, not recursive) or a glob (``**`` recurses) names, sorted.

    A folder is scanned for :data:`~emogen.voice.audio.AUDIO_SUFFIXES`; a glob takes every file it matches,
    whatever its suffix (a file that is not audio then fails on its own). Raises :class:`InputError` when
    nothing matches.
    """
    path = Path(pattern)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))
        what = f"folder {str(path)!r} has no audio or video files ({', '.join(sorted(AUDIO_SUFFIXES))})"
    elif glob.has_magic(str(path)):
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        what = f"pattern {str(path)!r} matches no files"
    elif path.is_file():
        return [path]
    else:
        msg = f"input {str(path)!r} does not exist; give an audio file, a folder or a quoted glob such as 'clips/*.wav'"
        raise InputError(msg)
    if not found:
        msg = f"{what}; give a folder or a quoted glob that names recordings"
        raise InputError(msg)
    return found


def plan_outputs(inputs: Sequence[Path], out_dir: str | os.PathLike[str], fmt: str) -> dict[Path, Path]:
    """Map each input to ``out_dir/<stem>.<fmt>``; inputs that share a stem (``a.mp3``, ``a.m4a``) keep their
    suffix instead (``a.mp3.wav``, ``a.m4a.wav``).

    Raises :class:`InputError` when ``out_dir`` is a file or a new path with an audio suffix (``-o out.wav`` for a
    folder of inputs is a slip, not a folder name), when two inputs would still write the same
    output (``x/a.wav`` and ``y/a.wav`` from a recursive glob), or when an output would overwrite an input.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        msg = f"output {str(out_dir)!r} is a file; with many inputs -o names a folder (created if missing)"
        raise InputError(msg)
    suffix = out_dir.suffix.lower()
    if not out_dir.exists() and suffix in AUDIO_SUFFIXES:
        fmt_hint = f", --format {suffix[1:]} for the format" if suffix[1:] in OUTPUT_FORMATS else ""
        msg = (f"output {str(out_dir)!r} looks like an audio file, but the input is many files; give -o a folder "
               f"(e.g. -o {str(out_dir.with_suffix(''))}/{fmt_hint}) or one input file")
        raise InputError(msg)
    stems = Counter(source.stem for source in inputs)
    sources = {p.resolve(): p for p in inputs}
    plan: dict[Path, Path] = {}
    taken: dict[Path, Path] = {}
    for source in inputs:
        name = source.stem if stems[source.stem] == 1 else source.name
        target = out_dir / f"{name}.{fmt}"
        key = target.resolve()
        if key in taken:
            msg = (
                f"inputs {str(taken[key])!r} and {str(source)!r} would both be written to {str(target)!r}; "
                "rename one or convert them in two runs"
            )
            raise InputError(msg)
        if key in sources:
            msg = f"output {str(target)!r} would overwrite the input {str(sources[key])!r}; choose another -o folder or --format"
            raise InputError(msg)
        taken[key] = source
        plan[source] = target
    return plan


@dataclass
class BatchReport:
    """What :func:`run_batch` did: the results of the files that worked and one message per failed file."""

    results: dict[Path, Any] = field(default_factory=dict)
    failed: dict[Path, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed


def run_batch(
    inputs: Sequence[Path],
    job: Callable[[Path], Any],
    report: Callable[[str], None] | None = None,
    progress: bool = True,
    desc: str = "files",
) -> BatchReport:
    """Run ``job(path)`` on each input, under a progress bar of files; a failing file is reported and skipped.

    Args:
        inputs (`Sequence[Path]`): the files, in order.
        job (`Callable[[Path], Any]`): the work for one file; its return value is kept in ``results``.
        report (`Callable[[str], None]`, *optional*): receives one line per failed file,
            ``"<file>: <problem>"``; default: a log warning.
        progress (`bool`, *optional*, defaults to `True`): show a tqdm bar of files (on stderr).
        desc (`str`, *optional*, defaults to ``"files"``): the bar's label.

    An :class:`~emogen.errors.EmogenError` is reported by its message; any other exception by its type and
    message (``EMOGEN_DEBUG=1`` re-raises it with its traceback). ``KeyboardInterrupt`` stops the batch.
    """
    from tqdm import tqdm

    out = BatchReport()
    with tqdm(inputs, unit="file", desc=desc, disable=not progress) as bar:
        for path in bar:
            try:
                out.results[path] = job(path)
            except Exception as error:
                if os.environ.get("EMOGEN_DEBUG"):
                    raise
                text = str(error) if isinstance(error, EmogenError) else f"{type(error).__name__}: {error}"
                line = " ".join(text.split())
                if not line.startswith(("input ", "output ")):
                    line = f"{path}: {line}"
                out.failed[path] = line
                if report is not None:
                    bar.clear()
                    report(line)
                    bar.refresh()
                else:
                    logger.warning("%s", line)
    return out
