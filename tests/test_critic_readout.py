"""CriticReadout: every critic (speech, music, face) reads out over its categories at its calibration temperature."""

from __future__ import annotations

import json

import pytest
import torch

from emogen.emotion import EmotionBank
from emogen.music.critic import MusicEmotionEncoder
from emogen.portrait.critic import FaceEmotionEncoder
from emogen.voice.encoder import SpeechEmotionEncoder

torch.set_num_threads(1)


@pytest.mark.parametrize("cls", [SpeechEmotionEncoder, MusicEmotionEncoder, FaceEmotionEncoder])
def test_uncalibrated_posterior_is_the_banks(cls):
    bank, critic = EmotionBank(), cls()
    emb = torch.randn(5, bank.config.embedding_dim)
    assert critic.temperature == 1.0
    assert torch.allclose(critic.posterior(emb, bank), bank.posterior(emb, list(critic.config.categories)))


def test_set_calibration_softens_and_survives_save_and_load(tmp_path):
    bank, critic = EmotionBank(), MusicEmotionEncoder(hidden_dim=8, descriptor_hidden=4)
    emb = torch.randn(6, bank.config.embedding_dim) * 0.3
    plain = critic.posterior(emb, bank)
    critic.set_calibration(2.5)
    soft = critic.posterior(emb, bank)
    assert torch.equal(plain.argmax(-1), soft.argmax(-1)) and (soft.amax(-1) <= plain.amax(-1) + 1e-6).all()
    assert (soft.amax(-1) < plain.amax(-1) - 1e-3).any()
    assert torch.allclose(critic.posterior(emb, bank, calibrated=False), plain)
    assert "uncertain_below" not in critic.config  # the music critic has no such setting
    critic.save_pretrained(tmp_path / "critic")
    loaded = MusicEmotionEncoder.from_pretrained(str(tmp_path / "critic"))
    assert loaded.temperature == pytest.approx(2.5)
    assert torch.allclose(loaded.posterior(emb, bank), soft, atol=1e-6)


def test_a_critic_saved_before_calibration_loads_uncalibrated(tmp_path):
    MusicEmotionEncoder(hidden_dim=8).save_pretrained(tmp_path / "old")
    path = tmp_path / "old" / "config.json"
    config = json.loads(path.read_text())
    del config["temperature"]
    path.write_text(json.dumps(config))
    assert MusicEmotionEncoder.from_pretrained(str(tmp_path / "old")).temperature == 1.0


def test_set_calibration_checks_its_values():
    speech = SpeechEmotionEncoder()
    speech.set_calibration(0.9, 0.4)
    assert (speech.config.temperature, speech.config.uncertain_below) == (0.9, 0.4)
    with pytest.raises(ValueError, match="temperature"):
        speech.set_calibration(0.0)
    with pytest.raises(ValueError, match="uncertain_below"):
        speech.set_calibration(1.0, 1.5)
