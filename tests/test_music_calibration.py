"""The intensity calibration: fitting the power of the guidance ramp, and the pipeline reading it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emogen.music.calibration import LEVELS, fit_intensity_power, intensity_response, moving_statistics, step_shares
from emogen.testing import build_tiny_music_pipeline

X = np.array(LEVELS)


@pytest.mark.parametrize(("curve", "side"), [(X, 0), (np.sqrt(X), 1), (1 - (1 - X) ** 2, 1), (X**2, -1)])
def test_fitted_power_evens_the_steps(curve, side):
    """A response r(w) measured at the levels gets the power p whose steps r(a**p) are most even: 1 for a
    linear one, above 1 for one that moves early (held back at low intensities), below 1 for one that moves late."""
    response = {"m": 3.0 - 2.0 * curve}  # direction and scale do not matter
    fitted = fit_intensity_power(response)
    assert np.sign(round(fitted - 1.0, 6)) == side
    assert step_shares(response, fitted)["m"] <= step_shares(response, 1.0)["m"]
    if side:
        assert step_shares(response, fitted)["m"] < 0.35 < 0.4 < step_shares(response, 1.0)["m"]


def test_power_serves_the_worst_measure_and_ignores_flat_ones():
    assert fit_intensity_power({"flat": [2.0] * 5}) == 1.0
    early, late = list(np.sqrt(X)), list(X**2)
    assert fit_intensity_power({"flat": [2.0] * 5, "early": early}) == fit_intensity_power({"early": early}) > 1.0
    both = fit_intensity_power({"early": early, "late": late})  # opposite wishes: a compromise between them
    assert fit_intensity_power({"late": late}) < both < fit_intensity_power({"early": early})
    assert step_shares({"a": [0, 1, 2, 3, 4]}, 1.0) == {"a": pytest.approx(0.25)}


def test_pipeline_reads_the_priors_powers():
    pipe = build_tiny_music_pipeline()
    assert pipe.intensity_power("happy:0.5") == 1.0  # no fitted powers: linear
    pipe.prior.register_to_config(intensity_powers={"happy": 2.0, "sad": 1.0})
    assert pipe.intensity_power("happy:0.5") == 2.0
    assert pipe.intensity_power("calm:0.5") == 1.0  # not fitted
    assert pipe.intensity_power("happy:0.6+sad:0.2") == pytest.approx((2.0 * 0.6 + 1.0 * 0.2) / 0.8)
    assert pipe.intensity_power("va:0.5,0.5") == 1.0

    def codes(**kwargs) -> torch.Tensor:
        return pipe("happy:0.5", num_bars=2, generator=torch.Generator().manual_seed(3), **kwargs).codes

    assert torch.equal(codes(), codes(intensity_guidance=2.0))  # the default is the fitted power
    assert not torch.equal(codes(), codes(intensity_guidance=1.0))
    with pytest.raises(ValueError, match="intensity_guidance"):
        codes(intensity_guidance=0.0)


def test_intensity_response_has_one_value_per_level():
    pipe = build_tiny_music_pipeline()
    pipe.set_progress_bar_config(disable=True)
    response = intensity_response(pipe, "angry", count=2, bars=2, levels=(0.0, 1.0), batch=2)
    assert set(response) >= {"critic_target", "notes_per_second", "velocity_mean"}
    assert all(len(v) == 2 for v in response.values())
    assert all(0.0 <= p <= 1.0 for p in response["critic_target"])


def test_moving_statistics_of_real_quadrants(data_root):
    from emogen.music.dataset import load_music_clips

    moving = moving_statistics(load_music_clips("train", str(data_root), limit=80), bars=8)
    assert set(moving) <= {"happy", "angry", "sad", "calm"} and moving
    assert all(abs(v) >= 0.10 for shifts in moving.values() for v in shifts.values())
    if "notes_per_second" in moving.get("angry", {}) and "notes_per_second" in moving.get("calm", {}):
        assert moving["angry"]["notes_per_second"] > 0 > moving["calm"]["notes_per_second"]
