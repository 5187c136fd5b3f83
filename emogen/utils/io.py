"""Atomic output files: write to a temporary file beside the target, then rename over it.

A failed or interrupted run never leaves a partial output behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

__all__ = ["atomic_output", "check_writable"]


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` can be written (its folder exists or can be created, and is writable).

    Call it before long work so a bad ``-o`` fails at once. Raises :class:`~emogen.errors.InputError`.
    """
    target = Path(path)
    if target.is_dir():
        msg = f"output {str(target)!r} is a folder; give a file name such as {str(target / 'out')!r} plus a suffix"
        raise InputError(msg)
    parent = target.parent if str(target.parent) else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        msg = f"cannot write output {str(target)!r}: folder {str(probe)!r} is not writable; choose another -o path"
        raise InputError(msg)
    return target


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it is renamed to ``path`` (parents created).

    On any exception the temporary file is removed and ``path`` is left untouched.

    Example:
        >>> with atomic_output("out.txt") as tmp:  # doctest: +SKIP
        ...     tmp.write_text("done")
    """
    target = check_writable(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    except OSError as error:  # e.g. a read-only or virtual file system that os.access did not reveal
        msg = f"cannot write output {str(target)!r} ({error.strerror or error}); choose another -o path"
        raise InputError(msg) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the mode open() would
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
