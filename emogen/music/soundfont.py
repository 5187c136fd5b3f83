"""Piano audio from note events: a sampled grand piano through a SoundFont synthesiser, at 44.1 kHz.

The piano is preset 0 ("Yamaha Grand Piano", 20 samples) of FluidR3Mono_GM, MIT licence, shipped as
``emogen/music/soundfonts/piano.sf2`` (3.9 MB; licence in ``FluidR3Mono_GM.copyright`` beside it, rebuilt by
``tools/extract_piano_soundfont.py``). The synthesiser is ``midirenderer`` (a wheel wrapping the Rust
SoundFont engine rustysynth: sample playback with SF2 envelopes, filters and modulators, plus its reverb and
chorus); it renders at 48 kHz, which is resampled to the requested rate.

Each piece is written as a one-track MIDI at full channel volume, with a silent control change
:data:`RELEASE_SECONDS` after the last note-off, so the notes' releases and the reverb ring out instead of
being cut. The synthesiser returns 16-bit PCM, so it renders at channel volume :data:`CHANNEL_VOLUME`
(about 12 dB of headroom) and the float audio is brought back up by :data:`MAKEUP_GAIN`: every piece plays at
the same absolute level, so soft (sad, calm) music stays softer than loud (angry, happy) music. Only a piece
that would then exceed :data:`PEAK_CEILING` (-1 dBFS) is scaled down to it, so nothing clips.

When ``midirenderer`` or the soundfont is missing, :func:`render_piano` warns once and falls back to the
numpy additive synth of :mod:`emogen.music.synth`.
"""

from __future__ import annotations

import functools
import io
import logging
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .representation import EventSequence, events_to_score

__all__ = [
    "AUDIO_SUFFIXES",
    "CHANNEL_VOLUME",
    "MAKEUP_GAIN",
    "PEAK_CEILING",
    "PIANO_SOUNDFONT",
    "RELEASE_SECONDS",
    "SAMPLE_RATE",
    "render_piano",
    "render_soundfont",
    "soundfont_available",
    "write_piano",
]

logger = logging.getLogger(__name__)

#: Output sample rate (Hz) of the piano audio.
SAMPLE_RATE = 44100
#: The shipped General MIDI grand piano (one preset, bank 0 program 0).
PIANO_SOUNDFONT = Path(__file__).with_name("soundfonts") / "piano.sf2"
#: Seconds of audio after the last note-off: the piano's release and the reverb tail.
RELEASE_SECONDS = 2.0
#: Peak level (absolute sample value) of every rendered piece: -1 dBFS.
PEAK_CEILING = 10 ** (-1 / 20)
#: Channel volume (MIDI CC 7) of the render: SF2 attenuates 40 log10(127 / 64) = 11.9 dB, headroom for dense chords.
CHANNEL_VOLUME = 64
#: Gain applied to the float audio: undoes the channel volume's attenuation and adds 8 dB of master gain (the
#: soundfont's grand piano at full velocity peaks near -1 dBFS on dense chords); pieces keep their relative level.
MAKEUP_GAIN = (127 / 64) ** 2 * 10 ** (8 / 20)
#: Suffixes the piano audio is written as (16-bit PCM).
AUDIO_SUFFIXES = (".wav", ".flac")


def soundfont_available(soundfont: str | os.PathLike[str] = PIANO_SOUNDFONT) -> bool:
    """Whether the SoundFont synthesiser imports and ``soundfont`` exists (else :func:`render_piano` falls back)."""
    try:
        import midirenderer  # noqa: F401
    except ImportError:
        return False
    return Path(soundfont).is_file()


@functools.lru_cache(maxsize=2)
def _soundfont_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def _midi(sequence: EventSequence, tempo: float | None, release: float, volume: int) -> bytes:
    """The piece as MIDI bytes at channel volume ``volume`` (CC 7), ending ``release`` seconds after its last note-off."""
    import symusic

    score = events_to_score(sequence, tempo=tempo)
    track = score.tracks[0]
    qpm = float(tempo if tempo is not None else sequence.tempo)
    end = max((n.end for n in track.notes), default=0)
    tail = int(round(release * qpm / 60.0 * score.ticks_per_quarter))
    track.controls.append(symusic.ControlChange(0, 7, volume))
    track.controls.append(symusic.ControlChange(end + tail, 64, 0))  # sustain pedal off: silent, sets the length
    return score.dumps_midi()


