"""The shipped speech critic: intensity moves the projected intensity the right way, on conversions and on
real RAVDESS strong vs normal clips."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from emogen.errors import CheckpointNotFoundError
from emogen.voice.recognize import embed_audio, load_speech_encoder, recognize_emotion


@pytest.fixture(scope="module")
def pipe():
    from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline

    try:
        pipeline = EmoVoicePipeline.from_shipped("voice")
    except CheckpointNotFoundError:
        pytest.skip("needs the shipped checkpoints/voice (train it with `emogen train voice`)")
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def test_higher_intensity_moves_the_critic(pipe, data_root):
    x, sr = sf.read(data_root / "ravdess-speech/Actor_19/03-01-01-01-02-01-19.flac", dtype="float32")
    scores = []
    for a in (0.0, 1.0):
        out = pipe(x, sr, emotion=f"angry:{a:g}", generator=torch.Generator().manual_seed(0))
        emb = embed_audio(pipe.speech_critic, out.audios[0], sr)
        with torch.no_grad():
            scores.append(float(pipe.emotion_bank.project_intensity(emb, "angry")[0]))
    assert scores[1] > scores[0]


def test_strong_clips_project_further_than_normal(pipe, data_root):
    encoder, bank = pipe.speech_critic, pipe.emotion_bank
    folder = data_root / "ravdess-speech/Actor_20"
    strong, normal = [], []
    for emotion, name in ((5, "angry"), (3, "happy"), (6, "fearful")):
        for level, bucket in ((2, strong), (1, normal)):
            for statement in (1, 2):
                x, sr = sf.read(folder / f"03-01-0{emotion}-0{level}-0{statement}-01-20.flac", dtype="float32")
                with torch.no_grad():
                    bucket.append(float(bank.project_intensity(embed_audio(encoder, x, sr), name)[0]))
    assert np.mean(strong) > np.mean(normal)


def test_recognize_emotion_returns_a_spec(pipe, data_root):
    x, sr = sf.read(data_root / "ravdess-speech/Actor_20/03-01-05-02-02-01-20.flac", dtype="float32")
    heard = recognize_emotion(x, sr, pipe.speech_critic, pipe.emotion_bank)
    assert abs(sum(heard.probabilities.values()) - 1.0) < 1e-4
    assert 0.0 <= heard.intensity <= 1.0
    assert heard.spec.kind == "categorical"
    assert len(heard.vad) == 3
    encoder, bank = load_speech_encoder()
    assert encoder.config.embedding_dim == bank.config.embedding_dim
