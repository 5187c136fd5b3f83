"""``emogen music``: bad input exits 2 with one line and no file; good input writes a readable MIDI."""

from __future__ import annotations

import pretty_midi
import pytest
from typer.testing import CliRunner

from emogen.cli.main import app

runner = CliRunner()


def _shipped_or_skip():
    from emogen.errors import CheckpointNotFoundError
    from emogen.pipeline_utils import checkpoint_path

    try:
        return checkpoint_path("music")
    except CheckpointNotFoundError:
        pytest.skip("checkpoints/music is not shipped in this checkout (train it with `emogen train music`)")


def _one_line_error(result) -> None:
    assert result.exit_code == 2, result.output
    text = result.stderr if result.stderr_bytes is not None else result.output
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), text


@pytest.mark.parametrize(
    "args",
    [
        ["--bars", "0"],
        ["--bars", "100000"],
        ["--emotion", "hapy:0.7"],
        ["--emotion", "happy:1.5"],
        ["--guidance", "-1"],
        ["--tempo", "1000"],
        ["--candidates", "0"],
    ],
)
def test_bad_arguments_exit_2_without_output(tmp_path, args):
    out = tmp_path / "out.mid"
    result = runner.invoke(app, ["music", *args, "-o", str(out)])
    _one_line_error(result)
    assert not out.exists()


def test_unwritable_output_exits_2(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    out = blocker / "out.mid"  # a file stands where the folder should be
    result = runner.invoke(app, ["music", "--bars", "2", "-o", str(out)])
    _one_line_error(result)
    assert not out.exists()


def test_wrong_suffix_and_missing_output(tmp_path):
    _one_line_error(runner.invoke(app, ["music", "--bars", "2", "-o", str(tmp_path / "out.mp3")]))
    _one_line_error(runner.invoke(app, ["music", "--bars", "2"]))
    assert list(tmp_path.iterdir()) == []


def test_transfer_corrupt_midi_exits_2(tmp_path):
    _shipped_or_skip()
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    out = tmp_path / "b.mid"
    result = runner.invoke(app, ["music", "transfer", "--input", str(bad), "--emotion", "sad:0.8", "-o", str(out)])
    _one_line_error(result)
    assert not out.exists()


def test_transfer_bad_element_exits_2(tmp_path):
    out = tmp_path / "b.mid"
    result = runner.invoke(app, ["music", "transfer", "--input", str(tmp_path / "a.mid"), "--elements", "timbre", "-o", str(out)])
    _one_line_error(result)
    assert not out.exists()


def test_generate_with_shipped_checkpoint_is_deterministic(tmp_path):
    _shipped_or_skip()
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for path in (a, b):
        result = runner.invoke(app, ["music", "--emotion", "happy:0.7", "--bars", "4", "--seed", "0", "-q", "-o", str(path)])
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    midi = pretty_midi.PrettyMIDI(str(a))
    assert len(midi.instruments) == 1 and len(midi.instruments[0].notes) > 0


def test_transfer_with_shipped_checkpoint(tmp_path):
    _shipped_or_skip()
    src, out = tmp_path / "a.mid", tmp_path / "b.mid"
    assert runner.invoke(app, ["music", "-e", "happy", "--bars", "3", "--seed", "1", "-q", "-o", str(src)]).exit_code == 0
    result = runner.invoke(app, ["music", "transfer", "--input", str(src), "-e", "sad:0.8", "--elements", "pitch,velocity",
                                "--seed", "0", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pretty_midi.PrettyMIDI(str(out)).instruments[0].notes) > 0


def test_recognize_music_reads_generated_quadrants(tmp_path):
    """The critic that reranks candidates hears the asked-for arousal in the piece it picked (JSON round-trip;
    arousal is what it reads best, 0.87 on real test clips, against 0.62 for the quadrant); a missing or corrupt
    file exits 2."""
    import json

    for emotion, same_arousal in (("angry", {"angry", "happy"}), ("sad", {"sad", "calm"})):
        out = tmp_path / f"{emotion}.mid"
        args = ["music", "-e", f"{emotion}:1", "--bars", "8", "--seed", "0", "--candidates", "4", "-q", "-o", str(out)]
        assert runner.invoke(app, args).exit_code == 0
        result = runner.invoke(app, ["recognize", "music", str(out), "--json"])
        assert result.exit_code == 0, result.output
        reading = json.loads(result.output)
        assert set(reading["probabilities"]) == {"happy", "angry", "sad", "calm"}
        assert abs(sum(reading["probabilities"].values()) - 1) < 1e-3
        assert reading["category"] in same_arousal
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    assert runner.invoke(app, ["recognize", "music", str(bad)]).exit_code == 2
    assert runner.invoke(app, ["recognize", "music", str(tmp_path / "missing.mid")]).exit_code == 2
