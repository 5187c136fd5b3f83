"""Emotional voice: WORLD features, the speech emotion encoder (speech critic), the conversion denoiser,
a rule-based baseline, an evaluation judge and metrics (the training recipe is :mod:`emogen.training.voice`).

Modules, one job each: :mod:`~emogen.voice.audio` (I/O and validation), :mod:`~emogen.voice.world`
(WORLD analysis/synthesis), :mod:`~emogen.voice.features` (encoder frames), :mod:`~emogen.voice.dtw`,
:mod:`~emogen.voice.encoder`, :mod:`~emogen.voice.denoiser`, :mod:`~emogen.voice.recognize`,
:mod:`~emogen.voice.stream` (long files in bounded memory), :mod:`~emogen.voice.baseline`,
:mod:`~emogen.voice.judge`, :mod:`~emogen.voice.metrics`, :mod:`~emogen.voice.dataset` (feature cache),
:mod:`~emogen.voice.pairs` (DTW-aligned conversion pairs), :mod:`~emogen.voice.evaluation` (encoder scores).
"""

from .denoiser import VoiceConversionDenoiser, VoiceDenoiserOutput
from .encoder import SpeechEmotionEncoder, SpeechEncoderOutput
from .recognize import VoiceEmotion, embed_audio, load_speech_encoder, recognize_emotion

__all__ = [
    "SpeechEmotionEncoder",
    "SpeechEncoderOutput",
    "VoiceConversionDenoiser",
    "VoiceDenoiserOutput",
    "VoiceEmotion",
    "embed_audio",
    "load_speech_encoder",
    "recognize_emotion",
]
