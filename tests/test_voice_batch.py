"""Batches: `emogen voice --input DIR_OR_GLOB -o OUT_DIR` and `emogen recognize voice DIR_OR_GLOB` load the model
once, report a failing file on one line and go on, write the others, and exit 1 when any failed. The CLI tests
use the tiny random voice pipeline (no checkpoint needed)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from emogen.cli.main import app
from emogen.errors import InputError
from emogen.testing import build_tiny_voice_pipeline, speechlike
from emogen.voice.audio import AudioWriter, load_audio
from emogen.voice.batch import find_inputs, is_batch_input, plan_outputs, run_batch

runner = CliRunner()
SR = 16000


def lines(text: str, prefix: str = "error: ") -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


@pytest.fixture
def clips(tmp_path) -> Path:
    """A folder with three good recordings (flac, 48 kHz stereo m4a, mp3), a text file named .wav, an all-silent
    wav and a README that is not audio (not picked up from a folder)."""
    folder = tmp_path / "clips"
    folder.mkdir()
    sf.write(folder / "one.flac", speechlike(1.2), SR)
    speech48 = speechlike(1.0, sr=48000)
    with AudioWriter(folder / "two.m4a", 48000, channels=2) as out:
        out.write(np.stack([speech48, 0.8 * speech48], axis=1))
    with AudioWriter(folder / "three.mp3", 22050) as out:
        out.write(speechlike(0.8, sr=22050))
    (folder / "bad.wav").write_text("not audio")
    sf.write(folder / "quiet.wav", np.zeros(SR, dtype=np.float32), SR)
    (folder / "README.txt").write_text("notes")
    return folder


@pytest.fixture
def tiny_voice(monkeypatch):
    """Make the CLI load the tiny voice pipeline (its critic and bank for `recognize voice`); count the loads."""
    from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline

    loads = []

    def from_shipped(cls, name):
        loads.append(name)
        return build_tiny_voice_pipeline(seed=0)

    def load_speech_encoder(path=None):
        loads.append("speech_critic")
        pipe = build_tiny_voice_pipeline(seed=0)
        return pipe.speech_critic, pipe.emotion_bank

    monkeypatch.setattr(EmoVoicePipeline, "from_shipped", classmethod(from_shipped))
    monkeypatch.setattr("emogen.voice.recognize.load_speech_encoder", load_speech_encoder)
    return loads


def test_find_inputs_folder_glob_and_nothing(clips, tmp_path):
    assert [p.name for p in find_inputs(clips)] == ["bad.wav", "one.flac", "quiet.wav", "three.mp3", "two.m4a"]
    assert [p.name for p in find_inputs(str(clips / "*.wav"))] == ["bad.wav", "quiet.wav"]
    assert [p.name for p in find_inputs(str(tmp_path / "**" / "t*.*"))] == ["three.mp3", "two.m4a"]
    assert is_batch_input(clips) and is_batch_input(str(clips / "*.m4a")) and not is_batch_input(clips / "one.flac")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no audio or video files"):
        find_inputs(tmp_path / "empty")
    with pytest.raises(InputError, match="matches no files"):
        find_inputs(str(tmp_path / "*.ogg"))


def test_plan_outputs_names_collisions_and_inputs(clips, tmp_path):
    inputs = [clips / "one.flac", clips / "two.m4a"]
    plan = plan_outputs(inputs, tmp_path / "out", "wav")
    assert [p.name for p in plan.values()] == ["one.wav", "two.wav"]
    twins = [clips / "one.flac", clips / "one.mp3"]
    assert [p.name for p in plan_outputs(twins, tmp_path / "out", "wav").values()] == ["one.flac.wav", "one.mp3.wav"]
    with pytest.raises(InputError, match="would overwrite the input"):
        plan_outputs([clips / "quiet.wav"], clips, "wav")
    with pytest.raises(InputError, match="is a file"):
        plan_outputs(inputs, clips / "one.flac", "wav")
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    with pytest.raises(InputError, match="would both be written"):
        plan_outputs([tmp_path / "x" / "a.wav", tmp_path / "y" / "a.wav"], tmp_path / "out", "wav")


def test_run_batch_reports_a_failure_and_goes_on(tmp_path):
    reported = []

    def job(path: Path) -> int:
        if path.name == "b":
            msg = f"input {str(path)!r} is broken; fix it"
            raise InputError(msg)
        if path.name == "c":
            raise ValueError("bug\nwith two lines")
        return len(path.name)

    report = run_batch([Path("a"), Path("b"), Path("c"), Path("dd")], job, report=reported.append, progress=False)
    assert report.results == {Path("a"): 1, Path("dd"): 2} and not report.ok
    assert reported == ["input 'b' is broken; fix it", "c: ValueError: bug with two lines"]


def test_voice_batch_converts_the_good_files_and_exits_1(clips, tmp_path, tiny_voice):
    out = tmp_path / "out"
    result = runner.invoke(app, ["voice", "--input", str(clips), "-e", "angry:0.8", "--seed", "0", "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert tiny_voice == ["voice"]  # the model is loaded once
    errors = lines(result.output)
    assert len(errors) == 3  # bad.wav, quiet.wav, and the summary
    assert "bad.wav" in errors[0] and "quiet.wav" in errors[1] and "all silence" in errors[1]
    assert "2 of 5 files failed" in errors[2]
    assert sorted(p.name for p in out.iterdir()) == ["one.wav", "three.wav", "two.wav"]  # no temporary files
    two, rate = load_audio(out / "two.wav")
    assert rate == 48000 and two.shape[1] == 1 and abs(len(two) - 48000) < 0.02 * 48000
    assert "wrote 3 of 5 files" in result.output and "mixed down" in result.output
    # with --seed each file gets what a single run gives it
    single = tmp_path / "single.wav"
    args = ["voice", "-i", str(clips / "three.mp3"), "-e", "angry:0.8", "--seed", "0", "-q", "-o", str(single)]
    assert runner.invoke(app, args).exit_code == 0
    np.testing.assert_array_equal(sf.read(single)[0], sf.read(out / "three.wav")[0])


def test_voice_batch_glob_format_and_all_good_exits_0(clips, tmp_path, tiny_voice):
    out = tmp_path / "flacs"
    result = runner.invoke(app, ["voice", "-i", str(clips / "t*"), "-e", "sad:0.5", "--format", "flac", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["three.flac", "two.flac"]
    assert sf.info(out / "two.flac").samplerate == 48000


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda c, t: ["-i", str(t / "none" / "*.wav"), "-o", str(t / "out")], "matches no files"),
        (lambda c, t: ["-i", str(c), "-o", str(c / "one.flac")], "is a file"),
        (lambda c, t: ["-i", str(c), "-o", str(t / "out.wav")], "looks like an audio file"),  # a slip: no folder 'out.wav/'
        (lambda c, t: ["-i", str(c / "*.wav"), "-o", str(c)], "overwrite the input"),
        (lambda c, t: ["-i", str(c), "--format", "xyz", "-o", str(t / "out")], "cannot write audio format"),
        (lambda c, t: ["-i", str(c), "-e", "angy:0.8", "-o", str(t / "out")], "did you mean"),
        (lambda c, t: ["-i", "", "-o", str(t / "out")], "the input is empty"),  # not the current folder as a batch
    ],
)
def test_voice_batch_usage_errors_exit_2_before_loading(clips, tmp_path, tiny_voice, make_args, message):
    args = make_args(clips, tmp_path)
    if "-e" not in args:
        args += ["-e", "angry:0.8"]
    result = runner.invoke(app, ["voice", *args])
    assert result.exit_code == 2, result.output
    assert len(lines(result.output)) == 1 and message in result.output
    assert tiny_voice == [] and not (tmp_path / "out").exists() and not (tmp_path / "out.wav").exists()


def test_recognize_voice_refuses_an_empty_input(tiny_voice):
    result = runner.invoke(app, ["recognize", "voice", " "])
    assert result.exit_code == 2 and len(lines(result.output)) == 1 and "the input is empty" in result.output


def test_recognize_voice_batch_table_json_csv(clips, tmp_path, tiny_voice):
    result = runner.invoke(app, ["recognize", "voice", str(clips), "-q"])
    assert result.exit_code == 1
    assert tiny_voice == ["speech_critic"]
    table = [line for line in result.output.splitlines() if not line.startswith("error: ")]
    assert table[0].split()[:2] == ["file", "emotion"] and len(table) == 4
    assert len(lines(result.output)) == 3 and "bad.wav" in lines(result.output)[0]

    readings = tmp_path / "readings.csv"
    result = runner.invoke(app, ["recognize", "voice", str(clips / "t*"), "--json", "--csv", str(readings)])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [Path(r["file"]).name for r in records] == ["three.mp3", "two.m4a"]
    assert {"emotion", "probabilities", "vad"} <= set(records[0])
    with open(readings, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [Path(r["file"]).name for r in rows] == ["three.mp3", "two.m4a"]
    assert {"valence", "arousal", "dominance", "intensity"} <= set(rows[0]) and any(k.startswith("p_") for k in rows[0])
    assert float(rows[1]["valence"]) == pytest.approx(records[1]["vad"]["valence"])
