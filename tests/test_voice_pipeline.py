"""EmoVoicePipeline with tiny untrained components: determinism, length, save/load round trip, input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emogen.errors import InputError
from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline, VoicePipelineOutput
from emogen.schedulers import DDIMScheduler
from emogen.testing import build_tiny_voice_pipeline, speechlike

SR = 16000


@pytest.fixture(scope="module")
def tiny_pipe() -> EmoVoicePipeline:
    return build_tiny_voice_pipeline(seed=0, sad_rate_slope=0.2)


def test_same_seed_same_output(tiny_pipe):
    audio = speechlike()
    a = tiny_pipe(audio, SR, emotion="angry:0.8", num_inference_steps=3, generator=torch.Generator().manual_seed(1))
    b = tiny_pipe(audio, SR, emotion="angry:0.8", num_inference_steps=3, generator=torch.Generator().manual_seed(1))
    c = tiny_pipe(audio, SR, emotion="angry:0.8", num_inference_steps=3, generator=torch.Generator().manual_seed(2))
    assert isinstance(a, VoicePipelineOutput)
    np.testing.assert_array_equal(a.audios[0], b.audios[0])
    assert not np.array_equal(a.audios[0], c.audios[0])


def test_keeps_rate_and_length_up_to_the_rate_change(tiny_pipe):
    audio = speechlike(sr=22050)
    out = tiny_pipe(np.stack([audio, audio], axis=1), 22050, emotion="happy:0.5", num_inference_steps=2, rate=1.0)
    assert out.sample_rate == 22050
    assert abs(len(out.audios[0]) - len(audio)) <= 0.01 * len(audio)
    slower = tiny_pipe(audio, 22050, emotion="sad:1", num_inference_steps=2)  # sad's slope: +0.2 log duration
    assert len(slower.audios[0]) == pytest.approx(len(audio) * np.exp(0.2), rel=0.02)


def test_save_load_round_trip(tiny_pipe, tmp_path):
    tiny_pipe.save_pretrained(tmp_path / "voice")
    loaded = EmoVoicePipeline.from_pretrained(tmp_path / "voice")
    loaded.set_progress_bar_config(disable=True)
    assert isinstance(loaded.scheduler, DDIMScheduler)
    assert loaded.denoiser.config.rate_slopes == tiny_pipe.denoiser.config.rate_slopes
    audio = speechlike()
    a = tiny_pipe(audio, SR, emotion="sad:0.4", num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    b = loaded(audio, SR, emotion="sad:0.4", num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(a.audios[0], b.audios[0], atol=1e-5)
    path = a.save(tmp_path / "out" / "sad.wav")
    assert path.is_file()


def test_bad_arguments(tiny_pipe):
    audio = speechlike()
    with pytest.raises(InputError, match="num_inference_steps"):
        tiny_pipe(audio, SR, num_inference_steps=0)
    with pytest.raises(InputError, match="all silence"):
        tiny_pipe(np.zeros(SR, dtype=np.float32), SR)
    with pytest.raises(ValueError, match="generators"):
        tiny_pipe([audio, audio], SR, num_inference_steps=1, generator=[torch.Generator()])


def test_long_file_streams_in_chunks_cut_at_pauses(tmp_path):
    import soundfile as sf

    from emogen.voice.audio import probe_audio
    from emogen.voice.stream import convert_file

    pieces = []
    for n in range(9):
        pieces += [speechlike(4.0 + 0.3 * n), np.zeros(SR // 3, dtype=np.float32)]
    audio = np.concatenate(pieces)
    source = tmp_path / "long.wav"
    sf.write(source, np.stack([audio, audio], axis=1), SR, subtype="FLOAT")
    sizes = []

    def identity(chunk: np.ndarray, sample_rate: int) -> np.ndarray:
        sizes.append(len(chunk))
        return chunk.mean(axis=1)

    convert_file(probe_audio(source), tmp_path / "out.wav", identity, chunk_seconds=10.0)
    out, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sr == SR and len(out) == len(audio)
    assert len(sizes) >= 4 and max(sizes) <= 10 * SR
    np.testing.assert_allclose(out, audio, atol=1e-4)
