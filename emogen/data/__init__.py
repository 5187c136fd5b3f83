"""Readers for the data sets in ``$EMOGEN_DATA`` (default ``../shared/data``)."""

from .emopia import QUADRANT_EMOTIONS, QUADRANT_VA, EmopiaClip, load_emopia
from .grid import GridClip, WordTiming, load_grid, read_align
from .mead import MeadClip, load_mead, parse_mead_name
from .paths import data_root, dataset_dir, repo_root
from .ravdess import RAVDESS_EMOTIONS, RavdessClip, load_ravdess, parallel_pairs, parse_ravdess_name

__all__ = [
    "QUADRANT_EMOTIONS",
    "QUADRANT_VA",
    "RAVDESS_EMOTIONS",
    "EmopiaClip",
    "GridClip",
    "MeadClip",
    "RavdessClip",
    "WordTiming",
    "data_root",
    "dataset_dir",
    "load_emopia",
    "load_grid",
    "load_mead",
    "load_ravdess",
    "parallel_pairs",
    "parse_mead_name",
    "parse_ravdess_name",
    "read_align",
    "repo_root",
]
