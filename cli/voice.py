"""``emogen voice``: convert a recording to an emotion at an intensity, keeping the speaker and the words."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from ._apps import app
from ._common import CheckpointOpt, DeviceOpt, EmotionOpt, MaxSecondsOpt, OutputOpt, QuietOpt, SeedOpt, ThreadsOpt, examples_epilog, handle_errors

EXAMPLES = [
    "emogen voice --input neutral.wav --emotion angry:0.8 -o angry.wav",
    "emogen voice -i talk.flac -e sad:0.5 --steps 20 --guidance 2 --seed 7 -o sad.flac",
    "emogen voice -i interview.wav -e happy:0.6+surprised:0.3 --max-seconds 7200 -o happy.wav",
]


@app.command("voice", epilog=examples_epilog(EXAMPLES))
@handle_errors
def voice(
    input: Annotated[Path, typer.Option("--input", "-i", help="Speech recording: anything soundfile reads, any rate, mono or stereo.")],
    output: OutputOpt,
    emotion: EmotionOpt = "angry:0.8",
    steps: Annotated[int, typer.Option("--steps", min=1, max=1000, help="Denoising steps (DDIM).")] = 10,
    guidance: Annotated[float, typer.Option("--guidance", min=0.0, help="Classifier-free guidance on the emotion (1 = off).")] = 2.0,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0, help="Scale of the initial noise: lower = more typical prosody, higher = more varied.")] = 0.5,
    rate: Annotated[float | None, typer.Option("--rate", help="Duration factor (1.2 = 20% slower); default: the emotion's own rate.")] = None,
    max_seconds: MaxSecondsOpt = 600.0,
    seed: SeedOpt = None,
    device: DeviceOpt = "auto",
    checkpoint: CheckpointOpt = None,
    threads: ThreadsOpt = 1,
    quiet: QuietOpt = False,
) -> None:
    """Convert speech to an emotion at an intensity (WORLD + diffusion), keeping who speaks and what is said.

    The output keeps the input's sample rate (mono); its length changes only by the speaking rate of the
    emotion (or --rate).
    """
    import torch
    from tqdm import tqdm

    from emogen.emotion import EmotionSpec
    from emogen.errors import EmotionSpecError, InputError
    from emogen.pipelines.pipeline_emo_voice import CHUNK_SECONDS, EmoVoicePipeline
    from emogen.utils import check_writable, resolve_device
    from emogen.voice.audio import SILENCE_DBFS, probe_audio
    from emogen.voice.stream import convert_file, file_peak

    # cheap checks first, so bad input fails at once and leaves no output
    spec = EmotionSpec.parse(emotion)
    if spec.kind == "auto":
        msg = "--emotion auto is not supported for voice conversion; give the target, e.g. 'angry:0.8'"
        raise EmotionSpecError(msg)
    check_writable(output)
    info = probe_audio(input, max_seconds=max_seconds)
    peak = file_peak(info)
    if peak <= 10 ** (SILENCE_DBFS / 20):
        msg = f"input {str(input)!r} is all silence (peak {20 * math.log10(max(peak, 1e-12)):.0f} dBFS); give a recording with speech in it"
        raise InputError(msg)
    target = resolve_device(device)
    torch.set_num_threads(threads)

    if checkpoint is not None:
        pipe = EmoVoicePipeline.from_pretrained(str(checkpoint))
    else:
        pipe = EmoVoicePipeline.from_shipped("voice")
    pipe = pipe.to(target)
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def convert(chunk, sample_rate: int):
        return pipe(chunk, sample_rate, emotion=spec, num_inference_steps=steps, guidance_scale=guidance, temperature=temperature, rate=rate, generator=generator).audios[0]

    with tqdm(total=round(info.seconds, 1), unit="s", disable=quiet, desc="converting") as bar:
        convert_file(info, output, convert, chunk_seconds=CHUNK_SECONDS, on_chunk=lambda s: bar.update(round(s, 1)))
    if not quiet:
        typer.echo(f"wrote {output} ({spec.format()}, {info.sample_rate} Hz)")
