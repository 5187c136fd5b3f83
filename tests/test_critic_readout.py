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


def test_face_critic_calibration_fits_a_softening_temperature():
    """The portrait recipe's calibration: an over-confident face critic gets T > 1 from held-out frames, lower NLL,
    and its scores report ECE and mean top probability before and after."""
    from types import SimpleNamespace

    import numpy as np

    from emogen.portrait.critic import MEAD_CATEGORIES
    from emogen.training.portrait import calibrate_face_critic, evaluate_critic

    rng = np.random.default_rng(0)
    template = rng.normal(size=(68, 2)).astype(np.float32)
    clips = [SimpleNamespace(motion=rng.normal(scale=0.05, size=(12, 140)).astype(np.float32), rest=template, emotion=e)
             for e in MEAD_CATEGORIES for _ in range(2)]
    critic, bank = FaceEmotionEncoder(), EmotionBank()
    with torch.no_grad():
        critic.mlp[-1].weight.mul_(30.0)  # random and sure of itself
    result = calibrate_face_critic(critic, bank, clips, template)
    assert critic.temperature == pytest.approx(result["temperature"]) and result["temperature"] > 1.0
    assert critic.uncertain_below == pytest.approx(result["uncertain_below"]) and 0.0 < critic.uncertain_below <= 1.0
    assert result["nll_after"] < result["nll_before"]
    scores = evaluate_critic(critic, bank, clips, template)
    for kind in ("absolute", "offsets"):
        assert 0.0 <= scores[f"frame_ece_after_{kind}"] <= 1.0 and 0.0 <= scores[f"frame_accuracy_{kind}"] <= 1.0
        assert scores[f"frame_mean_top_prob_after_{kind}"] < scores[f"frame_mean_top_prob_before_{kind}"]


def test_shipped_face_critic_is_calibrated_and_softer_than_the_plain_posterior():
    from emogen.errors import CheckpointNotFoundError
    from emogen.pipeline_utils import checkpoint_path

    try:
        path = checkpoint_path("portrait")
    except CheckpointNotFoundError:
        pytest.skip("checkpoints/portrait is not shipped in this checkout")
    critic = FaceEmotionEncoder.from_pretrained(str(path), subfolder="face_critic").eval()
    bank = EmotionBank.from_pretrained(str(path), subfolder="emotion_bank").eval()
    assert critic.temperature > 2.0  # fitted on the held-out identity: the plain posterior is over-confident
    with torch.no_grad():
        emb = critic(critic.template[None] + 0.02 * torch.randn(8, 68, 2, generator=torch.Generator().manual_seed(0))).embedding
        plain, calibrated = critic.posterior(emb, bank, calibrated=False), critic.posterior(emb, bank)
    assert torch.equal(plain.argmax(-1), calibrated.argmax(-1))
    assert float(calibrated.amax(-1).mean()) < float(plain.amax(-1).mean())


def test_read_flags_unsure_readings_and_keeps_the_calibrated_probabilities():
    from emogen.emotion import CriticReading

    bank, critic = EmotionBank(), FaceEmotionEncoder()
    critic.set_calibration(3.0, 0.5)
    happy, sad = bank.means[bank.category_index("happy")], bank.means[bank.category_index("sad")]
    emb = torch.stack([happy * 3, (happy + sad) / 2])  # far out along happy; half-way between two categories
    sure, unsure = critic.read(emb, bank)
    assert isinstance(sure, CriticReading) and sure.category == "happy" and not sure.uncertain and sure.label.startswith("happy")
    assert unsure.uncertain and unsure.label == "uncertain" and unsure.threshold == 0.5
    assert list(sure.probabilities.values()) == pytest.approx(critic.posterior(emb, bank)[0].tolist(), abs=1e-6)
    assert MusicEmotionEncoder().uncertain_below == 0.0  # no such setting: never uncertain
