"""The voice recipe end to end on synthetic cached features (a smoke test of the wiring, not a useful model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

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


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import emogen.training.voice as recipe

    torch.set_num_threads(1)
    cache = fake_cache((1, 2, 17, 18, 19, 20))
    original = recipe.build_cache
    recipe.build_cache = lambda cache_dir, root=None: cache
    try:
        config = recipe.VoiceTrainConfig(
            cache="unused",
            encoder=recipe.EncoderTrainConfig(train_actors=(1, 2), epochs=2, batch_size=16, crop_frames=40, encoder_kwargs={"hidden_channels": 16, "num_blocks": 1}),
            converter=recipe.ConverterTrainConfig(train_actors=(1, 2), steps=4, batch_size=8, crop_frames=16,
                                                  denoiser_kwargs={"utterance_norm": True, "hidden_channels": 16, "num_blocks": 1}),
        )
        out = tmp_path_factory.mktemp("voice") / "voice"
        scores = recipe.train_voice(out, config)
    finally:
        recipe.build_cache = original
    return out, scores


def test_train_voice_writes_a_loadable_pipeline_with_scores_and_card(trained):
    out, scores = trained
    saved = json.loads((out / "scores.json").read_text())
    assert 0.0 <= saved["encoder_test"]["uar"] <= 1.0
    assert saved["num_pairs"] == scores["num_pairs"] > 0
    assert [row["step"] for row in saved["history"]["converter"]] == [1.0, 4.0]
    assert "# emogen voice checkpoint" in (out / "README.md").read_text()
    assert not (out.parent / ".voice.train").exists()  # stage checkpoints are gone once the folder is complete

    from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline

    pipe = EmoVoicePipeline.from_pretrained(out)
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    assert pipe.speech_critic.config.embedding_dim == pipe.emotion_bank.config.embedding_dim
