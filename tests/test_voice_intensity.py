"""Intensity curves: the asked intensity maps to the model's so that the converter's change grows evenly."""

from __future__ import annotations

import numpy as np

from emogen.emotion import EmotionSpec
from emogen.testing import build_tiny_voice_pipeline
from emogen.voice.intensity import CURVE_POINTS, calibrated_spec, fit_intensity_curve, fit_intensity_curves, source_conditions


def test_a_late_response_is_inverted_into_even_steps():
    amounts = np.linspace(0, 1, 21)
    # a converter that does nothing below 0.3 and then rises quickly (like one trained at 0, 0.6 and 1 only)
    progress = np.clip((amounts - 0.3) / 0.7, 0, 1) ** 0.7
    response = np.stack([progress * 2.0, progress * -1.0], axis=1)
    curve = np.array(fit_intensity_curve(response, amounts))
    assert len(curve) == CURVE_POINTS and curve[0] == 0.0 and abs(curve[-1] - 1.0) < 1e-6
    assert np.all(np.diff(curve) >= 0)
    # asking for u gives a model intensity whose progress is u
    achieved = np.interp(curve, amounts, progress)
    assert np.allclose(achieved, np.linspace(0, 1, CURVE_POINTS), atol=0.02)
    assert curve[1] > 0.3  # the first step already reaches the responsive range


def test_a_flat_response_keeps_the_asked_intensity():
    amounts = np.linspace(0, 1, 5)
    assert np.allclose(fit_intensity_curve(np.zeros((5, 3)), amounts), np.linspace(0, 1, CURVE_POINTS))


def test_calibrated_spec_maps_each_component_and_leaves_others():
    curves = {"angry": list(np.linspace(0, 1, CURVE_POINTS) ** 0.5)}
    spec = calibrated_spec(EmotionSpec.parse("angry:0.25+sad:0.5"), curves)
    expected = float(np.interp(0.25, np.linspace(0, 1, CURVE_POINTS), curves["angry"]))  # between 0.2 and 0.3 on the curve
    assert dict(spec.components) == {"angry": expected, "sad": 0.5} and expected > 0.45
    va = EmotionSpec.parse("va:0.5,0.5")
    assert calibrated_spec(va, curves) == va
    assert calibrated_spec(EmotionSpec.parse("angry:0.3"), None) == EmotionSpec.parse("angry:0.3")


def test_curves_are_measured_on_a_pipeline_and_survive_save_load(tmp_path):
    pipe = build_tiny_voice_pipeline()
    t = np.arange(16000) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    curves = fit_intensity_curves(pipe, source_conditions(pipe, [speech]), categories=["angry"], num_inference_steps=2)
    assert set(curves) == {"angry"} and len(curves["angry"]) == CURVE_POINTS and np.all(np.diff(curves["angry"]) >= -1e-9)
    pipe.denoiser.register_to_config(intensity_curves=curves)
    pipe.save_pretrained(tmp_path / "p")
    loaded = type(pipe).from_pretrained(tmp_path / "p")
    assert loaded.denoiser.config.intensity_curves == curves


def test_only_intensity_stage_writes_curves_into_an_existing_folder(tmp_path, monkeypatch):
    """`emogen train voice --only intensity` stores measured curves in denoiser/config.json and scores.json."""
    import json

    from typer.testing import CliRunner

    import emogen.training.voice as recipe
    from emogen.cli.main import app

    folder = tmp_path / "voice"
    build_tiny_voice_pipeline().save_pretrained(folder)
    curve = [round(x, 3) for x in np.linspace(0, 1, CURVE_POINTS) ** 0.5]
    monkeypatch.setattr(recipe, "ravdess_intensity_curves", lambda pipe, root=None: {"angry": curve})  # no RAVDESS needed
    result = CliRunner().invoke(app, ["train", "voice", "--output", str(folder), "--only", "intensity"])
    assert result.exit_code == 0, result.output
    assert json.loads((folder / "denoiser" / "config.json").read_text())["intensity_curves"] == {"angry": curve}
    assert json.loads((folder / "scores.json").read_text())["intensity_curves"] == {"angry": curve}
    bad = CliRunner().invoke(app, ["train", "voice", "--output", str(folder), "--only", "everything"])
    assert bad.exit_code == 2
