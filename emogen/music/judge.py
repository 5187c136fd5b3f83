"""The evaluation judge: a classical classifier on hand-made statistics, independent of the critic.

Standardised :data:`~emogen.music.stats.STATISTIC_NAMES` (note density, pitch statistics, key-profile
major/minor correlation, velocity, inter-onset intervals, polyphony) -> multinomial logistic regression
over the four EMOPIA quadrants, trained on the official train split. It never sees the model's bar grid,
codes or critic, so generated music is not graded by the network it may have been tuned against.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.emopia import QUADRANT_CATEGORIES, QUADRANTS
from ..emotion import EmotionBank
from .stats import STATISTIC_NAMES, NoteArray, note_array, piece_statistics

__all__ = ["EmotionJudge", "statistics_matrix", "QUADRANTS"]

def statistics_matrix(pieces: list[NoteArray]) -> np.ndarray:
    """`(n, len(STATISTIC_NAMES))` statistics of notes arrays."""
    return np.array([[piece_statistics(p)[k] for k in STATISTIC_NAMES] for p in pieces], dtype=np.float64)


@dataclass
class EmotionJudge:
    """Logistic regression over standardised piece statistics (weights kept as plain arrays)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, pieces: list[NoteArray], quadrants: list[str], c: float = 0.5) -> EmotionJudge:
        """Train on notes arrays with their quadrant labels (``"Q1"``..``"Q4"``)."""
        from sklearn.linear_model import LogisticRegression

        x = statistics_matrix(pieces)
        mean, scale = x.mean(0), x.std(0) + 1e-9
        y = np.array([QUADRANTS.index(q) for q in quadrants])
        model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
        return cls(mean, scale, model.coef_, model.intercept_)

    @classmethod
    def fit_emopia(cls, split: str = "train", root: str | os.PathLike[str] | None = None) -> EmotionJudge:
        """Train on an EMOPIA split read from the original (unquantised) MIDI files."""
        from ..data.emopia import load_emopia

        clips = load_emopia(root, split=split)
        return cls.fit([note_array(c.path) for c in clips], [c.quadrant for c in clips])

    def probabilities(self, pieces: list[NoteArray]) -> np.ndarray:
        """`(n, 4)` quadrant probabilities."""
        x = (statistics_matrix(pieces) - self.mean) / self.scale
        logits = x @ self.coef.T + self.intercept
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def predict(self, pieces: list[NoteArray]) -> list[str]:
        """Most likely quadrant of each piece."""
        return [QUADRANTS[i] for i in self.probabilities(pieces).argmax(1)]

    def projected_intensity(self, pieces: list[NoteArray], category: str, bank: EmotionBank) -> np.ndarray:
        """Intensity along ``category``'s bank direction of the judge's probability-weighted embedding.

        The judge's reading is placed in the shared space as ``mu_neutral + sum_q p_q (mu_q - mu_neutral)``
        over the quadrant categories and projected with :meth:`EmotionBank.project_intensity`.
        """
        probs = torch.from_numpy(self.probabilities(pieces)).float()
        with torch.no_grad():
            emb = bank.embed_probabilities(probs, QUADRANT_CATEGORIES)
            return bank.project_intensity(emb, category).numpy()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the judge as JSON."""
        data = {k: getattr(self, k).tolist() for k in ("mean", "scale", "coef", "intercept")}
        data["features"] = list(STATISTIC_NAMES)
        Path(path).write_text(json.dumps(data))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EmotionJudge:
        """Read a judge written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        return cls(*(np.asarray(data[k]) for k in ("mean", "scale", "coef", "intercept")))
