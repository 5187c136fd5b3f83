"""``emogen voice``: convert a recording to an emotion at an intensity, keeping the speaker and the words."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._apps import app
from ._common import CheckpointOpt, DeviceOpt, EmotionOpt, MaxSecondsOpt, QuietOpt, SeedOpt, ThreadsOpt, examples_epilog, handle_errors

EXAMPLES = [
    "emogen voice --input neutral.wav --emotion angry:0.8 -o angry.wav",
    "emogen voice -i speech.m4a -e happy:0.7 -o happy.flac",
    "emogen voice -i talk.flac -e sad:0.5 --steps 20 --guidance 2 --seed 7 -o sad.mp3",
    "emogen voice -i interview.wav -e happy:0.6+surprised:0.3 --max-seconds 7200 -o happy.wav",
    "emogen voice -i clips/ -e angry:0.8 -o angry/              # every recording in clips/ -> angry/<name>.wav",
    "emogen voice -i 'calls/*.m4a' -e calm:0.5 --format m4a -o calm/",
]

InputOpt = Annotated[
    str,
    typer.Option(
        "--input",
        "-i",
        help="Speech recording (wav, flac, ogg/opus, mp3, m4a/aac, or the audio of mp4/mov/webm/mkv; any rate, mono or stereo), "
        "or a folder or a quoted glob ('clips/*.m4a', '**' recurses) to convert many in one run.",
    ),
]
VoiceOutputOpt = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="Output file, format from its suffix: .wav, .flac, .ogg, .mp3 or .m4a. With many inputs: a folder "
        "(created if missing) that receives <input stem>.<--format>. Written atomically (no partial file on failure).",
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option("--format", help="Output format with many inputs: wav (default), flac, ogg, mp3 or m4a. With one input the suffix of -o decides."),
]


@app.command("voice", epilog=examples_epilog(EXAMPLES))
@handle_errors
def voice(
    input: InputOpt,
    output: VoiceOutputOpt,
    emotion: EmotionOpt = "angry:0.8",
    steps: Annotated[int, typer.Option("--steps", min=1, max=1000, help="Denoising steps (DDIM).")] = 10,
    guidance: Annotated[float, typer.Option("--guidance", min=0.0, help="Classifier-free guidance on the emotion (1 = off).")] = 2.0,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0, help="Scale of the initial noise: lower = more typical prosody, higher = more varied.")] = 0.5,
    rate: Annotated[float | None, typer.Option("--rate", help="Duration factor (1.2 = 20% slower); default: the emotion's own rate.")] = None,
    keep_timing: Annotated[bool, typer.Option("--keep-timing", help="Keep the input's timing: the output is exactly as long as the input (for dubbing); same as --rate 1.")] = False,
    sample_rate: Annotated[int | None, typer.Option("--sample-rate", min=8000, max=192000, help="Output sample rate in Hz (default: the input's; above 16 kHz the band above 8 kHz is kept).")] = None,
    fmt: FormatOpt = None,
    max_seconds: MaxSecondsOpt = 600.0,
    seed: SeedOpt = None,
    device: DeviceOpt = "auto",
    checkpoint: CheckpointOpt = None,
    threads: ThreadsOpt = 1,
    quiet: QuietOpt = False,
) -> None:
    """Convert speech to an emotion at an intensity (WORLD + diffusion), keeping who speaks and what is said.

    The output is mono at the input's sample rate or --sample-rate (a stereo input is mixed down first), full
    band for 44.1 and 48 kHz recordings; its length changes only by the speaking rate of the emotion (or
    --rate; --keep-timing keeps it). Given a folder or a glob, every file is converted
    in one process with the model loaded once: a file that fails is reported on one line and skipped, the
    others are written, and the exit code is 1 when any failed. With --seed, each file gets the output it
    would get on its own.
    """
    import torch

    from emogen.emotion import EmotionSpec
    from emogen.errors import EmotionSpecError, InputError
    from emogen.pipelines.pipeline_emo_voice import CHUNK_SECONDS, EmoVoicePipeline
    from emogen.utils import check_writable, resolve_device
    from emogen.voice.audio import output_format, probe_audio
    from emogen.voice.batch import find_inputs, input_path, is_batch_input, plan_outputs, run_batch
    from emogen.voice.stream import check_not_silent, convert_file

    # cheap checks first, so bad input fails at once and leaves no output
    input = input_path(input)
    spec = EmotionSpec.parse(emotion)
    if spec.kind == "auto":
        msg = "--emotion auto is not supported for voice conversion; give the target, e.g. 'angry:0.8'"
        raise EmotionSpecError(msg)
    if keep_timing:
        if rate is not None and rate != 1.0:
            msg = f"--keep-timing keeps the input's length, --rate {rate:g} changes it; give one of them"
            raise InputError(msg)
        rate = 1.0
    batch = is_batch_input(input)
    if batch:
        suffix = output_format(Path(f"out.{(fmt or 'wav').lower().lstrip('.')}"))
        inputs = find_inputs(input)
        plan = plan_outputs(inputs, output, suffix)
        check_writable(output / f"out.{suffix}")
    else:
        if fmt is not None and output_format(Path(f"out.{fmt.lower().lstrip('.')}")) != output_format(output):
            msg = f"--format {fmt} does not match the output {str(output)!r}; with one input the suffix of -o decides (e.g. -o out.{fmt})"
            raise InputError(msg)
        output_format(output)
        check_writable(output)
        if output.exists() and input.exists() and output.resolve() == input.resolve():
            msg = f"output {str(output)!r} is the input; choose another -o path"
            raise InputError(msg)
        info = probe_audio(input, max_seconds=max_seconds)
        check_not_silent(info)
    target = resolve_device(device)
    torch.set_num_threads(threads)

    if checkpoint is not None:
        pipe = EmoVoicePipeline.from_pretrained(str(checkpoint))
    else:
        pipe = EmoVoicePipeline.from_shipped("voice")
    pipe = pipe.to(target)
    pipe.set_progress_bar_config(disable=True)

    def convert_one(info, destination: Path, on_chunk=None) -> None:
        generator = torch.Generator().manual_seed(seed) if seed is not None else None  # per file: order-independent

        def convert(chunk, chunk_rate: int):
            out = pipe(chunk, chunk_rate, emotion=spec, num_inference_steps=steps, guidance_scale=guidance, temperature=temperature, rate=rate,
                       generator=generator, output_sample_rate=out_rate(info))
            return out.audios[0]

        convert_file(info, destination, convert, chunk_seconds=CHUNK_SECONDS, on_chunk=on_chunk, sample_rate=out_rate(info))

    def out_rate(info) -> int:
        return int(sample_rate or info.sample_rate)

    if not batch:
        from tqdm import tqdm

        with tqdm(total=round(info.seconds, 1), unit="s", disable=quiet, desc="converting") as bar:
            convert_one(info, output, on_chunk=lambda s: bar.update(round(s, 1)))
        if not quiet:
            mixed = f", mono: {info.channels} channels mixed down" if info.channels > 1 else ""
            typer.echo(f"wrote {output} ({spec.format()}, {out_rate(info)} Hz{mixed})")
        return

    def job(path: Path):
        info = probe_audio(path, max_seconds=max_seconds)
        check_not_silent(info)
        convert_one(info, plan[path])
        return info

    report = run_batch(inputs, job, report=lambda line: typer.echo(f"error: {line}", err=True), progress=not quiet, desc="converting")
    if not quiet:
        seconds = sum(info.seconds for info in report.results.values())
        mixed = any(info.channels > 1 for info in report.results.values())
        note = ", mono: stereo inputs mixed down" if mixed else ""
        typer.echo(f"wrote {len(report.results)} of {len(inputs)} files to {output}/ ({spec.format()}, {suffix}, {seconds:.0f} s of audio{note})")
    if report.failed:
        typer.echo(f"error: {len(report.failed)} of {len(inputs)} files failed (listed above); the others were written", err=True)
        raise typer.Exit(code=1)
