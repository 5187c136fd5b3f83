"""The speech critic's calibration (issue #10, item 4): ECE, temperature scaling, the nEMO reader,
augmentation, the shipped critic on white noise, and the calibration's save/load round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from emogen.calibration import expected_calibration_error, fit_temperature, negative_log_likelihood, reliability_bins, softmax


# ------------------------------------------------------------------------------------------- ECE
def test_ece_on_a_toy_example():
    # two bins: 0.9 sure but right half the time (gap 0.4), 0.6 sure and always right (gap 0.4)
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    assert expected_calibration_error(p, np.array([0, 1, 0, 0])) == pytest.approx(0.4)
    # 3 of 4 right at confidence 0.75: perfectly calibrated
    q = np.tile([0.75, 0.25], (4, 1))
    assert expected_calibration_error(q, np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    # always right at confidence 1: 0; always wrong at confidence 1: 1
    assert expected_calibration_error(np.eye(3), np.arange(3)) == pytest.approx(0.0)
    assert expected_calibration_error(np.eye(3), (np.arange(3) + 1) % 3) == pytest.approx(1.0)


def test_ece_weights_bins_by_count_and_uses_15_equal_bins():
    p = np.array([[0.95, 0.05]] * 3 + [[0.55, 0.45]])
    labels = np.array([0, 0, 0, 1])  # bin (0.933, 1]: acc 1, conf 0.95; bin (0.533, 0.6]: acc 0, conf 0.55
    assert expected_calibration_error(p, labels) == pytest.approx(0.75 * 0.05 + 0.25 * 0.55)
    bins = reliability_bins(p, labels)
    assert len(bins["count"]) == 15 and bins["count"].sum() == 4


# ------------------------------------------------------------------------------- temperature scaling
def test_temperature_scaling_reduces_nll_of_an_overconfident_model():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 800)
    logits = rng.normal(size=(800, 8))
    logits[np.arange(800), labels] += 1.5
    confident = 6.0 * logits  # right ~60% of the time, but nearly always sure
    temperature = fit_temperature(confident, labels)
    assert temperature > 3.0
    assert negative_log_likelihood(confident, labels, temperature) < 0.6 * negative_log_likelihood(confident, labels)
    before = expected_calibration_error(softmax(confident), labels)
    after = expected_calibration_error(softmax(confident, temperature), labels)
    assert after < 0.05 < before
    # the ranking is unchanged
    assert (softmax(confident, temperature).argmax(1) == confident.argmax(1)).all()


# ------------------------------------------------------------------------------------------- nEMO
def test_nemo_reader_parses_a_small_table(tmp_path):
    from emogen.data.nemo import load_nemo

    folder = tmp_path / "nemo-speech"
    (folder / "samples").mkdir(parents=True)
    rows = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage",
            "AB0_anger_3.wav\tanger\tDzień dobry.\tdzień dobry\t        AB0\tmale\t23",
            'CD0_happiness_12.wav\thappiness\tMówi: "tak".\tmówi tak\tCD0\tfemale\t30']
    (folder / "data.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for name in ("AB0_anger_3", "CD0_happiness_12"):
        (folder / "samples" / f"{name}.opus").touch()
    clips = load_nemo(tmp_path)
    assert [(c.speaker, c.emotion, c.sentence, c.gender, c.age) for c in clips] == [("AB0", "angry", 3, "male", 23), ("CD0", "happy", 12, "female", 30)]
    assert clips[1].text == 'Mówi: "tak".' and clips[0].path.name == "AB0_anger_3.opus"
    assert [c.speaker for c in load_nemo(tmp_path, speakers={"CD0"})] == ["CD0"]


def test_nemo_reader_parses_the_real_table(data_root):
    from emogen.data.nemo import NEMO_CATEGORIES, NEMO_SPLITS, load_nemo

    if not (data_root / "nemo-speech" / "data.tsv").is_file():
        pytest.skip("needs ../shared/data/nemo-speech (nEMO)")
    clips = load_nemo(data_root)
    assert len(clips) == 4481
    assert {c.emotion for c in clips} == set(NEMO_CATEGORIES)
    speakers = {c.speaker: c.gender for c in clips}
    assert len(speakers) == 9 and sum(g == "male" for g in speakers.values()) == 5
    splits = [set(v) for v in NEMO_SPLITS.values()]
    assert set().union(*splits) == set(speakers) and sum(len(s) for s in splits) == 9  # disjoint, complete
    assert sorted(speakers[s] for s in NEMO_SPLITS["test"]) == ["female", "male"]
    train = NEMO_SPLITS["train"]
    assert sum(speakers[s] == "male" for s in train) == sum(speakers[s] == "female" for s in train) == 3


# ------------------------------------------------------------------------------------- augmentation
def test_augmentations_keep_length_and_hit_their_snr():
    from emogen.voice.augment import augment_speech, codec_roundtrip, mix_at_snr, nonspeech_signal, reverberate, white_noise

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    speech = (0.2 * np.sin(2 * np.pi * 150 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    noise = white_noise(len(speech), rng)
    mixed = mix_at_snr(speech, noise, 5.0)
    snr = 10 * math.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean((mixed - speech).astype(np.float64) ** 2))
    assert snr == pytest.approx(5.0, abs=0.01)
    wet = reverberate(speech, 16000, 0.5, rng)
    assert wet.shape == speech.shape and np.std(wet) == pytest.approx(np.std(speech), rel=1e-3)
    assert codec_roundtrip(speech, 16000, "mp3", 16000).shape == speech.shape
    out, info = augment_speech(speech, 16000, rng)
    assert out.shape == speech.shape and out.dtype == np.float32 and np.abs(out).max() <= 1.0
    assert {"snr_db", "noise", "rt60", "codec", "level_db"} <= set(info)
    with pytest.raises(ValueError, match="needs a rendered music signal"):
        nonspeech_signal("music", 1.0, 16000, rng)


# ---------------------------------------------------------------------------- critic calibration
def test_calibration_survives_save_and_load(tmp_path):
    from emogen.emotion import EmotionBank
    from emogen.voice.encoder import SpeechEmotionEncoder

    encoder = SpeechEmotionEncoder(hidden_channels=8, num_blocks=1).eval()
    encoder.set_calibration(2.5, 0.35)
    encoder.save_pretrained(tmp_path / "critic")
    loaded = SpeechEmotionEncoder.from_pretrained(tmp_path / "critic").eval()
    assert loaded.config.temperature == 2.5 and loaded.config.uncertain_below == 0.35
    bank = EmotionBank()
    with torch.no_grad():
        emb = loaded(torch.randn(3, 66, 50, generator=torch.Generator().manual_seed(0))).embedding
        calibrated, raw = loaded.posterior(emb, bank), loaded.posterior(emb, bank, calibrated=False)
    torch.testing.assert_close(calibrated, torch.softmax(torch.log(raw) / 2.5, dim=-1))
    assert (calibrated.max(-1).values <= raw.max(-1).values + 1e-6).all()
    with pytest.raises(ValueError, match="temperature"):
        encoder.set_calibration(0.0, 0.3)


def test_voice_emotion_says_uncertain():
    from emogen.voice.recognize import VoiceEmotion

    sure = VoiceEmotion({"neutral": 0.2, "angry": 0.8}, (-0.5, 0.6, 0.3), "angry", 0.9, False, 0.4)
    unsure = VoiceEmotion({"neutral": 0.45, "angry": 0.55}, (-0.1, 0.1, 0.0), "angry", 0.3, True, 0.6)
    assert sure.label == "angry:0.9" and unsure.label == "uncertain" and unsure.spec.format() == "angry:0.3"
    assert unsure.to_dict()["uncertain"] is True and unsure.to_dict()["label"] == "uncertain"
    assert unsure.to_dict()["emotion"] == "angry:0.3"  # the best guess stays usable as a spec
    assert unsure.format_table().startswith("emotion: uncertain (best guess angry:0.3")
    assert sure.format_table().startswith("emotion: angry:0.9")


def test_shipped_critic_is_unsure_about_white_noise():
    from emogen.errors import CheckpointNotFoundError
    from emogen.voice.recognize import load_speech_encoder, recognize_emotion

    torch.set_num_threads(1)
    try:
        encoder, bank = load_speech_encoder()
    except CheckpointNotFoundError:
        pytest.skip("needs the shipped checkpoints/voice")
    rng = np.random.default_rng(0)
    for level in (0.03, 0.3):
        heard = recognize_emotion((level * rng.standard_normal(32000)).astype(np.float32), 16000, encoder, bank)
        assert heard.confidence <= 0.6, heard.probabilities
        assert heard.uncertain and heard.label == "uncertain"
        assert sum(heard.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert encoder.config.temperature > 0 and 0.0 < encoder.config.uncertain_below < 1.0


# ------------------------------------------------------------------------------- --only critic
def _fake_ravdess_cache(actors: tuple[int, ...]) -> dict:
    """RAVDESS's naming grid (one sentence) with random frames; emotion shifts the encoder frames a little."""
    from pathlib import Path

    from emogen.data.ravdess import RAVDESS_EMOTIONS, RavdessClip
    from emogen.voice.dataset import ClipFeatures
    from emogen.voice.features import ENCODER_FEATURE_DIM
    from emogen.voice.world import NUM_MCEP, WorldFeatures

    rng = np.random.default_rng(0)
    out = {}
    for actor in actors:
        for code, emotion in sorted(RAVDESS_EMOTIONS.items()):
            for level in (1,) if code == 1 else (1, 2):
                for repetition in (1, 2):
                    stem = f"03-01-{code:02d}-{level:02d}-01-{repetition:02d}-{actor:02d}"
                    frames = int(rng.integers(50, 70))
                    world = WorldFeatures(f0=np.full(frames, 120.0), mcep=rng.normal(size=(frames, NUM_MCEP)), coded_ap=rng.normal(size=(frames, 1)), sample_rate=16000)
                    encoder = (rng.normal(size=(frames, ENCODER_FEATURE_DIM)) + 0.3 * code).astype(np.float32)
                    clip = RavdessClip(Path(f"{stem}.wav"), emotion, "strong" if level == 2 else "normal", 1, repetition, actor)
                    out[stem] = ClipFeatures(clip=clip, world=world, encoder=encoder, seconds=frames * 0.01)
    return out


