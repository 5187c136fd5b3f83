"""The voice recipe end to end on synthetic cached features (a smoke test of the wiring, not a useful model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emogen.data.nemo import NEMO_CATEGORIES, NemoClip
from emogen.data.ravdess import RAVDESS_EMOTIONS, RavdessClip
from emogen.voice.dataset import ClipFeatures
from emogen.voice.features import ENCODER_FEATURE_DIM
from emogen.voice.world import NUM_MCEP, WorldFeatures


def fake_cache(actors: tuple[int, ...], seed: int = 0) -> dict[str, ClipFeatures]:
    """RAVDESS's naming grid (one sentence) with random WORLD and encoder features (emotion shifts the encoder frames a little)."""
    rng = np.random.default_rng(seed)
    out = {}
    for actor in actors:
        for code, emotion in sorted(RAVDESS_EMOTIONS.items()):
            for level in (1,) if code == 1 else (1, 2):
                for statement in (1,):  # one of the two sentences keeps the test fast
                    for repetition in (1, 2):
                        stem = f"03-01-{code:02d}-{level:02d}-{statement:02d}-{repetition:02d}-{actor:02d}"
                        frames = int(rng.integers(90, 130))
                        f0 = np.where(rng.random(frames) < 0.8, 120 + 20 * rng.random(frames), 0.0)
                        world = WorldFeatures(f0=f0, mcep=rng.normal(size=(frames, NUM_MCEP)), coded_ap=rng.normal(size=(frames, 1)), sample_rate=16000)
                        encoder = (rng.normal(size=(frames // 2, ENCODER_FEATURE_DIM)) + 0.3 * code).astype(np.float32)
                        clip = RavdessClip(Path(f"{stem}.wav"), emotion, "strong" if level == 2 else "normal", statement, repetition, actor)
                        out[stem] = ClipFeatures(clip=clip, world=world, encoder=encoder, seconds=frames * 0.005)
    return out


def fake_world(rng: np.random.Generator, frames: int) -> WorldFeatures:
    f0 = np.where(rng.random(frames) < 0.8, 120 + 20 * rng.random(frames), 0.0)
    return WorldFeatures(f0=f0, mcep=rng.normal(size=(frames, NUM_MCEP)), coded_ap=rng.normal(size=(frames, 1)), sample_rate=16000)


def fake_nemo_cache(speakers: tuple[str, ...], sentences: int = 2, seed: int = 1) -> dict[str, ClipFeatures]:
    """nEMO's grid (every sentence in each of its six emotions, one clip each) with random features."""
    rng = np.random.default_rng(seed)
    out = {}
    for speaker in speakers:
        for sentence in range(sentences):
            for emotion in NEMO_CATEGORIES:
                frames = int(rng.integers(90, 130))
                clip = NemoClip(Path(f"{speaker}_{emotion}_{sentence}.opus"), emotion, speaker, "male", 30, sentence, "tekst")
                encoder = rng.normal(size=(frames // 2, ENCODER_FEATURE_DIM)).astype(np.float32)
                out[clip.path.stem] = ClipFeatures(clip=clip, world=fake_world(rng, frames), encoder=encoder, seconds=frames * 0.005)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import emogen.training.voice as recipe

    torch.set_num_threads(1)
    cache = fake_cache((1, 2, 17, 18, 19, 20))
    nemo = fake_nemo_cache(("KS0", "EB0"))
    original, original_nemo = recipe.build_cache, recipe.build_nemo_cache
    recipe.build_cache = lambda cache_dir, root=None: cache
    recipe.build_nemo_cache = lambda cache_dir, root=None, speakers=None: {k: v for k, v in nemo.items() if v.clip.speaker in speakers}
    try:
        config = recipe.VoiceTrainConfig(
            cache="unused",
            encoder=recipe.EncoderTrainConfig(train_actors=(1, 2), epochs=2, batch_size=16, crop_frames=40, encoder_kwargs={"hidden_channels": 16, "num_blocks": 1}),
            converter=recipe.ConverterTrainConfig(train_actors=(1, 2), nemo_speakers=("KS0",), steps=4, batch_size=8, crop_frames=16,
                                                  denoiser_kwargs={"utterance_norm": True, "hidden_channels": 16, "num_blocks": 1}),
        )
        out = tmp_path_factory.mktemp("voice") / "voice"
        scores = recipe.train_voice(out, config)
        critic_before = (out / "speech_critic" / "diffusion_pytorch_model.safetensors").read_bytes()
        config.converter.nemo_speakers = ("KS0", "EB0")
        config.converter.steps = 3
        converter_scores = recipe.train_voice(out, config, only="converter")
    finally:
        recipe.build_cache, recipe.build_nemo_cache = original, original_nemo
    return out, scores, converter_scores, critic_before


def test_train_voice_writes_a_loadable_pipeline_with_scores_and_card(trained):
    out, scores, _, _ = trained
    saved = json.loads((out / "scores.json").read_text())
    assert 0.0 <= saved["encoder_test"]["uar"] <= 1.0
    # RAVDESS actors 1-2 (one sentence: 2 neutral sources x (2 neutral + 28 emotional targets)) + KS0 (2 sentences x 6)
    assert scores["num_pairs_per_corpus"] == {"nemo": 12, "ravdess": 2 * 2 * 30}
    assert "# emogen voice checkpoint" in (out / "README.md").read_text()
    assert not (out.parent / ".voice.train").exists()  # stage checkpoints are gone once the folder is complete

    from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline

    pipe = EmoVoicePipeline.from_pretrained(out)
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    assert pipe.speech_critic.config.embedding_dim == pipe.emotion_bank.config.embedding_dim


def test_only_converter_replaces_the_denoiser_and_its_scores_and_keeps_the_critic(trained):
    out, scores, converter_scores, critic_before = trained
    saved = json.loads((out / "scores.json").read_text())
    assert saved["num_pairs_per_corpus"] == converter_scores["num_pairs_per_corpus"] == {"nemo": 24, "ravdess": 120}
    assert [row["step"] for row in saved["history"]["converter"]] == [1.0, 3.0]
    assert saved["encoder_test"] == scores["encoder_test"]  # the critic's entries are kept
    assert saved["config"]["converter"]["nemo_speakers"] == ["KS0", "EB0"]
    assert (out / "speech_critic" / "diffusion_pytorch_model.safetensors").read_bytes() == critic_before
    assert not list(out.glob(".denoiser.*"))


def test_pairs_cover_both_corpora_with_their_intensities():
    from emogen.voice.pairs import build_pairs, rate_slopes

    items = list(fake_cache((1,)).values()) + list(fake_nemo_cache(("KS0",), sentences=1).values())
    pairs = build_pairs(items, normal_intensity=0.6, num_modified_mcep=13, unlabelled_intensity=0.8)
    nemo = {p.spec for p in pairs if p.corpus == "nemo"}
    assert nemo == {"neutral:1", "angry:0.8", "fearful:0.8", "happy:0.8", "sad:0.8", "surprised:0.8"}
    assert {p.spec for p in pairs if p.corpus == "ravdess" and p.emotion == "sad"} == {"sad:1", "sad:0.6"}
    assert all(p.amount == 0.0 for p in pairs if p.emotion == "neutral")
    categories = ["neutral", "angry"]
    # nEMO's pairs do not move the RAVDESS-only slopes
    ravdess_only = [p for p in pairs if p.corpus == "ravdess"]
    assert rate_slopes(pairs, categories, ("ravdess",)) == rate_slopes(ravdess_only, categories)


def test_pair_weights_balance_the_corpora_and_weigh_neutral_pairs():
    from emogen.training.voice import ConverterTrainConfig, pair_weights
    from emogen.voice.pairs import build_pairs

    items = list(fake_cache((1,)).values()) + list(fake_nemo_cache(("KS0", "EB0"), sentences=3).values())
    pairs = build_pairs(items, normal_intensity=0.6, num_modified_mcep=13)
    config = ConverterTrainConfig(corpus_weights={"ravdess": 1.0, "nemo": 3.0}, neutral_weight={"ravdess": 4.0, "nemo": 1.0})
    w = pair_weights(pairs, config)
    corpus = np.array([p.corpus for p in pairs])
    assert w.sum() == pytest.approx(1.0)
    assert w[corpus == "nemo"].sum() == pytest.approx(0.75)
    neutral = np.array([p.amount == 0 for p in pairs])
    ravdess = corpus == "ravdess"
    assert w[ravdess & neutral].max() == pytest.approx(4 * w[ravdess & ~neutral].max())
    assert w[~ravdess & neutral].max() == pytest.approx(w[~ravdess & ~neutral].max())


def test_rule_baseline_fits_nemo_pairs():
    from emogen.voice.baseline import RuleBasedConverter

    rule = RuleBasedConverter.fit(list(fake_nemo_cache(("KS0",), sentences=2).values()))
    assert set(rule.rules) == set(NEMO_CATEGORIES) - {"neutral"}


def test_ravdess_folds_read_every_actor_once_from_a_critic_that_never_heard_them():
    from emogen.training.voice import ravdess_folds

    folds = ravdess_folds(5)
    assert sorted(a for f in folds for a in f["test"]) == list(range(1, 21))
    for f in folds:
        assert not set(f["test"]) & set(f["validation"]) and not (set(f["test"]) | set(f["validation"])) & set(f["train"])
        assert len(f["train"]) == 14 and sorted(f["test"] + f["validation"] + f["train"]) == list(range(1, 21))
        assert sum(a % 2 for a in f["test"]) == 2  # two men (odd), two women
