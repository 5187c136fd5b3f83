"""The pipeline conventions, checked on a tiny pipeline (emogen.testing): save/load round trip,
model_index.json, generator and emotion lists, atomic output saving; plus the shipped-checkpoint helpers."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch

from emogen.emotion import EmotionBank
from emogen.errors import CheckpointNotFoundError
from emogen.pipeline_utils import EmogenPipeline, EmogenPipelineOutput, checkpoint_path, shipped_checkpoints
from emogen.schedulers import DDIMScheduler

import emogen.testing
from emogen.testing import TinyDenoiser, TinyPipeline, TinyPipelineOutput, build_tiny_pipeline


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def pipe() -> TinyPipeline:
    return build_tiny_pipeline(seed=0)


def test_helper_module_is_importable_by_name():
    # diffusers imports custom components by module name; this must be the module the test uses
    assert importlib.import_module("emogen.testing") is emogen.testing
    assert TinyDenoiser.__module__ == "emogen.testing"


def test_call_returns_an_emogen_output(pipe):
    assert isinstance(pipe, EmogenPipeline)
    output = pipe("happy:0.7", batch_size=2, generator=_gen(0))
    assert isinstance(output, TinyPipelineOutput)
    assert isinstance(output, EmogenPipelineOutput)
    assert output.samples.shape == (2, 8)
    assert np.all(np.isfinite(output.samples))
    assert output.emotions == ["happy:0.7", "happy:0.7"]
    # BaseOutput: readable by attribute, key and index
    assert output["samples"] is output.samples
    assert output[0] is output.samples
    (samples,) = pipe("happy:0.7", batch_size=2, generator=_gen(0), return_dict=False)
    np.testing.assert_array_equal(samples, output.samples)


def test_same_generator_same_output_different_seed_or_emotion_differs(pipe):
    a = pipe("happy:0.7", generator=_gen(1)).samples
    b = pipe("happy:0.7", generator=_gen(1)).samples
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, pipe("happy:0.7", generator=_gen(2)).samples)
    assert not np.array_equal(a, pipe("sad:0.7", generator=_gen(1)).samples)


def test_save_pretrained_from_pretrained_round_trip(pipe, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe.save_pretrained(tmp_path)

    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["_class_name"] == "TinyPipeline"
    assert index["denoiser"] == ["emogen.testing", "TinyDenoiser"]
    assert index["scheduler"] == ["emogen.schedulers", "DDIMScheduler"]
    # diffusers records a non-diffusers class by its module path, which from_pretrained imports
    assert index["emotion_bank"] == ["emogen.emotion.bank", "EmotionBank"]
    for folder in ("denoiser", "scheduler", "emotion_bank"):
        assert (tmp_path / folder).is_dir()
    assert list((tmp_path / "denoiser").glob("*.safetensors"))
    assert list((tmp_path / "emotion_bank").glob("*.safetensors"))

    loaded = TinyPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert isinstance(loaded, TinyPipeline)
    assert isinstance(loaded.denoiser, TinyDenoiser)
    assert isinstance(loaded.scheduler, DDIMScheduler)
    assert isinstance(loaded.emotion_bank, EmotionBank)
    for name, value in pipe.denoiser.state_dict().items():
        assert torch.equal(value, loaded.denoiser.state_dict()[name]), name

    for emotion in ("happy:0.6+surprised:0.3", "va:0.5,-0.2"):
        before = pipe(emotion, batch_size=2, generator=_gen(3)).samples
        after = loaded(emotion, batch_size=2, generator=_gen(3)).samples
        np.testing.assert_array_equal(before, after)


def test_generator_list_length_must_match_the_batch(pipe):
    with pytest.raises(ValueError, match=r"2 generators for a batch of 3"):
        pipe("happy", batch_size=3, generator=[_gen(0), _gen(1)])


def test_generator_list_gives_one_stream_per_sample(pipe):
    batch = pipe("happy:0.7", batch_size=2, generator=[_gen(4), _gen(5)]).samples
    first = pipe("happy:0.7", batch_size=1, generator=[_gen(4)]).samples
    second = pipe("happy:0.7", batch_size=1, generator=[_gen(5)]).samples
    np.testing.assert_allclose(batch[0], first[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(batch[1], second[0], rtol=0, atol=1e-6)


def test_one_emotion_per_sample(pipe):
    emotions = ["happy:0.7", "sad:0.4"]
    output = pipe(emotions, batch_size=2, generator=[_gen(6), _gen(7)])
    assert output.emotions == emotions
    happy = pipe("happy:0.7", generator=[_gen(6)]).samples
    sad = pipe("sad:0.4", generator=[_gen(7)]).samples
    np.testing.assert_allclose(output.samples[0], happy[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(output.samples[1], sad[0], rtol=0, atol=1e-6)


def test_encode_emotion(pipe):
    condition = pipe.encode_emotion(["happy:0.7", "sad:0.4", "va:0.5,-0.2"], batch_size=3)
    assert condition.batch_size == 3
    assert condition.embedding.device == pipe._execution_device
    assert torch.equal(condition.embedding[1], pipe.emotion_bank.condition("sad:0.4").embedding[0])
    repeated = pipe.encode_emotion("happy:0.7", batch_size=4)
    assert repeated.batch_size == 4
    with pytest.raises(ValueError, match=r"2 emotions for a batch of 3"):
        pipe.encode_emotion(["happy", "sad"], batch_size=3)


def test_output_save_writes_the_file_atomically(pipe, tmp_path):
    output = pipe("happy:0.7", batch_size=2, generator=_gen(8))
    target = tmp_path / "nested" / "folder" / "samples.npy"
    assert output.save(target) == target
    np.testing.assert_array_equal(np.load(target), output.samples)
    assert sorted(p.name for p in target.parent.iterdir()) == ["samples.npy"]


def test_failing_save_leaves_no_file(pipe, tmp_path, monkeypatch):
    output = pipe("happy:0.7", generator=_gen(9))

    def partial_then_fail(path, array):
        with open(path, "wb") as handle:
            handle.write(b"\x93NUMPY partial")
        raise OSError("disk full")

    monkeypatch.setattr(emogen.testing.np, "save", partial_then_fail)
    target = tmp_path / "samples.npy"
    with pytest.raises(OSError, match="disk full"):
        output.save(target)
    assert list(tmp_path.iterdir()) == []


def test_failing_save_keeps_the_previous_file(pipe, tmp_path, monkeypatch):
    output = pipe("happy:0.7", generator=_gen(10))
    target = tmp_path / "samples.npy"
    target.write_bytes(b"previous")

    def fail(path, array):
        raise OSError("disk full")

    monkeypatch.setattr(emogen.testing.np, "save", fail)
    with pytest.raises(OSError):
        output.save(target)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.npy"]


def test_progress_bar_can_be_silenced(capsys):
    pipe = build_tiny_pipeline(seed=1)
    pipe("happy", generator=_gen(0), num_inference_steps=3)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "it/s" not in captured.err and "3/3" not in captured.err


# ----------------------------------------------------------------------------- shipped checkpoints


def test_missing_checkpoint_raises_a_clear_error():
    with pytest.raises(CheckpointNotFoundError, match="no-such-pipeline"):
        checkpoint_path("no-such-pipeline")


def test_shipped_checkpoints_each_have_a_model_index():
    for name, path in shipped_checkpoints().items():
        assert (path / "model_index.json").is_file()
        assert checkpoint_path(name) == path


def test_saved_configs_are_stamped_with_the_emogen_version(pipe, tmp_path):
    from emogen import __version__

    pipe.save_pretrained(tmp_path)
    configs = [p for p in tmp_path.rglob("*.json")]
    assert (tmp_path / "model_index.json") in configs
    for path in configs:
        assert json.loads(path.read_text())["_emogen_version"] == __version__
    reloaded = type(pipe).from_pretrained(tmp_path)
    assert set(reloaded.components) == set(pipe.components)
