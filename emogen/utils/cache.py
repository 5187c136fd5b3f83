"""Caches keyed by a hash of their inputs, written atomically.

A cache file's name carries a hash of everything it was computed from: the input files (path and contents
of each, so a fresh copy of the same data, with new modification times, reuses the cache), the
configuration of the computation and a code version that is bumped when the computation changes. A
changed input gives a new file instead of silently reusing stale results, and a failed or interrupted
build leaves no file behind.

Example:
    >>> key = cache_key(sorted(Path("clips").glob("*.flac")), {"sample_rate": 16000}, "1")  # doctest: +SKIP
    >>> features = load_or_build("runs/cache", "features", key, compute_features)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .io import atomic_output

__all__ = ["cache_key", "cache_path", "load_or_build"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def cache_key(files: Iterable[str | os.PathLike[str]], config: Mapping[str, Any], version: str) -> str:
    """A SHA-256 hex digest of the input files, the configuration and the code version.

    Args:
        files (iterable of paths): the inputs; each contributes its absolute path and a SHA-256 of its
            contents, in the given order (hashing reads the files: about 1 s for 100 MB).
        config (`Mapping`): the settings of the computation, hashed as JSON with sorted keys (values must
            be JSON-serialisable; tuples count as lists, paths are written as strings).
        version (`str`): the code version of the computation; bump it when the computation changes.

    Returns:
        `str`: 64 hexadecimal characters.
    """
    digest = hashlib.sha256()
    digest.update(f"version={version}\n".encode())
    digest.update(json.dumps(dict(config), sort_keys=True, default=str).encode())
    digest.update(b"\n")
    for file in files:
        path = Path(file).resolve()
        with path.open("rb") as handle:
            contents = hashlib.file_digest(handle, "sha256").hexdigest()
        digest.update(f"{path}\0{contents}\n".encode())
    return digest.hexdigest()


def cache_path(cache_dir: str | os.PathLike[str], name: str, key: str) -> Path:
    """The file :func:`load_or_build` uses: ``<cache_dir>/<name>-<key[:16]>.pkl``."""
    return Path(cache_dir) / f"{name}-{key[:16]}.pkl"


def load_or_build(cache_dir: str | os.PathLike[str], name: str, key: str, build: Callable[[], T]) -> T:
    """Load the cached value for ``key``, or call ``build()`` and pickle its result atomically.

    Args:
        cache_dir (`str` or `os.PathLike`): the cache folder (created when needed).
        name (`str`): what is cached, the start of the file name.
        key (`str`): the hash of the inputs, from :func:`cache_key`.
        build (`Callable[[], T]`): computes the value on a miss; if it raises, no file is written.

    Returns:
        The cached or freshly built value.
    """
    path = cache_path(cache_dir, name, key)
    if path.is_file():
        logger.info("reusing cache %s", path)
        with path.open("rb") as handle:
            return pickle.load(handle)
    value = build()
    with atomic_output(path) as tmp, tmp.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    logger.info("wrote cache %s", path)
    return value
