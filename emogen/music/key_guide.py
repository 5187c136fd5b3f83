"""`KeyCodeGuide`: a key for each piece, drawn for the emotion, and a per-code key classifier that steers the codes to it.

The code prior learned which notes an emotion plays but not its mode: left to itself it writes about a quarter of
its pieces in minor whatever the emotion, against 80 % of EMOPIA's angry (Q2) clips and half its sad (Q3) ones,
and neither a key profile nor a mode label as a prior input changed that (see the music model card). This module
makes the key an explicit, learned step before the codes, as a hierarchical model ``p(key | emotion) p(codes |
key, emotion)``:

* ``p(key | emotion)``: the tonic is uniform (training transposes every clip to all 12 tonics) and the mode is
  minor with the share of minor clips in the emotion's quadrant of the training data, moved from the share over
  all clips (intensity 0) to the quadrant's (intensity 1) in proportion to the intensity;
* ``p(codes | key, emotion)``: the prior's log-probabilities of each guided code column plus ``weight x log p(key |
  code) / p(key)``, a naive-Bayes key classifier per column counted on the training clips' bars under all their
  transpositions (each clip's Krumhansl-Schmuckler key): classifier guidance with a classifier made of counts.
"""

from __future__ import annotations

import re

import torch

from ..modeling import ConfigMixin, ModelMixin, register_to_config

__all__ = ["KEY_NAMES", "NUM_KEYS", "KeyCodeGuide", "format_key", "parse_key"]

#: Keys are ``12 * minor + tonic pitch class`` (C major 0, A minor 21).
NUM_KEYS = 24
_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
#: Names of the 24 keys in index order ("C major" ... "B minor").
KEY_NAMES: tuple[str, ...] = tuple(f"{t} {mode}" for mode in ("major", "minor") for t in _TONICS)
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_PATTERN = re.compile(r"^\s*([A-Ga-g])\s*([#b♯♭]?)\s*(major|minor|maj|min|m|)\s*$")


def parse_key(text: str) -> int:
    """Key index of a name such as ``"A minor"``, ``"F# major"``, ``"Bb"`` (major) or ``"c#m"``; ValueError otherwise."""
    match = _KEY_PATTERN.match(text)
    if not match:
        msg = f"unknown key {text!r}; write a tonic and a mode, e.g. 'A minor', 'F# major', 'Bb' or 'C#m'"
        raise ValueError(msg)
    letter, accidental, mode = match.groups()
    tonic = (_LETTERS[letter.upper()] + {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)) % 12
    return 12 * int(mode in ("minor", "min", "m")) + tonic


def format_key(index: int) -> str:
    """Name of key ``index`` (0..23), e.g. ``"A minor"``."""
    return KEY_NAMES[int(index)]


class KeyCodeGuide(ModelMixin, ConfigMixin):
    """Draws a key for each piece from the emotion and scores each code of the guided columns for that key.

    Args:
        columns (`list[int]`, *optional*): the code columns it guides (indices into the VQ-VAE's ``code_layout``).
        codebook_size (`int`, *optional*, defaults to 1024): codes per guided column.
        minor_share (`list[float]`, *optional*): share of minor-key training clips in quadrants Q1..Q4 (happy,
            angry, sad, calm), then over all training clips.
    """

    #: One `(columns, codes, 24)` table of log-ratios: float16 halves the file.
    _storage_dtype = torch.float16

    @register_to_config
    def __init__(self, columns: list[int] = (), codebook_size: int = 1024,
                 minor_share: list[float] = (0.5, 0.5, 0.5, 0.5, 0.5)) -> None:
        super().__init__()
        self.register_buffer("log_ratio", torch.zeros(len(columns), codebook_size, NUM_KEYS))
        self._rows = {int(c): i for i, c in enumerate(columns)}

    @classmethod
    def from_counts(cls, columns: list[int], counts: torch.Tensor, minor_share: list[float], smoothing: float = 20.0) -> KeyCodeGuide:
        """A guide from `(columns, codes, 24)` bar counts of each code under each key: ``log p(key | code) - log p(key)``,
        with ``p(key | code)`` pulled toward ``p(key)`` by ``smoothing`` pseudo-bars (rare codes say little)."""
        counts = counts.double()
        prior = counts.sum((0, 1)) / counts.sum()
        posterior = (counts + smoothing * prior) / (counts.sum(-1, keepdim=True) + smoothing)
        guide = cls(columns=[int(c) for c in columns], codebook_size=int(counts.shape[1]), minor_share=[float(s) for s in minor_share])
        guide.log_ratio.copy_((posterior.log() - prior.clamp_min(1e-12).log()).float())
        return guide

    def guides(self, column: int) -> bool:
        """Whether code column ``column`` is steered."""
        return column in self._rows

    def bonus(self, column: int, keys: torch.Tensor) -> torch.Tensor:
        """`(B, codebook_size)` log-ratios of every code of ``column`` for each piece's key `(B,)`."""
        return self.log_ratio[self._rows[column]][:, keys.to(self.log_ratio.device)].T.float()

    def minor_probability(self, valence: torch.Tensor, arousal: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
        """`(B,)` probability of a minor key: from the share over all clips at intensity 0 to the share in the
        quadrant of (valence, arousal) at intensity 1 (Q1 v>=0 a>=0, Q2 v<0 a>=0, Q3 v<0 a<0, Q4 v>=0 a<0)."""
        share = torch.tensor(self.config.minor_share, dtype=torch.float32)
        quadrant = torch.where(arousal.cpu() >= 0, torch.where(valence.cpu() >= 0, 0, 1), torch.where(valence.cpu() >= 0, 3, 2))
        a = intensity.float().cpu().clamp(0, 1)
        return share[4] + a * (share[quadrant] - share[4])

    def draw_keys(self, valence: torch.Tensor, arousal: torch.Tensor, intensity: torch.Tensor,
                  generator: torch.Generator | list[torch.Generator] | None = None) -> torch.Tensor:
        """`(B,)` keys: a uniform tonic and a mode drawn with :meth:`minor_probability`, one draw pair per piece
        (from its own generator when a list is given)."""
        b = valence.shape[0]
        if isinstance(generator, list):
            u = torch.stack([torch.rand(2, generator=g) for g in generator])
        else:
            u = torch.rand(b, 2, generator=generator)
        tonic = (u[:, 0] * 12).long().clamp(max=11)
        minor = (u[:, 1] < self.minor_probability(valence, arousal, intensity)).long()
        return 12 * minor + tonic
