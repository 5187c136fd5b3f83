"""Where the training and evaluation data live: ``$EMOGEN_DATA``, else ``../shared/data`` beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataNotFoundError

__all__ = ["data_root", "dataset_dir", "repo_root"]


def repo_root() -> Path:
    """The repository root of a source checkout (the folder holding ``pyproject.toml``), else the CWD."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd()


def data_root(required: bool = True) -> Path | None:
    """The data folder: ``$EMOGEN_DATA`` if set, else ``<repo>/../shared/data``, else ``./../shared/data``.

    Raises :class:`~emogen.errors.DataNotFoundError` when ``required`` and no such folder exists.
    """
    env = os.environ.get("EMOGEN_DATA")
    candidates = [Path(env)] if env else [repo_root().parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    if required:
        where = f"EMOGEN_DATA={env!r}" if env else f"{str(candidates[0])!r}"
        msg = f"data folder not found ({where}); set EMOGEN_DATA to the folder holding ravdess-speech/, emopia/, grid-s1/, mead-style/"
        raise DataNotFoundError(msg)
    return None


def dataset_dir(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of one data set (e.g. ``"emopia"``), raising a clear error if it is missing."""
    base = Path(root) if root is not None else data_root()
    path = base / name
    if not path.is_dir():
        msg = f"data set {name!r} not found at {str(path)!r}; check EMOGEN_DATA"
        raise DataNotFoundError(msg)
    return path
