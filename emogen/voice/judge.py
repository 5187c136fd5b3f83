"""An evaluation-only emotion judge, independent of the training critic: a logistic-regression classifier
on openSMILE eGeMAPS v02 functionals (88 features), trained on real RAVDESS recordings of the training
actors. Features are normalised per speaker by the mean of that speaker's neutral recordings, the usual
speaker normalisation in speech emotion recognition.

Needs the optional ``opensmile`` package (``pip install opensmile==2.6.0``); it runs offline.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

__all__ = ["EGeMAPSJudge", "egemaps"]

_SMILE = None


def egemaps(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """eGeMAPS v02 functionals of a mono signal, shape `(88,)`."""
    global _SMILE
    if _SMILE is None:
        import opensmile

        _SMILE = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals)
    return _SMILE.process_signal(np.asarray(audio, dtype=np.float32), sample_rate).to_numpy()[0].astype(np.float64)


@dataclass
class EGeMAPSJudge:
    """Classifier over eGeMAPS with per-speaker neutral-mean normalisation."""

    classes: list[str]
    model: object
    speaker_means: dict[int, np.ndarray]

    @classmethod
    def fit(cls, features: np.ndarray, labels: list[str], speakers: list[int], C: float = 0.5) -> EGeMAPSJudge:
        """Fit on real clips (``features`` `(N, 88)`, one label and speaker per row)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        judge = cls(classes=sorted(set(labels)), model=None, speaker_means={})
        judge.add_speakers(features, labels, speakers)
        x = judge._normalise(features, speakers)
        judge.model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
        judge.model.fit(x, labels)
        judge.classes = list(judge.model.classes_)
        return judge

    def add_speakers(self, features: np.ndarray, labels: list[str], speakers: list[int]) -> None:
        """Record the neutral-clip mean of each speaker (reference for the normalisation)."""
        groups = defaultdict(list)
        for f, label, spk in zip(features, labels, speakers):
            if label == "neutral":
                groups[spk].append(f)
        self.speaker_means.update({s: np.mean(v, axis=0) for s, v in groups.items()})

    def _normalise(self, features: np.ndarray, speakers: list[int]) -> np.ndarray:
        return np.stack([f - self.speaker_means[s] for f, s in zip(features, speakers)])

    def predict_proba(self, features: np.ndarray, speakers: list[int]) -> np.ndarray:
        """Class probabilities `(N, len(classes))`."""
        return self.model.predict_proba(self._normalise(features, speakers))

    def predict(self, features: np.ndarray, speakers: list[int]) -> list[str]:
        """Most likely class per row."""
        return [self.classes[i] for i in self.predict_proba(features, speakers).argmax(1)]