def test_only_critic_replaces_the_critic_and_keeps_the_rest(tmp_path, monkeypatch):
    import hashlib
    import json

    import emogen.training.voice as recipe
    from emogen.errors import CheckpointNotFoundError
    from emogen.testing import build_tiny_voice_pipeline
    from emogen.voice.encoder import SpeechEmotionEncoder

    torch.set_num_threads(1)
    out = tmp_path / "voice"
    build_tiny_voice_pipeline().save_pretrained(str(out))
    (out / "scores.json").write_text(json.dumps({"num_pairs": 7, "minutes": {"converter": 1.5}}))
    (out / "README.md").write_text("# emogen voice checkpoint\n\n## Data\nold\n\n## Speech emotion encoder (speech critic)\nold critic\n\n"
                                   "## Converter\nkeep me\n\n## Limits\nSomething about 16 kHz.\n\n## Benchmark\nkeep this too\n")
    untouched = {p.relative_to(out): hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*")
                 if p.is_file() and "speech_critic" not in p.parts and p.name not in ("scores.json", "README.md")}
    monkeypatch.setattr(recipe, "build_cache", lambda cache_dir, root=None: _fake_ravdess_cache((1, 2, 17, 18, 19, 20)))
    config = recipe.VoiceTrainConfig(cache=str(tmp_path / "cache"), encoder=recipe.EncoderTrainConfig(
        train_actors=(1, 2), epochs=1, batch_size=16, crop_frames=40, encoder_kwargs={"hidden_channels": 16, "num_blocks": 1}))
    scores = recipe.train_voice(out, config, only="critic")

    assert untouched == {p.relative_to(out): hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*")
                         if p.is_file() and "speech_critic" not in p.parts and p.name not in ("scores.json", "README.md")}
    critic = SpeechEmotionEncoder.from_pretrained(out, subfolder="speech_critic")
    assert critic.config.temperature == pytest.approx(scores["critic"]["temperature"]) and critic.config.temperature > 0
    saved = json.loads((out / "scores.json").read_text())
    assert saved["num_pairs"] == 7 and saved["minutes"]["converter"] == 1.5  # the converter's entries stay
    assert 0.0 <= saved["critic"]["ravdess_test_clean"]["ece_after"] <= 1.0 and "encoder_test" in saved
    card = (out / "README.md").read_text()
    assert "## Converter\nkeep me" in card and "keep this too" in card and "old critic" not in card
    assert "**Calibration.**" in card and "Something about 16 kHz." in card
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [] and not (tmp_path / ".voice.train").exists()
    with pytest.raises(CheckpointNotFoundError, match="run the whole recipe first"):
        recipe.train_voice(tmp_path / "nothing", config, only="critic")
