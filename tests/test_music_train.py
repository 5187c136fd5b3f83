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
    assert scores["data"]["train"] == 24

    from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

    pipe = EmoMusicPipeline.from_pretrained(str(out))
    pipe.set_progress_bar_config(disable=True)
    music = pipe("sad:0.6", num_bars=3, generator=torch.Generator().manual_seed(0))
    assert music.codes.shape[:2] == (1, 3)