def render_soundfont(
    sequence: EventSequence,
    tempo: float | None = None,
    sample_rate: int = SAMPLE_RATE,
    soundfont: str | os.PathLike[str] = PIANO_SOUNDFONT,
    release: float = RELEASE_SECONDS,
) -> np.ndarray:
    """Render note events through a SoundFont (preset 0 on channel 1) as stereo float32 audio.

    Args:
        sequence (`EventSequence`): the notes.
        tempo (`float`, *optional*): quarter notes per minute; defaults to the sequence's tempo.
        sample_rate (`int`, *optional*, defaults to 44100): output rate in Hz.
        soundfont (`str` or `os.PathLike`, *optional*): an SF2 file; defaults to the shipped piano.
        release (`float`, *optional*, defaults to 2.0): seconds rendered after the last note-off.

    Returns:
        `np.ndarray` of shape `(frames, 2)`, float32, at the synthesiser's own level, peak at most
        :data:`PEAK_CEILING`.

    Raises ``ImportError`` when ``midirenderer`` is not installed (use :func:`render_piano` for the fallback).

    Example:
        >>> from emogen.music.representation import EventSequence, NoteEvent
        >>> audio = render_soundfont(EventSequence([NoteEvent(0, 0, 69, 7, 12)]))  # A4 for a bar
        >>> audio.shape[1], round(len(audio) / 44100, 1)
        (2, 4.0)
    """
    import midirenderer
    import soundfile as sf

    from ..voice.audio import resample

    wav = midirenderer.render_wave_from(_soundfont_bytes(str(soundfont)), _midi(sequence, tempo, release, CHANNEL_VOLUME))
    pcm, rendered_rate = sf.read(io.BytesIO(wav), dtype="int16", always_2d=True)
    audio = resample(pcm.astype(np.float32) * (MAKEUP_GAIN / 32768.0), int(rendered_rate), int(sample_rate))
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > PEAK_CEILING:
        audio *= PEAK_CEILING / peak
    return audio


def render_piano(sequence: EventSequence, tempo: float | None = None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Piano audio of note events: the shipped soundfont piano, else (with a warning) the additive synth.

    Returns `np.ndarray` of shape `(frames, channels)`, float32 in [-1, 1]: stereo from the soundfont, mono
    from the fallback.
    """
    if soundfont_available():
        return render_soundfont(sequence, tempo=tempo, sample_rate=sample_rate)
    reason = f"{PIANO_SOUNDFONT} is missing" if not PIANO_SOUNDFONT.is_file() else "midirenderer is not installed"
    logger.warning("warning: no sampled piano (%s; pip install midirenderer==0.1.3), using the additive synth", reason)
    from .synth import render_audio

    return render_audio(sequence, tempo=tempo, sample_rate=sample_rate)[:, None]


def write_piano(sequence: EventSequence, path: str | os.PathLike[str], tempo: float | None = None,
                sample_rate: int = SAMPLE_RATE) -> Path:
    """Render note events as piano audio into ``path`` (.wav or .flac, 16-bit PCM).

    Not atomic by itself: callers wrap it in :func:`emogen.utils.atomic_output` (the CLI and
    ``MusicPipelineOutput.save`` do). Raises :class:`~emogen.errors.InputError` for another suffix.
    """
    from ..voice.audio import save_audio

    target = Path(path)
    if target.suffix.lower() not in AUDIO_SUFFIXES:
        msg = f"audio output {str(target)!r} must end in .wav or .flac; change the suffix"
        raise InputError(msg)
    save_audio(target, render_piano(sequence, tempo=tempo, sample_rate=sample_rate), sample_rate)
    return target
