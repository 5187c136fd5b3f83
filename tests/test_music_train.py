"""The training recipe end to end on a tiny configuration (a smoke test, not a useful model)."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from emogen.cli.main import app


def test_train_music_small_writes_a_loadable_pipeline(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("EMOGEN_DATA", str(data_root))
    out = tmp_path / "music"
    result = CliRunner().invoke(app, ["train", "music", "--small", "-o", str(out)])
    assert result.exit_code == 0, result.output
    scores = json.loads((out / "scores.json").read_text())
    assert 0.0 <= scores["critic"]["test"]["quadrant"] <= 1.0
    assert 0.0 <= scores["critic"]["test"]["ece_after"] <= 1.0
    temperature = scores["critic"]["calibration"]["temperature"]
    assert temperature > 0 and json.loads((out / "music_critic" / "config.json").read_text())["temperature"] == temperature
    assert scores["data"]["train"] == 24
    assert set(scores["prior"]["sum_head"]) >= {"val_nll_conditioned", "val_nll_unconditional"}  # the first phase's scores
    assert scores["minutes"]["prior_inner"] > 0 and "prior_inner" in scores["history"]
    key = scores["key_guide"]
    assert 0.0 <= key["val_mode_accuracy"] <= 1.0 and set(key["minor_share"]) == {"Q1", "Q2", "Q3", "Q4", "all"}
    realism = scores["critic"]["realism"]  # the realism head: the training clips against 16 pieces of the recipe's own pipeline
    assert realism["generated"] == 16 and realism["real"] == 24 and 0.0 <= realism["cv_balanced_accuracy"] <= 1.0
    assert json.loads((out / "music_critic" / "config.json").read_text())["realism_head"] is True

    from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

    pipe = EmoMusicPipeline.from_pretrained(str(out))
    pipe.set_progress_bar_config(disable=True)
    music = pipe("sad:0.6", num_bars=3, generator=torch.Generator().manual_seed(0))
    assert music.codes.shape[:2] == (1, 3) and len(music.key_names) == 1


def test_only_prior_and_only_critic_retrain_one_component(data_root, tmp_path, monkeypatch):
    """``--only prior`` relearns the prior on the folder's own VQ-VAE codes and leaves the other components' files as they were."""
    monkeypatch.setenv("EMOGEN_DATA", str(data_root))
    out = tmp_path / "music"
    runner = CliRunner()
    assert runner.invoke(app, ["train", "music", "--small", "-o", str(out)]).exit_code == 0
    vq_bytes = (out / "vqvae" / "diffusion_pytorch_model.safetensors").read_bytes()
    critic_bytes = (out / "music_critic" / "diffusion_pytorch_model.safetensors").read_bytes()
    result = runner.invoke(app, ["train", "music", "--small", "--prior-steps", "5", "--only", "prior", "-o", str(out)])
    assert result.exit_code == 0, result.output
    scores = json.loads((out / "scores.json").read_text())
    assert scores["config"]["prior_steps"] == 5
    assert 0.0 <= scores["prior"]["val_quadrant_accuracy"] <= 1.0 and scores["prior"]["val_label_entropy"] >= 0.0
    assert (out / "vqvae" / "diffusion_pytorch_model.safetensors").read_bytes() == vq_bytes
    assert (out / "music_critic" / "diffusion_pytorch_model.safetensors").read_bytes() == critic_bytes
    assert not list(out.glob(".prior*")), "the swap left a temporary folder"
    result = runner.invoke(app, ["train", "music", "--small", "--only", "critic", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "vqvae" / "diffusion_pytorch_model.safetensors").read_bytes() == vq_bytes
    assert "realism" in json.loads((out / "scores.json").read_text())["critic"]  # --only critic refits the realism head too
    critic_config = json.loads((out / "music_critic" / "config.json").read_text())
    result = runner.invoke(app, ["train", "music", "--small", "--only", "realism", "-o", str(out)])
    assert result.exit_code == 0, result.output
    refit = json.loads((out / "music_critic" / "config.json").read_text())
    assert refit["temperature"] == critic_config["temperature"] and refit["realism_head"] is True  # the rest of the critic kept
    assert json.loads((out / "scores.json").read_text())["minutes"]["realism"] > 0
    (out / "model_index.json").write_text(json.dumps({k: v for k, v in json.loads((out / "model_index.json").read_text()).items() if k != "key_guide"}))
    result = runner.invoke(app, ["train", "music", "--small", "--only", "key", "-o", str(out)])  # a folder from before the key guide
    assert result.exit_code == 0, result.output
    assert json.loads((out / "model_index.json").read_text())["key_guide"] == ["emogen.music.key_guide", "KeyCodeGuide"]
    assert (out / "vqvae" / "diffusion_pytorch_model.safetensors").read_bytes() == vq_bytes

    from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

    pipe = EmoMusicPipeline.from_pretrained(str(out))
    assert pipe.prior.config.tie_embeddings and pipe.key_guide is not None
    pipe.set_progress_bar_config(disable=True)
    assert pipe("calm:0.5", num_bars=2, generator=torch.Generator().manual_seed(0)).codes.shape[:2] == (1, 2)


def test_only_prior_inner_trains_the_in_bar_transformer_on_frozen_bar_states(data_root, tmp_path, monkeypatch):
    """``--only prior-inner`` keeps the prior's bar transformer, emotion projection and code tables bit for bit
    and retrains the in-bar transformer and column heads; the scores keep the first phase's."""
    monkeypatch.setenv("EMOGEN_DATA", str(data_root))
    out = tmp_path / "music"
    runner = CliRunner()
    assert runner.invoke(app, ["train", "music", "--small", "-o", str(out)]).exit_code == 0
    from emogen.music.prior import EmotionCodePrior
    from emogen.training.music import INNER_PARAMETERS

    before = EmotionCodePrior.from_pretrained(str(out / "prior")).state_dict()
    sum_head = json.loads((out / "scores.json").read_text())["prior"]["sum_head"]
    result = runner.invoke(app, ["train", "music", "--small", "--prior-inner-steps", "3", "--only", "prior-inner", "-o", str(out)])
    assert result.exit_code == 0, result.output
    after = EmotionCodePrior.from_pretrained(str(out / "prior"))
    assert after.config.inner_layers == 2
    state = after.state_dict()
    frozen = [k for k in before if not k.startswith(INNER_PARAMETERS)]
    assert frozen and all(torch.equal(state[k], before[k]) for k in frozen)
    assert any(not torch.equal(state[k], before[k]) for k in before if k.startswith("inner."))
    scores = json.loads((out / "scores.json").read_text())
    assert scores["prior"]["sum_head"] == sum_head and scores["config"]["prior_inner_steps"] == 3


