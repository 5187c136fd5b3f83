"""Emotion-conditioned symbolic piano music: representation, element VQ-VAE, code prior, critic, judge.

- :mod:`~emogen.music.representation`: MIDI <-> note events split into elements <-> bar grids.
- :mod:`~emogen.music.features`: per-bar summaries of each element (what each latent slice reads).
- :mod:`~emogen.music.vqvae`: :class:`ElementVQVAE`, one quantised latent slice per element.
- :mod:`~emogen.music.prior`: :class:`EmotionCodePrior`, the emotion-conditioned transformer over bar codes.
- :mod:`~emogen.music.critic`: :class:`MusicEmotionEncoder`, music -> shared emotion space (the critic).
- :mod:`~emogen.music.judge`, :mod:`~emogen.music.stats`, :mod:`~emogen.music.metrics`: evaluation only.
- :mod:`~emogen.music.soundfont`: piano audio (44.1 kHz) through the shipped FluidR3Mono_GM grand piano.
- :mod:`~emogen.music.synth`: a numpy additive piano-like synth, the soundfont's fallback.
- :mod:`~emogen.music.roll`: a piano-roll picture of note events (``--plot``).
- :mod:`~emogen.music.evaluation`: scores of the three models (training recipe and benchmarks).

The training recipe behind ``emogen train music`` is :mod:`emogen.training.music`.
"""

from .critic import MusicEmotionEncoder, MusicEmotionEncoderOutput
from .features import ELEMENTS
from .prior import EmotionCodePrior, EmotionCodePriorOutput
from .representation import BarGrid, EventSequence, NoteEvent, events_from_midi, events_to_midi
from .vqvae import ElementVQVAE, ElementVQVAEOutput

__all__ = [
    "ELEMENTS",
    "BarGrid",
    "ElementVQVAE",
    "ElementVQVAEOutput",
    "EmotionCodePrior",
    "EmotionCodePriorOutput",
    "EventSequence",
    "MusicEmotionEncoder",
    "MusicEmotionEncoderOutput",
    "NoteEvent",
    "events_from_midi",
    "events_to_midi",
]
