"""``emogen portrait``: animate a portrait photo with speech, in an emotion at an intensity."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._apps import app
from ._common import CheckpointOpt, DeviceOpt, EmotionOpt, MaxSecondsOpt, OutputOpt, QuietOpt, SeedOpt, ThreadsOpt, examples_epilog, handle_errors

EXAMPLES = [
    "emogen portrait --audio a.wav --image face.png --emotion happy:0.7 -o out.mp4",
    "emogen portrait --audio talk.m4a --image face.jpg -e sad:0.5 --size 512 --seed 1 -o sad.mp4",
    "emogen portrait --audio a.wav --image face.png --emotion auto -o matching.mp4",
    "emogen portrait --audio a.wav --image face.png -e angry:1 -o still.png",
]


def _limit_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in torch and OpenCV (the models and frames are small)."""
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


@app.command("portrait", epilog=examples_epilog(EXAMPLES))
@handle_errors
def portrait(
    audio: Annotated[Path, typer.Option("--audio", "-a", help="Speech: wav, flac, ogg, mp3, m4a (or a video's audio track).")],
    image: Annotated[Path, typer.Option("--image", "-i", help="Portrait photo (png, jpg) with one frontal face.")],
    output: OutputOpt,
    emotion: EmotionOpt = "neutral",
    size: Annotated[int, typer.Option("--size", min=64, max=2048, help="Side of the square output frames in pixels.")] = 256,
    fps: Annotated[float, typer.Option("--fps", min=1.0, max=120.0, help="Output frame rate.")] = 25.0,
    steps: Annotated[int, typer.Option("--steps", min=1, max=1000, help="Denoising steps (DDIM).")] = 10,
    audio_guidance: Annotated[float, typer.Option("--audio-guidance", min=0.0, help="Guidance toward the audio: >1 opens the mouth wider than the model predicts (1 = off).")] = 1.0,
    emotion_guidance: Annotated[float, typer.Option("--emotion-guidance", min=0.0, help="Guidance toward the emotion at intensity 1, measured from a neutral face, on top of the audio (1 = the mean expression of a MEAD clip, 2 = twice that change); it ramps down with lower intensities and is off for neutral.")] = 2.5,
    max_seconds: MaxSecondsOpt = 600.0,
    seed: SeedOpt = None,
    device: DeviceOpt = "auto",
    checkpoint: CheckpointOpt = None,
    threads: ThreadsOpt = 1,
    quiet: QuietOpt = False,
) -> None:
    """Animate a portrait with speech: lips follow the audio, the face shows the emotion at its intensity.

    The portrait itself is warped (nothing is regenerated), so the person stays who they are however long
    the clip. .mp4 gets H.264 + AAC with the input audio; .png gets the middle frame.
    """
    import torch

    from emogen.emotion import EmotionSpec
    from emogen.errors import InputError
    from emogen.pipelines.pipeline_emo_portrait import VIDEO_OUTPUT_SUFFIXES, EmoPortraitPipeline, load_image
    from emogen.utils import check_writable, resolve_device
    from emogen.voice.audio import load_audio

    # cheap checks first, so bad input fails at once and leaves no output
    spec = EmotionSpec.parse(emotion)
    if output.suffix.lower() not in (*VIDEO_OUTPUT_SUFFIXES, ".png"):
        msg = f"output {str(output)!r} must end in .mp4 (video with the audio) or .png (one frame)"
        raise InputError(msg)
    check_writable(output)
    load_image(image)  # a non-image fails here, before the model loads
    samples, sample_rate = load_audio(audio, max_seconds=max_seconds)
    target = resolve_device(device)
    _limit_threads(threads)
    if spec.kind == "auto":
        from emogen.voice.recognize import recognize_emotion

        spec = recognize_emotion(samples, sample_rate).spec
        if not quiet:
            typer.echo(f"emotion heard in the voice: {spec.format()}")

    if checkpoint is not None:
        pipe = EmoPortraitPipeline.from_pretrained(str(checkpoint))
    else:
        pipe = EmoPortraitPipeline.from_shipped("portrait")
    pipe = pipe.to(target)
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    result = pipe(samples, sample_rate, image, emotion=spec, num_inference_steps=steps, audio_guidance_scale=audio_guidance,
                  emotion_guidance_scale=emotion_guidance, fps=fps, size=size, generator=generator)
    result.save(output, progress=not quiet)
    if not quiet:
        typer.echo(f"wrote {output} ({spec.format()}, {result.num_frames} frames at {fps:g} fps, {size} px)")
