"""The console script turns Click usage errors into one ``error:`` line and exit code 2."""

from __future__ import annotations

import shutil
import subprocess

import pytest


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["voice", "--input", "x.wav", "-o", "y.wav", "--steps", "0"], "'--steps'"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args, expected):
    script = shutil.which("emogen")
    if script is None:
        pytest.skip("the emogen console script is not installed in this environment")
    result = subprocess.run([script, *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert expected in lines[0]
