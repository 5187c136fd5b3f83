"""``emogen music``: emotion-conditioned piano music (MIDI, or piano audio through a soundfont) and element transfer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emogen.emotion import EmotionSpec
from emogen.errors import InputError

from ._apps import CONTEXT, app
from ._common import CheckpointOpt, DeviceOpt, EmotionOpt, QuietOpt, SeedOpt, examples_epilog, fail, handle_errors

EXAMPLES = [
    "emogen music --emotion happy:0.7 --bars 16 --seed 0 -o happy.mid",
    "emogen music --emotion sad:0.8 --bars 16 -o sad.wav --plot roll.png",
    "emogen music -e sad:1 --bars 8 --candidates 8 --wav sad.wav -o sad.mid",
    "emogen music -e va:0.6,-0.4 --guidance 3 --tempo 90 -o calm.mid",
    "emogen music -e sad:0.8 --key 'D minor' -o sad_d.mid",
    "emogen music --emotion auto --from voice.wav -o matching.mid",
    "emogen music transfer --input a.mid --emotion sad:0.8 --elements pitch,velocity -o b.mid",
]
ELEMENT_NAMES = ("rhythm", "pitch", "duration", "velocity")

music_app = typer.Typer(
    help="Generate piano music in an emotion (MIDI or piano audio), or change the emotion of chosen elements of a MIDI file.",
    context_settings=CONTEXT,
    invoke_without_command=True,
    epilog=examples_epilog(EXAMPLES),
)
app.add_typer(music_app, name="music")

BarsOpt = Annotated[int, typer.Option("--bars", "-b", help="Bars to generate (4/4, 16 sixteenths; 2 s each at 120 bpm), 1-512.")]
GuidanceOpt = Annotated[float | None, typer.Option("--guidance", "-g", help="Weight of the step from neutral music to the emotion (default 1.5; 1 = the model's own music for it, more exaggerates, 0 = neutral); intensity scales it.", show_default=False)]
TempoOpt = Annotated[float | None, typer.Option("--tempo", help="Tempo of the output in quarter notes per minute, 20-300 (default 120; transfer keeps the input's).")]
CandidatesOpt = Annotated[int | None, typer.Option("--candidates", "-n", help="Generate N candidates and keep the one the music critic finds closest to the emotion (1-64; default 4, 1 is about 30% faster).", show_default=False)]
KeyOpt = Annotated[str | None, typer.Option("--key", help="Key to write in, e.g. 'A minor', 'F#' or 'Bbm' (default: drawn for the emotion, minor as often as in the emotion's EMOPIA quadrant).", show_default=False)]
KeyGuidanceOpt = Annotated[float, typer.Option("--key-guidance", help="How strongly the pitch codes are held to the key, 0-10 (0 = off: the model's own key, mostly major).")]
TemperatureOpt = Annotated[float, typer.Option("--temperature", help="Sampling temperature (0.05-3).")]
WavOpt = Annotated[Path | None, typer.Option("--wav", help="Also render the music as piano audio (44.1 kHz, the shipped soundfont piano) to this .wav file.")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Also draw the music as a piano roll (pitch by bars, velocity as colour) to this .png file.")]
MusicOutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Output file: .mid/.midi (MIDI) or .wav/.flac (piano audio, 44.1 kHz, the shipped soundfont piano); written atomically."),
]
MIDI_SUFFIXES = (".mid", ".midi")
AUDIO_SUFFIXES = (".wav", ".flac")


def _check_outputs(output: Path | None, wav: Path | None, plot: Path | None) -> Path:
    from emogen.utils import check_writable

    if output is None:
        fail("missing -o/--output; give a .mid, .wav or .flac file such as -o out.mid")
    if output.suffix.lower() not in MIDI_SUFFIXES + AUDIO_SUFFIXES:
        raise InputError(f"output {str(output)!r} must end in .mid or .midi (MIDI), or .wav or .flac (piano audio)")
    check_writable(output)
    if wav is not None:
        if wav.suffix.lower() != ".wav":
            raise InputError(f"--wav {str(wav)!r} must end in .wav; for flac give -o out.flac")
        check_writable(wav)
    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise InputError(f"--plot {str(plot)!r} must end in .png")
        check_writable(plot)
    return output


def _load_pipeline(checkpoint: Path | None, device: str, quiet: bool):
    import torch

    from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline
    from emogen.utils import resolve_device

    resolved = resolve_device(device)
    if checkpoint is not None:
        from emogen.errors import CheckpointNotFoundError

        if not (checkpoint / "model_index.json").is_file():
            raise CheckpointNotFoundError(f"--checkpoint {str(checkpoint)!r} holds no model_index.json; give a folder written by `emogen train music`")
        pipe = EmoMusicPipeline.from_pretrained(str(checkpoint))
    else:
        pipe = EmoMusicPipeline.from_shipped("music")
    pipe = pipe.to(resolved)
    pipe.set_progress_bar_config(disable=quiet, desc="bars", leave=False)
    if resolved.type == "cpu":
        torch.set_num_threads(1)  # the models are small: one thread is fastest and never oversubscribes
    return pipe


def _write(out, output: Path, wav: Path | None, plot: Path | None, title: str, quiet: bool) -> None:
    """Write the first piece: MIDI or soundfont piano audio to ``output``, audio to ``wav``, a piano roll to ``plot``."""
    from emogen.music.roll import save_piano_roll
    from emogen.music.soundfont import write_piano
    from emogen.utils import atomic_output

    seq = out.sequences[0]
    if output.suffix.lower() in MIDI_SUFFIXES:
        out.save(output)
    for path in (output, wav):
        if path is not None and path.suffix.lower() in AUDIO_SUFFIXES:
            with atomic_output(path) as tmp:
                write_piano(seq, tmp, tempo=out.tempo)
    if plot is not None:
        with atomic_output(plot) as tmp:
            save_piano_roll(seq, tmp, title=f"{title}: {out.codes.shape[1]} bars, {len(seq.events)} notes, {out.tempo:g} bpm")
    if quiet:
        return
    scores = out.critic_scores[0]
    critic = f"; critic valence {scores['valence']:+.2f}, arousal {scores['arousal']:+.2f}" if scores else ""
    key = f", {out.key_names[0]}" if out.key_names else ""
    also = " and ".join(str(p) for p in (wav, plot) if p is not None)
    typer.echo(f"wrote {output} ({out.codes.shape[1]} bars, {len(seq.events)} notes{key}, {out.tempo:g} bpm{critic})" + (f" and {also}" if also else ""))


def _check_key(key: str | None, key_guidance: float) -> None:
    """Refuse an unknown ``--key`` (or one that ``--key-guidance 0`` would ignore) before any model loads."""
    if key is None:
        return
    from emogen.music.key_guide import parse_key

    if key_guidance == 0:
        raise InputError(f"--key {key!r} is written through the key guide, which --key-guidance 0 turns off; drop one of them")
    try:
        parse_key(key)
    except ValueError as err:
        raise InputError(str(err)) from None


def _resolve_emotion(spec: EmotionSpec, from_voice: Path | None, quiet: bool) -> EmotionSpec:
    """Read the emotion from ``--from`` for ``--emotion auto`` (the cross-modal path), else keep ``spec``."""
    if spec.kind != "auto":
        if from_voice is not None:
            raise InputError(f"--from {str(from_voice)!r} is only read with --emotion auto; drop --from or use --emotion auto")
        return spec
    if from_voice is None:
        raise InputError("--emotion auto reads the emotion from a voice: add --from voice.wav, or give an emotion such as happy:0.7")
    from emogen.voice.audio import load_audio
    from emogen.voice.recognize import recognize_emotion

    audio, sample_rate = load_audio(from_voice)
    heard = recognize_emotion(audio, sample_rate)
    if not quiet:
        typer.echo(f"heard in {from_voice.name}: {heard.spec.format()}", err=True)
    return heard.spec


@music_app.callback()
@handle_errors
def music(
    ctx: typer.Context,
    emotion: EmotionOpt = "happy:0.7",
    bars: BarsOpt = 16,
    output: MusicOutputOpt = None,
    seed: SeedOpt = None,
    guidance: GuidanceOpt = None,
    tempo: TempoOpt = None,
    candidates: CandidatesOpt = None,
    temperature: TemperatureOpt = 1.0,
    key: KeyOpt = None,
    key_guidance: KeyGuidanceOpt = 1.0,
    wav: WavOpt = None,
    plot: PlotOpt = None,
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
    from_voice: Annotated[
        Path | None,
        typer.Option("--from", help="With --emotion auto: a voice recording whose emotion (heard by the speech encoder) the music takes."),
    ] = None,
) -> None:
    """Generate piano music in an emotion at an intensity, as MIDI or as piano audio (wav/flac).

    Intensity is a real knob: happy:0.25 is close to EMOPIA's average music, happy:1 is as happy as the
    model knows; --guidance strengthens or weakens the emotion further. The same --seed gives the same file.
    Audio is rendered at 44.1 kHz through the grand piano of FluidR3Mono_GM (MIT), shipped with emogen.
    """
    if ctx.invoked_subcommand is not None:
        return
    import torch

    from emogen.pipelines.pipeline_emo_music import DEFAULT_GUIDANCE, DEFAULT_NUM_CANDIDATES, EmoMusicPipeline

    guidance = DEFAULT_GUIDANCE if guidance is None else guidance
    candidates = DEFAULT_NUM_CANDIDATES if candidates is None else candidates
    spec = _resolve_emotion(EmotionSpec.parse(emotion), from_voice, quiet)
    EmoMusicPipeline.check_inputs(bars, 1, candidates, guidance, temperature, tempo, None, key_guidance=key_guidance)
    _check_key(key, key_guidance)
    output = _check_outputs(output, wav, plot)
    pipe = _load_pipeline(checkpoint, device, quiet)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    out = pipe(spec, num_bars=bars, num_candidates=candidates, guidance_scale=guidance, temperature=temperature,
               tempo=tempo, key=key, key_guidance=key_guidance, generator=generator)
    _write(out, output, wav, plot, spec.format(), quiet)


@music_app.command("transfer", epilog=examples_epilog(EXAMPLES[-1:]))
@handle_errors
def transfer(
    input: Annotated[Path, typer.Option("--input", "-i", help="MIDI file whose emotion to change.")],
    emotion: EmotionOpt = "sad:0.8",
    elements: Annotated[str, typer.Option("--elements", help="Comma-separated elements to regenerate: rhythm, pitch, duration, velocity.")] = "pitch,velocity",
    output: MusicOutputOpt = None,
    seed: SeedOpt = None,
    guidance: GuidanceOpt = None,
    tempo: TempoOpt = None,
    candidates: CandidatesOpt = None,
    key: KeyOpt = None,
    key_guidance: KeyGuidanceOpt = 1.0,
    wav: WavOpt = None,
    plot: PlotOpt = None,
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Change the emotion of a MIDI file by regenerating only the chosen elements' latent codes.

    The other elements keep the input's codes (e.g. --elements pitch,velocity keeps its rhythm and
    durations). Only the first 512 bars are used.
    """
    import torch

    from emogen.music.representation import events_from_score, load_midi
    from emogen.pipelines.pipeline_emo_music import DEFAULT_GUIDANCE, DEFAULT_NUM_CANDIDATES, EmoMusicPipeline

    guidance = DEFAULT_GUIDANCE if guidance is None else guidance
    candidates = DEFAULT_NUM_CANDIDATES if candidates is None else candidates
    spec = EmotionSpec.parse(emotion)
    chosen = [e.strip().lower() for e in elements.split(",") if e.strip()]
    if not chosen:
        raise InputError("--elements is empty; name at least one of rhythm, pitch, duration, velocity")
    EmoMusicPipeline.check_inputs(1, 1, candidates, guidance, 1.0, tempo, chosen, key_guidance=key_guidance)
    _check_key(key, key_guidance)
    output = _check_outputs(output, wav, plot)
    reference = events_from_score(load_midi(input))
    if not reference.events:
        raise InputError(f"MIDI file {str(input)!r} has no notes in the piano range (MIDI 21-108)")
    pipe = _load_pipeline(checkpoint, device, quiet)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    out = pipe(spec, reference=reference, transfer_elements=chosen, num_candidates=candidates, guidance_scale=guidance,
               tempo=tempo, key=key, key_guidance=key_guidance, generator=generator)
    _write(out, output, wav, plot, f"{spec.format()} ({', '.join(chosen)})", quiet)
