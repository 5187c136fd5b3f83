"""Shared fixtures: the data folder (skipping with a reason when it is absent) and offline hub access."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data folder (``$EMOGEN_DATA`` or ``../shared/data``); skips the test when it is missing."""
    from emogen.data import data_root as find_data_root

    root = find_data_root(required=False)
    if root is None:
        pytest.skip("needs the emogen data folder: set EMOGEN_DATA or place shared/data beside the repository")
    return root
