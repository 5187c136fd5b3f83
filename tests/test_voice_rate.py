"""The speaking-rate model: syllable nuclei, the fit, its clamp, the denoiser's config and the pipeline's durations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emogen.voice.rate import RateModel, count_syllable_nuclei, fit_rate_model
from emogen.voice.world import analyze


def syllables(n: int, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """``n`` vowel-like bursts (a harmonic tone near 150 Hz under a 160 ms Hann window, 90 ms apart) in faint noise."""
    rng = np.random.default_rng(seed)
    seg, gap = int(0.16 * sr), int(0.09 * sr)
    t = np.arange(seg) / sr
    parts = [np.zeros(int(0.2 * sr))]
    for _ in range(n):
        f0 = 140 + 20 * rng.random()
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 20))
        parts += [0.3 * tone * np.hanning(seg), np.zeros(gap)]
    x = np.concatenate([*parts, np.zeros(int(0.2 * sr))])
    return (x + 1e-4 * rng.standard_normal(len(x))).astype(np.float32)


@pytest.mark.parametrize("n", [1, 4, 9, 15])
def test_nuclei_count_the_bursts(n):
    assert count_syllable_nuclei(analyze(syllables(n), 16000)) == n


def test_nuclei_of_silence_and_of_nothing():
    quiet = analyze(np.full(8000, 1e-4, dtype=np.float32) * np.random.default_rng(0).standard_normal(8000).astype(np.float32), 16000)
    assert count_syllable_nuclei(quiet) <= 2  # noise has no nuclei worth the name, and never a sentence's worth
    empty = analyze(syllables(1), 16000)
    empty.f0, empty.mcep, empty.coded_ap = empty.f0[:0], empty.mcep[:0], empty.coded_ap[:0]
    assert count_syllable_nuclei(empty) == 0


def sample(emotion: str, amount: float, corpus: str, n: int, log_ratio: float):
    from emogen.voice.pairs import DurationPair

    return DurationPair(emotion=emotion, amount=amount, corpus=corpus, log_duration_ratio=log_ratio, source_syllables=n)


def test_fit_recovers_a_length_dependent_rate_and_weighs_corpora_equally():
    rng = np.random.default_rng(0)
    truth = {"angry": (0.05, -0.4), "sad": (0.15, -0.1)}
    samples = []
    for corpus, counts, copies in (("ravdess", (6, 7, 8), 1), ("nemo", (9, 12, 16, 20), 4)):
        for emotion, (s, u) in truth.items():
            for n in counts:
                for _ in range(copies * 10):
                    amount = rng.choice([0.6, 1.0])
                    x = np.log(n) - np.log(10.0)
                    samples.append(sample(emotion, amount, corpus, n, amount * (s + u * x) + 0.01 * rng.standard_normal()))
        samples.append(sample("neutral", 0.0, corpus, 7, 0.3))  # neutral pairs (amount 0) are ignored
    model = fit_rate_model(samples, ["neutral", "angry", "sad", "fearful"])
    assert model.slopes[0] == model.length_slopes[0] == 0.0
    assert model.slopes[3] == model.length_slopes[3] == 0.0  # no pairs
    ref = model.reference_syllables
    for index, (s, u) in ((1, truth["angry"]), (2, truth["sad"])):
        assert model.length_slopes[index] == pytest.approx(u, abs=0.02)
        assert model.slopes[index] == pytest.approx(s + u * (np.log(ref) - np.log(10.0)), abs=0.01)
    # each corpus weighs the same: the reference count is the mean of the two corpora's mean log counts
    expected = np.exp(0.5 * (np.mean(np.log([6, 7, 8])) + np.mean(np.log([9, 12, 16, 20]))))
    assert ref == pytest.approx(expected, rel=1e-6)
    assert model.syllable_range[0] >= 6 and model.syllable_range[1] <= 20
    # one corpus only: the other's pairs change nothing
    ravdess = [p for p in samples if p.corpus == "ravdess"]
    assert fit_rate_model(samples, ["neutral", "angry"], ("ravdess",)) == fit_rate_model(ravdess, ["neutral", "angry"])


def test_fit_of_one_sentence_length_has_no_length_slope():
    samples = [sample("sad", 1.0, "ravdess", 7, 0.2) for _ in range(5)]
    model = fit_rate_model(samples, ["neutral", "sad"])
    assert model.length_slopes == [0.0, 0.0]
    assert model.slopes[1] == pytest.approx(0.2)


def test_rate_model_clamps_the_length_and_scales_with_intensity():
    model = RateModel(slopes=[0.0, 0.1], length_slopes=[0.0, -0.5], reference_syllables=10.0, syllable_range=(5.0, 20.0))
    assert model.log_length(None) == 0.0
    assert model.log_length(400) == pytest.approx(np.log(2.0))  # a long stretch counts as the longest trained sentence
    assert model.log_length(1) == pytest.approx(np.log(0.5))
    assert model.log_factor(1, 1.0, 20) == pytest.approx(0.1 - 0.5 * np.log(2.0))
    assert model.log_factor(1, 0.5, 20) == pytest.approx(0.5 * model.log_factor(1, 1.0, 20))
    assert model.category_factors(["neutral", "sad"]) == {"sad": pytest.approx(np.exp(0.1))}


def test_denoiser_config_round_trip_and_length_dependent_log_rate(tmp_path):
    from emogen.voice.denoiser import VoiceConversionDenoiser

    model = RateModel(slopes=[0.0, 0.2, 0.0], length_slopes=[0.0, -0.3, 0.0], reference_syllables=9.0, syllable_range=(5.0, 20.0))
    denoiser = VoiceConversionDenoiser(hidden_channels=8, num_blocks=1, **model.to_config())
    denoiser.save_pretrained(tmp_path)
    loaded = VoiceConversionDenoiser.from_pretrained(tmp_path)
    assert loaded.rate_model == model
    weights = torch.tensor([[0.0, 1.0, 0.0]])
    short, reference, long = (float(loaded.log_rate(weights, n)[0]) for n in (5, None, 18))
    assert reference == pytest.approx(0.2)
    assert short > reference > long
    assert long == pytest.approx(0.2 - 0.3 * np.log(2.0), abs=1e-6)
    # a checkpoint from before the length term: one factor whatever the length
    old = VoiceConversionDenoiser(hidden_channels=8, num_blocks=1, rate_slopes=[0.0, 0.2, 0.0])
    assert float(old.log_rate(weights, 5)[0]) == float(old.log_rate(weights, 18)[0]) == pytest.approx(0.2)


def test_pipeline_shortens_long_sentences_more_than_short_ones():
    from emogen.testing import build_tiny_voice_pipeline

    pipe = build_tiny_voice_pipeline()
    k = pipe.emotion_bank.category_index("sad")
    slopes, length_slopes = [0.0] * pipe.emotion_bank.num_categories, [0.0] * pipe.emotion_bank.num_categories
    slopes[k], length_slopes[k] = 0.0, -0.4
    pipe.denoiser.register_to_config(**RateModel(slopes, length_slopes, 8.0, (3.0, 24.0)).to_config())
    ratios = {}
    for n in (4, 16):
        x = syllables(n)
        out = pipe(x, 16000, emotion="sad:1", num_inference_steps=2, generator=torch.Generator().manual_seed(0)).audios[0]
        ratios[n] = len(out) / len(x)
        kept = pipe(x, 16000, emotion="sad:1", num_inference_steps=2, rate=1.0, generator=torch.Generator().manual_seed(0)).audios[0]
        assert len(kept) == len(x)  # an asked rate overrides the model
    assert ratios[4] > 1.0 > ratios[16]  # (4/8)^-0.4 = 1.32 on the speech; (16/8)^-0.4 = 0.76
