"""emogen's light DDIMScheduler gives the same timesteps and updates as diffusers' DDIMScheduler."""

from __future__ import annotations

import json

import pytest
import torch

from emogen.checkpoints_index import checkpoint_path
from emogen.schedulers import DDIMScheduler

CONFIGS = [
    {"beta_schedule": "squaredcos_cap_v2", "prediction_type": "v_prediction", "clip_sample": False},
    {"beta_schedule": "linear", "prediction_type": "epsilon", "clip_sample": True},
    {"beta_schedule": "scaled_linear", "prediction_type": "sample", "timestep_spacing": "trailing", "set_alpha_to_one": False},
    {"beta_schedule": "linear", "prediction_type": "epsilon", "timestep_spacing": "linspace", "rescale_betas_zero_snr": True},
]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("steps", [1, 7, 10, 50])
def test_matches_diffusers_ddim(config, steps):
    from diffusers import DDIMScheduler as DiffusersDDIM

    ours, theirs = DDIMScheduler(**config), DiffusersDDIM(**config)
    ours.set_timesteps(steps)
    theirs.set_timesteps(steps)
    assert ours.timesteps.tolist() == theirs.timesteps.tolist()
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 3, 16, generator=g)
    a, b = sample.clone(), sample.clone()
    for t in ours.timesteps:
        output = torch.randn(2, 3, 16, generator=g)
        a = ours.step(output, t, a).prev_sample
        b = theirs.step(output, t, b).prev_sample
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    timesteps = torch.tensor([0, 500, 999])
    noise = torch.randn(3, 4, generator=g)
    clean = torch.randn(3, 4, generator=g)
    torch.testing.assert_close(ours.add_noise(clean, noise, timesteps), theirs.add_noise(clean, noise, timesteps))


def test_eta_noise_comes_from_the_generator():
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(5)
    x = torch.ones(1, 4)
    a = scheduler.step(x, 800, x, eta=1.0, generator=torch.Generator().manual_seed(1)).prev_sample
    b = scheduler.step(x, 800, x, eta=1.0, generator=torch.Generator().manual_seed(1)).prev_sample
    c = scheduler.step(x, 800, x, eta=1.0, generator=torch.Generator().manual_seed(2)).prev_sample
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_reads_the_shipped_voice_scheduler_config_and_round_trips(tmp_path):
    scheduler = DDIMScheduler.from_pretrained(checkpoint_path("voice"), subfolder="scheduler")
    assert scheduler.config.prediction_type == "v_prediction"
    assert scheduler.config.beta_schedule == "squaredcos_cap_v2"
    scheduler.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "scheduler_config.json").read_text())
    assert data["_class_name"] == "DDIMScheduler"
    assert DDIMScheduler.from_pretrained(tmp_path).config == scheduler.config


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="beta_schedule"):
        DDIMScheduler(beta_schedule="nope")
    with pytest.raises(ValueError, match="num_inference_steps"):
        DDIMScheduler().set_timesteps(0)
    with pytest.raises(ValueError, match="set_timesteps"):
        DDIMScheduler().step(torch.zeros(1), 10, torch.zeros(1))
