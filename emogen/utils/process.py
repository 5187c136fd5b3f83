"""How to run the ``emogen`` command as a separate process (benchmarks time it as a user meets it)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["emogen_command"]


def emogen_command() -> list[str]:
    """The argv prefix that runs the ``emogen`` CLI: the console script beside this interpreter, else the one
    on ``PATH``, else ``python -m emogen.cli.main`` (a source checkout without the script installed)."""
    beside = Path(sys.executable).with_name("emogen")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("emogen")
    return [found] if found else [sys.executable, "-m", "emogen.cli.main"]
