"""An evaluation speaker embedding: utterance statistics of the cepstrum projected by LDA onto speaker directions.

Each utterance becomes one vector (:func:`utterance_statistics`): the mean and standard deviation over its
speech frames of cepstral coefficients 1-19 of the project's log-mel spectrogram
(:func:`~emogen.voice.features.log_mel`; coefficient 0, the level, is left out). Linear discriminant
analysis over many speakers, each recorded in every emotion, keeps the directions along which speakers
differ more than one speaker's emotions do; embeddings are those coordinates scaled to unit length, compared
by cosine similarity. It is a measuring instrument for the voice benchmark (does a conversion still sound
like its speaker?), trained on speakers other than those it measures: :func:`fit_speaker_embedding` uses
RAVDESS actors 01-16 and the nEMO speakers, so RAVDESS 17-20 stay unseen.

Example:
    >>> embedding = fit_speaker_embedding(cache_dir="runs/voice_cache")  # doctest: +SKIP
    >>> a, b = embedding.embed(clip_a, 16000), embedding.embed(clip_b, 16000)  # doctest: +SKIP
    >>> float(a @ b)  # cosine similarity, 1 = same direction  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .audio import MODEL_SAMPLE_RATE, load_audio, resample, to_mono, trim_silence
from .features import log_mel

__all__ = [
    "NUM_CEPSTRA",
    "SPEAKER_STATS_VERSION",
    "SpeakerEmbedding",
    "cosine",
    "fit_speaker_embedding",
    "speaker_training_clips",
    "utterance_statistics",
]

logger = logging.getLogger(__name__)

#: Cepstral coefficients per frame (1..NUM_CEPSTRA of the log-mel DCT; 0 is the level and left out).
NUM_CEPSTRA = 19
#: Frames quieter than the utterance's loudest by more than this (dB) are left out of the statistics.
SPEECH_TOP_DB = 30.0
#: Version of :func:`utterance_statistics` (part of the cache key): bump it when its output changes.
SPEAKER_STATS_VERSION = "1"
#: RAVDESS actors the embedding is trained on (17-20 are the voice model's validation and test actors).
TRAIN_ACTORS = tuple(range(1, 17))


def utterance_statistics(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean and standard deviation of cepstra 1..:data:`NUM_CEPSTRA` over the speech frames of one utterance.

    Args:
        audio (`np.ndarray`): mono `(samples,)` or `(samples, channels)` float audio.
        sample_rate (`int`): its sample rate; analysed at 16 kHz.

    Returns:
        `np.ndarray` of shape `(2 * NUM_CEPSTRA,)`, float64.
    """
    from scipy.fft import dct

    x = resample(to_mono(np.asarray(audio, dtype=np.float32)), sample_rate, MODEL_SAMPLE_RATE)
    start, end = trim_silence(x, MODEL_SAMPLE_RATE)
    mel = log_mel(x[start:end], MODEL_SAMPLE_RATE).astype(np.float64)
    level = np.log(np.exp(mel - mel.max()).sum(axis=1)) + mel.max()  # frame log-power (natural log)
    speech = mel[level > level.max() - SPEECH_TOP_DB * np.log(10) / 10]
    cep = dct(speech, type=2, norm="ortho", axis=1)[:, 1 : NUM_CEPSTRA + 1]
    return np.concatenate([cep.mean(axis=0), cep.std(axis=0)])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors."""
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


class SpeakerEmbedding:
    """Standardised utterance statistics projected onto LDA speaker directions, scaled to unit length.

    Args:
        mean (`np.ndarray` of shape `(stats,)`): mean of the training statistics.
        scale (`np.ndarray` of shape `(stats,)`): their standard deviation.
        projection (`np.ndarray` of shape `(stats, dim)`): LDA directions (within-speaker whitened).
        center (`np.ndarray` of shape `(dim,)`): mean of the projected training statistics, removed before
            length normalisation.
        speakers (`list[str]`, *optional*): the training speakers, for the record.
    """

    weights_name = "speaker_embedding.npz"
    config_name = "config.json"

    def __init__(self, mean: np.ndarray, scale: np.ndarray, projection: np.ndarray, center: np.ndarray, speakers: Sequence[str] = ()) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.projection = np.asarray(projection, dtype=np.float64)
        self.center = np.asarray(center, dtype=np.float64)
        self.speakers = [str(s) for s in speakers]
        if self.projection.shape[0] != self.mean.shape[0] or self.center.shape[0] != self.projection.shape[1]:
            msg = f"projection of shape {self.projection.shape} does not fit mean {self.mean.shape} and center {self.center.shape}"
            raise ValueError(msg)

    @property
    def dim(self) -> int:
        """Embedding dimensions."""
        return int(self.projection.shape[1])

    @classmethod
    def fit(cls, statistics: np.ndarray, speakers: Sequence[str], dim: int | None = None) -> SpeakerEmbedding:
        """Fit on utterance statistics `(utterances, stats)` labelled by speaker (at least two speakers).

        ``dim`` defaults to the number of speakers minus one (at most the number of statistics).
        """
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        stats = np.asarray(statistics, dtype=np.float64)
        names = sorted(set(speakers))
        if len(names) < 2 or len(speakers) != len(stats):
            msg = f"fit needs one speaker label per utterance and at least two speakers, got {len(speakers)} labels for {len(stats)} utterances of {len(names)} speaker(s)"
            raise ValueError(msg)
        mean, scale = stats.mean(axis=0), stats.std(axis=0) + 1e-8
        z = (stats - mean) / scale
        dim = min(dim or len(names) - 1, len(names) - 1, stats.shape[1])
        lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(z, list(speakers))
        projection = lda.scalings_[:, :dim]
        return cls(mean, scale, projection, (z @ projection).mean(axis=0), names)

    def embed_statistics(self, statistics: np.ndarray) -> np.ndarray:
        """Unit-length embeddings of statistics `(stats,)` or `(n, stats)`."""
        y = ((np.asarray(statistics, dtype=np.float64) - self.mean) / self.scale) @ self.projection - self.center
        return y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-12)

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Unit-length embedding `(dim,)` of one utterance."""
        return self.embed_statistics(utterance_statistics(audio, sample_rate))

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` (sorted, stamped with ``_class_name`` and ``_emogen_version``) and the arrays."""
        from .. import __version__
        from ..utils.io import atomic_output

        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        config = {"_class_name": type(self).__name__, "_emogen_version": __version__, "dim": self.dim,
                  "num_cepstra": NUM_CEPSTRA, "speakers": self.speakers, "stats_version": SPEAKER_STATS_VERSION}
        with atomic_output(path / self.config_name) as tmp:
            tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        with atomic_output(path / self.weights_name) as tmp, tmp.open("wb") as handle:
            np.savez(handle, mean=self.mean, scale=self.scale, projection=self.projection, center=self.center)
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> SpeakerEmbedding:
        """Read what :meth:`save` wrote."""
        path = Path(folder)
        config = json.loads((path / cls.config_name).read_text())
        if config.get("stats_version") != SPEAKER_STATS_VERSION:
            msg = f"speaker embedding in {str(path)!r} was fitted on statistics version {config.get('stats_version')!r}, this code computes {SPEAKER_STATS_VERSION!r}; fit it again"
            raise ValueError(msg)
        with np.load(path / cls.weights_name) as arrays:
            return cls(arrays["mean"], arrays["scale"], arrays["projection"], arrays["center"], config.get("speakers", ()))


def speaker_training_clips(root: str | os.PathLike[str] | None = None, nemo_per_emotion: int = 0) -> list[tuple[Path, str]]:
    """The embedding's training clips as ``(path, speaker)``: every clip of RAVDESS actors 01-16 and, per nEMO
    speaker and emotion, the first ``nemo_per_emotion`` clips (all nine speakers; 0 leaves nEMO out)."""
    from ..data import load_ravdess
    from ..data.nemo import load_nemo

    clips = [(c.path, f"ravdess-{c.actor:02d}") for c in load_ravdess(root, actors=set(TRAIN_ACTORS))]
    if nemo_per_emotion > 0:
        taken: dict[tuple[str, str], int] = defaultdict(int)
        for clip in load_nemo(root):
            if taken[(clip.speaker, clip.emotion)] < nemo_per_emotion:
                taken[(clip.speaker, clip.emotion)] += 1
                clips.append((clip.path, f"nemo-{clip.speaker}"))
    return clips


def fit_speaker_embedding(cache_dir: str | os.PathLike[str] | None = None, root: str | os.PathLike[str] | None = None, nemo_per_emotion: int = 0) -> SpeakerEmbedding:
    """Fit the benchmark's speaker embedding on :func:`speaker_training_clips`.

    Args:
        cache_dir (`str` or `os.PathLike`, *optional*): where the clips' statistics are cached (a file named by
            a hash of the clips, the settings and :data:`SPEAKER_STATS_VERSION`); no cache when omitted.
        root (`str` or `os.PathLike`, *optional*): the data folder (default: found as in :func:`~emogen.data.data_root`).
        nemo_per_emotion (`int`, *optional*, defaults to 0): nEMO clips per speaker and emotion.
    """
    from ..utils.cache import cache_key, load_or_build

    clips = speaker_training_clips(root, nemo_per_emotion)

    def build() -> np.ndarray:
        return np.stack([utterance_statistics(*_read(path)) for path, _ in clips])

    if cache_dir is None:
        stats = build()
    else:
        config = {"sample_rate": MODEL_SAMPLE_RATE, "num_cepstra": NUM_CEPSTRA, "speech_top_db": SPEECH_TOP_DB}
        stats = load_or_build(cache_dir, "speaker-stats", cache_key([p for p, _ in clips], config, SPEAKER_STATS_VERSION), build)
    return SpeakerEmbedding.fit(stats, [s for _, s in clips])


def _read(path: Path) -> tuple[np.ndarray, int]:
    audio, sample_rate = load_audio(path)
    return to_mono(audio), sample_rate
