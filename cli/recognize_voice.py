"""``emogen recognize voice``: the emotion distribution and VAD the speech encoder hears in a recording."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._apps import recognize_app
from ._common import CheckpointOpt, MaxSecondsOpt, QuietOpt, echo_reading, examples_epilog, handle_errors

if TYPE_CHECKING:
    from emogen.emotion.reading import EmotionReading

EXAMPLES = [
    "emogen recognize voice speech.wav",
    "emogen recognize voice speech.m4a --json",
    "emogen recognize voice clips/ --csv readings.csv          # one row per file",
    "emogen recognize voice 'calls/**/*.mp3' --json > readings.json",
]


@recognize_app.command("voice", epilog=examples_epilog(EXAMPLES))
@handle_errors
def recognize_voice(
    input: Annotated[
        str,
        typer.Argument(
            help="Speech recording (wav, flac, ogg/opus, mp3, m4a/aac, or the audio of mp4/mov/webm/mkv; any rate, mono or stereo), "
            "or a folder or a quoted glob ('clips/*.wav') to read many."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table: one object, or with many inputs a list of objects with a 'file' key.")] = False,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write the readings to this CSV file, one row per file: file, emotion, category, intensity (and the reading's other fields), valence, arousal, dominance, p_<category>..."),
    ] = None,
    max_seconds: MaxSecondsOpt = 600.0,
    checkpoint: CheckpointOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Print the emotion distribution, valence/arousal/dominance and intensity heard in a voice clip.

    Given a folder or a glob, every file is read in one process with the encoder loaded once and the
    readings are printed as one table (one line per file), a JSON list (--json) or written to --csv; a file
    that fails is reported on stderr on one line and left out, and the exit code is 1 when any failed.
    """
    import torch

    from emogen.utils import check_writable
    from emogen.voice.audio import load_audio
    from emogen.voice.batch import find_inputs, input_path, is_batch_input, run_batch
    from emogen.voice.recognize import load_speech_encoder, recognize_emotion

    torch.set_num_threads(1)  # a small model: one thread is fastest, and never oversubscribes a busy CPU
    input = input_path(input)
    if csv_path is not None:
        check_writable(csv_path)
    batch = is_batch_input(input)
    if not batch:
        audio, sample_rate = load_audio(input, max_seconds=max_seconds)
        encoder, bank = load_speech_encoder(str(checkpoint) if checkpoint is not None else None)
        heard = recognize_emotion(audio, sample_rate, encoder, bank)
        if csv_path is not None:
            write_csv(csv_path, {input: heard})
        echo_reading(heard, as_json)
        return

    inputs = find_inputs(input)
    encoder, bank = load_speech_encoder(str(checkpoint) if checkpoint is not None else None)

    def job(path: Path) -> EmotionReading:
        audio, sample_rate = load_audio(path, max_seconds=max_seconds)
        return recognize_emotion(audio, sample_rate, encoder, bank)

    report = run_batch(inputs, job, report=lambda line: typer.echo(f"error: {line}", err=True), progress=not quiet, desc="reading")
    readings = report.results
    if csv_path is not None and readings:
        write_csv(csv_path, readings)
    if as_json:
        import json

        typer.echo(json.dumps([{"file": str(path), **heard.to_dict()} for path, heard in readings.items()]))
    elif readings:
        typer.echo(format_readings(readings))
    if report.failed:
        typer.echo(f"error: {len(report.failed)} of {len(inputs)} files failed (listed above)", err=True)
        raise typer.Exit(code=1)


def reading_row(path: Path, heard: EmotionReading) -> dict[str, object]:
    """One flat record of a reading: the file, the scalar fields of its ``to_dict()`` (emotion, category,
    intensity, ...), then valence/arousal/dominance, then a ``p_<category>`` each."""
    record = heard.to_dict()
    vad, probabilities = record.pop("vad"), record.pop("probabilities")
    row: dict[str, object] = {"file": str(path), **record, **vad}  # type: ignore[dict-item]
    row.update({f"p_{name}": p for name, p in probabilities.items()})  # type: ignore[union-attr]
    return row


def write_csv(path: Path, readings: dict[Path, EmotionReading]) -> None:
    """Write one CSV row per reading (see :func:`reading_row`), atomically."""
    import csv

    from emogen.utils import atomic_output

    rows = [reading_row(p, heard) for p, heard in readings.items()]
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def format_readings(readings: dict[Path, EmotionReading]) -> str:
    """One line per file: the file, the heard emotion (or its ``label``, e.g. ``uncertain``), the top probability and VAD."""
    width = max(len("file"), *(len(str(p)) for p in readings))
    lines = [f"{'file':<{width}}  {'emotion':<16} {'p':>5}  {'valence':>7} {'arousal':>7} {'dominance':>9}"]
    for path, heard in readings.items():
        v, a, d = heard.vad
        p = heard.probabilities.get(heard.category, 0.0)
        label = getattr(heard, "label", heard.spec.format())
        lines.append(f"{str(path):<{width}}  {label:<16} {p:5.2f}  {v:+7.2f} {a:+7.2f} {d:+9.2f}")
    return "\n".join(lines)
