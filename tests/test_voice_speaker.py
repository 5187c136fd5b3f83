"""The benchmark's speaker embedding (emogen.voice.speaker) on synthetic voices: pulse trains through formant
resonators, one formant set and pitch register per "speaker", varied per utterance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from emogen.voice.speaker import NUM_CEPSTRA, SpeakerEmbedding, cosine, utterance_statistics

SR = 16000
#: Synthetic speakers: (F0 in Hz, formant frequencies in Hz).
SPEAKERS = {
    "low": (110.0, (700.0, 1200.0, 2600.0)),
    "high": (220.0, (450.0, 1900.0, 3000.0)),
    "mid": (160.0, (600.0, 1500.0, 2400.0)),
    "bright": (140.0, (800.0, 1700.0, 3300.0)),
}


def synthetic_utterance(speaker: str, rng: np.random.Generator, seconds: float = 0.8) -> np.ndarray:
    """A voiced sound of ``speaker`` with utterance-level pitch, formant and level variation, silence around it."""
    f0, formants = SPEAKERS[speaker]
    n = int(seconds * SR)
    pitch = f0 * rng.uniform(0.9, 1.15) * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(2, 5) * np.arange(n) / SR))
    phase = np.cumsum(pitch / SR)
    x = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64) + 0.01 * rng.standard_normal(n)
    for f in formants:
        f = f * rng.uniform(0.97, 1.03)
        r = np.exp(-np.pi * 90.0 / SR)
        x = lfilter([1.0 - r], [1.0, -2 * r * np.cos(2 * np.pi * f / SR), r * r], x)
    x = x / np.max(np.abs(x)) * rng.uniform(0.2, 0.6)
    silence = np.zeros(int(0.15 * SR))
    return np.concatenate([silence, x, silence]).astype(np.float32)


@pytest.fixture(scope="module")
def fitted() -> tuple[SpeakerEmbedding, np.random.Generator]:
    rng = np.random.default_rng(0)
    stats, labels = [], []
    for speaker in SPEAKERS:
        for _ in range(8):
            stats.append(utterance_statistics(synthetic_utterance(speaker, rng), SR))
            labels.append(speaker)
    return SpeakerEmbedding.fit(np.stack(stats), labels), rng


def test_statistics_shape_and_rate_independence() -> None:
    x = synthetic_utterance("low", np.random.default_rng(1))
    stats = utterance_statistics(x, SR)
    assert stats.shape == (2 * NUM_CEPSTRA,)
    assert np.all(np.isfinite(stats))
    from emogen.voice.audio import resample

    assert cosine(stats, utterance_statistics(resample(x, SR, 48000), 48000)) > 0.99


def test_separates_speakers_and_is_stable(fitted: tuple[SpeakerEmbedding, np.random.Generator]) -> None:
    embedding, rng = fitted
    assert embedding.dim == len(SPEAKERS) - 1
    held_out = {s: [embedding.embed(synthetic_utterance(s, rng), SR) for _ in range(3)] for s in ("low", "high")}
    for vectors in held_out.values():
        assert all(abs(np.linalg.norm(v) - 1) < 1e-6 for v in vectors)
    same = [cosine(a, b) for vs in held_out.values() for i, a in enumerate(vs) for b in vs[i + 1 :]]
    different = [cosine(a, b) for a in held_out["low"] for b in held_out["high"]]
    assert min(same) > 0.8
    assert max(different) < min(same) - 0.3


def test_save_load_round_trip(fitted: tuple[SpeakerEmbedding, np.random.Generator], tmp_path) -> None:
    embedding, _ = fitted
    x = synthetic_utterance("mid", np.random.default_rng(2))
    folder = embedding.save(tmp_path / "speaker")
    loaded = SpeakerEmbedding.load(folder)
    assert loaded.speakers == sorted(SPEAKERS)
    np.testing.assert_allclose(loaded.embed(x, SR), embedding.embed(x, SR))
    assert '"_class_name": "SpeakerEmbedding"' in (folder / "config.json").read_text()


def test_fit_needs_two_speakers() -> None:
    with pytest.raises(ValueError, match="at least two speakers"):
        SpeakerEmbedding.fit(np.zeros((3, 2 * NUM_CEPSTRA)), ["a", "a", "a"])
