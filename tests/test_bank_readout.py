"""One bank read-out: EmotionBank.posterior / EmotionBank.read over a critic's own categories."""

from __future__ import annotations

import pytest
import torch

from emogen.data.emopia import QUADRANT_CATEGORIES
from emogen.data.ravdess import RAVDESS_CATEGORIES
from emogen.emotion import EmotionBank
from emogen.emotion.reading import EmotionReading
from emogen.errors import EmotionSpecError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def bank() -> EmotionBank:
    return EmotionBank()


@pytest.fixture(scope="module")
def embeddings(bank) -> torch.Tensor:
    return bank.condition_batch(["angry:0.8", "sad:0.3", "neutral", "happy:0.5+surprised:0.4", "va:-0.3,0.2"]).embedding


@pytest.mark.parametrize("categories", [None, RAVDESS_CATEGORIES, QUADRANT_CATEGORIES])
def test_posterior_sums_to_one_over_the_categories(bank, embeddings, categories):
    probs = bank.posterior(embeddings, categories)
    assert probs.shape == (len(embeddings), len(categories or bank.categories))
    torch.testing.assert_close(probs.sum(-1), torch.ones(len(embeddings)))


def test_posterior_is_the_restricted_softmax_in_the_given_order(bank, embeddings):
    order = ["sad", "neutral", "angry"]
    expected = torch.softmax(bank.log_likelihood(embeddings)[:, [bank.category_index(n) for n in order]], -1)
    assert torch.equal(bank.posterior(embeddings, order), expected)
    assert torch.equal(bank.posterior(embeddings), bank.probabilities(embeddings))


def test_posterior_rejects_unknown_categories(bank, embeddings):
    with pytest.raises(EmotionSpecError, match="not in this bank"):
        bank.posterior(embeddings, ["neutral", "bored"])


def test_read_returns_one_reading_per_row(bank, embeddings):
    readings = bank.read(embeddings, RAVDESS_CATEGORIES)
    assert len(readings) == len(embeddings) and all(isinstance(r, EmotionReading) for r in readings)
    for reading in readings:
        assert list(reading.probabilities) == list(RAVDESS_CATEGORIES)
        assert sum(reading.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert reading.category == max(reading.probabilities, key=reading.probabilities.get)
        assert 0.0 <= reading.intensity <= 1.0 and len(reading.vad) == 3
    assert readings[0].category == "angry" and readings[0].intensity == pytest.approx(0.8, abs=1e-4)
    assert readings[0].spec.format() == "angry:0.8"
    assert readings[2].category == "neutral" and readings[2].intensity == 0.0
    assert readings[2].spec.format() == "neutral:1"


def test_read_clips_the_intensity(bank):
    beyond = bank.means[0] + 1.7 * bank.directions[bank.category_index("sad")]
    (reading,) = bank.read(beyond[None].detach(), QUADRANT_CATEGORIES)
    assert reading.category == "sad" and reading.intensity == 1.0


def test_read_vad_matches_the_head(bank, embeddings):
    readings = bank.read(embeddings)
    vad = bank.vad(embeddings).detach()
    for row, reading in zip(vad, readings):
        assert reading.vad == pytest.approx(tuple(row.tolist()))


def test_embed_probabilities_places_a_one_hot_at_the_category_mean(bank):
    probs = torch.eye(len(QUADRANT_CATEGORIES))
    emb = bank.embed_probabilities(probs, QUADRANT_CATEGORIES).detach()
    for i, name in enumerate(QUADRANT_CATEGORIES):
        torch.testing.assert_close(emb[i], bank.means[bank.category_index(name)].detach())


def test_critics_default_to_their_training_categories():
    from emogen.music.critic import MusicEmotionEncoder
    from emogen.voice.encoder import SpeechEmotionEncoder

    assert tuple(SpeechEmotionEncoder().config.categories) == RAVDESS_CATEGORIES
    assert tuple(MusicEmotionEncoder().config.categories) == QUADRANT_CATEGORIES


def test_shipped_critics_read_out_over_their_categories():
    from emogen.music.critic import MusicEmotionEncoder
    from emogen.pipeline_utils import checkpoint_path
    from emogen.voice.recognize import load_speech_encoder

    encoder, bank = load_speech_encoder()
    assert tuple(encoder.config.categories) == RAVDESS_CATEGORIES
    reading = bank.read(torch.randn(1, 16))[0]
    assert len(reading.probabilities) == bank.num_categories
    critic = MusicEmotionEncoder.from_pretrained(str(checkpoint_path("music")), subfolder="music_critic")
    assert tuple(critic.config.categories) == QUADRANT_CATEGORIES


def test_recognize_reading_sums_to_one_over_the_speech_categories():
    import numpy as np

    from emogen.testing import speechlike
    from emogen.voice.recognize import VoiceEmotion, recognize_emotion

    heard = recognize_emotion(speechlike(1.5), 16000)
    assert isinstance(heard, VoiceEmotion) and isinstance(heard, EmotionReading)
    assert list(heard.probabilities) == list(RAVDESS_CATEGORIES)
    assert float(np.sum(list(heard.probabilities.values()))) == pytest.approx(1.0, abs=1e-5)


def test_expected_vad_is_the_posterior_weighted_anchors(bank):
    names = ["happy", "angry", "sad", "calm"]
    anchors = bank.anchor_vad[[bank.category_index(n) for n in names]]
    emb = torch.stack([bank.means[bank.category_index("sad")], bank.means[bank.category_index("happy")], torch.zeros(bank.config.embedding_dim)])
    out = bank.expected_vad(emb, names)
    assert torch.allclose(out, bank.posterior(emb, names) @ anchors)
    assert torch.allclose(out[0], anchors[2], atol=1e-3) and torch.allclose(out[1], anchors[0], atol=1e-3)  # a category mean reads its anchor
    assert (out >= anchors.min(0).values - 1e-6).all() and (out <= anchors.max(0).values + 1e-6).all()  # inside the anchors' hull


def test_temperature_softens_the_posterior_and_keeps_its_order(bank, embeddings):
    names = list(QUADRANT_CATEGORIES)
    plain, soft = bank.posterior(embeddings, names), bank.posterior(embeddings, names, temperature=3.0)
    restricted = bank.log_likelihood(embeddings)[:, [bank.category_index(n) for n in names]]
    assert torch.allclose(soft, torch.softmax(restricted / 3.0, -1))
    assert torch.equal(plain.argmax(-1), soft.argmax(-1)) and (soft.amax(-1) <= plain.amax(-1) + 1e-6).all()
    assert torch.allclose(bank.posterior(embeddings, names, temperature=1e6), torch.full_like(plain, 0.25), atol=1e-4)
    readings = bank.read(embeddings, names, temperature=3.0)
    assert torch.allclose(torch.tensor([list(r.probabilities.values()) for r in readings]), soft, atol=1e-6)
    anchors = bank.anchor_vad[[bank.category_index(n) for n in names]]
    assert torch.allclose(bank.expected_vad(embeddings, names, 3.0), soft @ anchors)
