"""Intensity scales the converter's change: ``angry:0.5`` makes exactly half of ``angry:1``'s change of the level of
F0 and of the spectral envelope, and moves the range of F0 (20th to 80th percentile) half-way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import emogen.pipelines.pipeline_emo_voice as voice_pipeline
from emogen.testing import build_tiny_voice_pipeline
from emogen.voice.world import continuous_log_f0, f0_range


def _speech() -> np.ndarray:
    t = np.arange(16000) / 16000
    return (0.3 * np.sin(2 * np.pi * (150 + 20 * np.sin(2 * np.pi * 2 * t)) * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


@pytest.fixture()
def edited_features(monkeypatch):
    """Run the tiny pipeline and return, per call, the WORLD features it resynthesises (log-F0, mel-cepstrum)."""
    captured = []
    original = voice_pipeline.synthesize

    def spy(world):
        captured.append((continuous_log_f0(world.f0).copy(), world.mcep.copy(), world.voiced.copy()))
        return original(world)

    monkeypatch.setattr(voice_pipeline, "synthesize", spy)
    pipe = build_tiny_voice_pipeline()
    pipe.set_progress_bar_config(disable=True)

    def run(emotion: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pipe(_speech(), 16000, emotion=emotion, num_inference_steps=2, rate=1.0, generator=torch.Generator().manual_seed(3))
        return captured[-1]

    return run


def test_half_intensity_makes_half_the_change_of_every_feature(edited_features):
    f0_0, mcep_0, voiced = edited_features("angry:0")
    f0_half, mcep_half, _ = edited_features("angry:0.5")
    f0_full, mcep_full, _ = edited_features("angry:1")
    change_full, change_half = f0_full - f0_0, f0_half - f0_0
    assert np.abs(change_full[voiced]).max() > 1e-3  # the model does change the pitch
    assert np.isclose(change_half[voiced].mean(), 0.5 * change_full[voiced].mean(), atol=1e-4)  # the level
    spread = [f0_range(f, voiced) for f in (f0_0, f0_half, f0_full)]
    assert np.isclose(spread[1], 0.5 * (spread[0] + spread[2]), atol=1e-4)  # the range moves half-way
    assert np.allclose(mcep_half - mcep_0, 0.5 * (mcep_full - mcep_0), atol=1e-4)


def test_f0_range_moves_evenly_even_when_the_change_reshapes_the_contour():
    """A change partly against the source's excursions made the range narrow, then widen, with plain scaling."""
    from emogen.voice.world import scale_log_f0_change

    t = np.linspace(0, 1, 400)
    source = np.log(150) + 0.1 * np.sin(2 * np.pi * 3 * t)
    change = 0.3 - 0.06 * np.sin(2 * np.pi * 3 * t) + 0.2 * np.sin(2 * np.pi * 7 * t)
    voiced = np.ones_like(t, dtype=bool)
    voiced[::10] = False
    strengths = np.linspace(0, 1, 11)
    plain = [f0_range(source + a * change, voiced) for a in strengths]
    assert np.any(np.diff(plain) < 0)  # the failure this guards against
    scaled = [scale_log_f0_change(source, change, voiced, float(a)) for a in strengths]
    spread = np.array([f0_range(s, voiced) for s in scaled])
    assert np.allclose(spread, spread[0] + strengths * (spread[-1] - spread[0]), atol=1e-6)  # linear, so monotone
    assert np.allclose(scaled[0], source) and np.allclose(scaled[-1], source + change)
    levels = np.array([(s - source)[voiced].mean() for s in scaled])
    assert np.allclose(levels, strengths * change[voiced].mean())


def test_zero_intensity_and_neutral_leave_the_features_as_analysed(edited_features):
    from emogen.voice.world import analyze

    source = analyze(_speech(), 16000)
    for emotion in ("angry:0", "neutral"):
        f0, mcep, voiced = edited_features(emotion)
        assert np.allclose(f0[voiced], continuous_log_f0(source.f0)[source.voiced], atol=1e-6)
        assert np.allclose(mcep, source.mcep, atol=1e-6)


def test_a_mixture_is_scaled_by_its_total_intensity(edited_features):
    f0_0, _, voiced = edited_features("angry:0")
    f0_mix, _, _ = edited_features("angry:0.2+sad:0.2")
    f0_full, _, _ = edited_features("angry:0.5+sad:0.5")
    assert np.isclose((f0_mix - f0_0)[voiced].mean(), 0.4 * (f0_full - f0_0)[voiced].mean(), atol=1e-4)
    spread = [f0_range(f, voiced) for f in (f0_0, f0_mix, f0_full)]
    assert np.isclose(spread[1], spread[0] + 0.4 * (spread[2] - spread[0]), atol=1e-4)


def test_only_rejects_an_unknown_stage(tmp_path):
    from typer.testing import CliRunner

    from emogen.cli.main import app

    folder = tmp_path / "voice"
    build_tiny_voice_pipeline().save_pretrained(folder)
    for stage in ("everything", "intensity"):
        assert CliRunner().invoke(app, ["train", "voice", "--output", str(folder), "--only", stage]).exit_code == 2