def test_prior_dropout_reaches_the_prior():
    from emogen.training.music import MusicTrainConfig, _init_prior

    config = MusicTrainConfig(prior_d_model=32, prior_layers=1, prior_heads=2, prior_dropout=0.3)
    prior = _init_prior(config, [8, 8, 8, 8], 16)
    assert prior.config["dropout"] == 0.3
    assert all(layer.dropout.p == 0.3 for layer in prior.transformer.layers)
    assert MusicTrainConfig().prior_dropout == 0.1  # the shipped prior's


def test_prior_windows_leave_out_each_clips_final_bar():
    """A clip's final bar is an ending (about half the notes of the others): with ``prior_drop_final_bar`` the prior's
    training windows never hold it; by default (the shipped prior) they do."""
    from emogen.emotion import EmotionBank
    from emogen.training.music import MusicTrainConfig, _init_prior, _prior_step
    from emogen.training.recipe import TrainRun

    final = 7  # a code that only the final bars hold
    sequences = [(torch.cat([torch.randint(0, 6, (n - 1, 4)), torch.full((1, 4), final)]), "happy") for n in (3, 5, 20)]

    def seen(drop: bool) -> set[int]:
        config = MusicTrainConfig(prior_d_model=16, prior_layers=1, prior_heads=2, prior_bars=16, prior_batch=8,
                                  prior_copy_bars=0, prior_inner_layers=0, prior_drop_final_bar=drop)
        prior = _init_prior(config, [8, 8, 8, 8], 16)
        codes_seen: set[int] = set()
        forward = prior.forward

        def spy(codes, *args, **kwargs):
            codes_seen.update(codes.unique().tolist())
            return forward(codes, *args, **kwargs)

        prior.forward = spy
        step = _prior_step(prior, sequences, EmotionBank(), config, TrainRun())
        gen = torch.Generator().manual_seed(0)
        for i in range(20):
            step(i, gen)
        return codes_seen

    assert final not in seen(True)
    assert final in seen(False)
    assert not MusicTrainConfig().prior_drop_final_bar
