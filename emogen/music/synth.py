"""A small piano-like additive synthesiser in numpy: the fallback of the soundfont piano.

emogen renders music through a sampled grand piano (:mod:`emogen.music.soundfont`); this synth is used only
when that synthesiser (``midirenderer``) or its soundfont is missing.

Each note is a sum of slightly inharmonic partials (stiff-string stretch, ``f_k = k f0 sqrt(1 + B k^2)``)
with brighter, louder attacks at higher velocity, a two-stage exponential decay (fast "prompt" then slow
"aftersound", shorter for higher notes), a short hammer-noise transient and a damper release at note-off.
The mix goes through a Schroeder reverb (four combs, two all-passes) and a soft limiter. Deterministic:
the hammer noise uses a fixed seed.

symusic 0.6 ships a soundfont renderer, but its ``Synthesizer.render`` fails to return its array with
numpy 2 here, and its built-in soundfonts download at run time; hence ``midirenderer`` for the soundfont.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from .representation import EventSequence
from .stats import note_array

__all__ = ["SAMPLE_RATE", "render_audio", "render_wav"]

#: Default rate of :func:`render_audio` (the soundfont piano's rate, so the fallback writes the same).
SAMPLE_RATE = 44100


def _note(f0: float, seconds: float, velocity: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    release = 0.25
    n = int((seconds + release) * sr)
    t = np.arange(n) / sr
    out = np.zeros(n)
    inharmonicity = 1e-4 * (f0 / 261.6) ** 0.5
    brightness = 0.6 + 0.9 * velocity
    decay_slow = 2.5 * (261.6 / f0) ** 0.6 + 0.4
    for k in range(1, 9):
        fk = k * f0 * np.sqrt(1 + inharmonicity * k * k)
        if fk > sr / 2.2:
            break
        amp = (1.0 / k ** (2.2 - brightness)) * (1.0 if k == 1 else 0.8)
        tau = decay_slow / (1 + 0.35 * (k - 1))
        env = 0.6 * np.exp(-t / (0.12 * tau + 0.02)) + 0.4 * np.exp(-t / tau)
        out += amp * env * np.sin(2 * np.pi * fk * t + k * 0.7)
    attack = np.minimum(1.0, t / 0.004)
    damper = np.clip(1 - (t - seconds) / release, 0, 1) ** 2
    hammer = rng.standard_normal(min(n, int(0.01 * sr))) * np.exp(-np.arange(min(n, int(0.01 * sr))) / (0.002 * sr))
    out[: len(hammer)] += 0.05 * velocity * hammer
    return out * attack * damper * (0.15 + 0.85 * velocity) ** 1.5


def _reverb(x: np.ndarray, sr: int, wet: float = 0.18) -> np.ndarray:
    y = np.zeros_like(x)
    for delay_ms, g in ((29.7, 0.77), (37.1, 0.74), (41.1, 0.72), (43.7, 0.70)):
        d = int(delay_ms * sr / 1000)
        a = np.zeros(d + 1)
        a[0], a[d] = 1.0, -g
        y += lfilter([1.0], a, x)
    for delay_ms, g in ((5.0, 0.7), (1.7, 0.7)):
        d = int(delay_ms * sr / 1000)
        b = np.zeros(d + 1)
        b[0], b[d] = -g, 1.0
        a = np.zeros(d + 1)
        a[0], a[d] = 1.0, -g
        y = lfilter(b, a, y)
    return (1 - wet) * x + wet * y / 4


def render_audio(sequence: EventSequence, tempo: float | None = None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render note events with the additive synth as mono float32 audio in [-1, 1]."""
    notes = note_array(sequence, tempo=tempo)
    length = float(notes.end.max()) + 1.5 if len(notes.pitch) else 1.0
    mix = np.zeros(int(length * sample_rate) + sample_rate)
    rng = np.random.default_rng(0)
    for start, end, pitch, vel in zip(notes.start, notes.end, notes.pitch, notes.velocity):
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        wave = _note(f0, max(end - start, 0.05), vel / 127.0, rng, sample_rate)
        i = int(start * sample_rate)
        mix[i : i + len(wave)] += wave[: len(mix) - i]
    mix = _reverb(mix, sample_rate)
    peak = np.percentile(np.abs(mix), 99.9) + 1e-9
    return np.tanh(1.2 * mix / peak * 0.7).astype(np.float32) * 0.9


def render_wav(sequence: EventSequence, path: str | os.PathLike[str], tempo: float | None = None, sample_rate: int = SAMPLE_RATE) -> Path:
    """Render note events to a 16-bit PCM ``.wav`` (or ``.flac``) file: the soundfont piano, this synth as fallback.

    Kept for ``MusicPipelineOutput.save``; it is :func:`emogen.music.soundfont.write_piano`.
    """
    from .soundfont import write_piano

    return write_piano(sequence, path, tempo=tempo, sample_rate=sample_rate)
