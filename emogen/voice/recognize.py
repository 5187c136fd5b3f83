"""Speech emotion recognition with the speech encoder and the shared bank: a calibrated distribution over
the categories, VAD, the intensity along the most likely direction, and whether the reading is too unsure
to name an emotion.

:func:`recognize_emotion` turns a voice clip into a :class:`VoiceEmotion`, whose ``spec`` is what
``--emotion auto --from voice.wav`` needs in the other pipelines. Its probabilities are the critic's
calibrated posterior (:meth:`~emogen.voice.SpeechEmotionEncoder.posterior`); ``uncertain`` is set when the
top probability is below the critic's ``config.uncertain_below`` (noise, music, other non-speech, very
noisy speech, or speech the critic cannot read), and ``label`` is then ``"uncertain"``.
"""

from __future__ import annotations


import numpy as np
import torch

from ..emotion import EmotionBank
from ..emotion.reading import UNCERTAIN, CriticReading
from .audio import MODEL_SAMPLE_RATE, check_audio, resample, to_mono, trim_silence
from .encoder import SpeechEmotionEncoder
from .features import encoder_features

__all__ = ["UNCERTAIN", "VoiceEmotion", "embed_audio", "load_speech_encoder", "read_embedding", "recognize_emotion", "speech_frames"]

#: The speech critic's reading (calibrated probabilities, VAD, intensity, uncertainty): the shared
#: :class:`~emogen.emotion.reading.CriticReading`, under the name the voice API has always used.
VoiceEmotion = CriticReading


def speech_frames(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The encoder's input frames `(frames, channels)` of a clip as recognition computes them.

    Any rate, mono or `(samples, channels)`; resampled to 16 kHz, silence trimmed (35 dB below the
    loudest frame, 0.2 s kept around the speech), then :func:`~emogen.voice.features.encoder_features`.
    The critic's training data goes through this same function.
    """
    signal = resample(to_mono(check_audio(audio, sample_rate)), sample_rate, MODEL_SAMPLE_RATE)
    start, end = trim_silence(signal, MODEL_SAMPLE_RATE, pad_seconds=0.2)
    return encoder_features(signal[start:end], MODEL_SAMPLE_RATE)


@torch.no_grad()
def embed_audio(encoder: SpeechEmotionEncoder, audio: np.ndarray, sample_rate: int) -> torch.Tensor:
    """Embedding `(1, D)` of one clip (any rate, mono or `(samples, channels)`), silence trimmed."""
    feats = speech_frames(audio, sample_rate)
    param = next(encoder.parameters())
    x = torch.from_numpy(feats.T[None]).to(device=param.device, dtype=param.dtype)
    encoder.eval()
    return encoder(x).embedding.float().cpu()


@torch.no_grad()
def read_embedding(encoder: SpeechEmotionEncoder, bank: EmotionBank, embedding: torch.Tensor) -> list[VoiceEmotion]:
    """Read embeddings `(B, D)` as :class:`VoiceEmotion`s: calibrated probabilities, VAD, intensity, uncertainty
    (:meth:`~emogen.emotion.critic.CriticReadout.read`)."""
    return encoder.read(embedding, bank)


@torch.no_grad()
def recognize_emotion(
    audio: np.ndarray,
    sample_rate: int,
    encoder: SpeechEmotionEncoder | None = None,
    bank: EmotionBank | None = None,
) -> VoiceEmotion:
    """Recognise the emotion in a voice clip (defaults: the shipped ``voice`` checkpoint's encoder and bank).

    The probabilities are calibrated (the critic's temperature); ``uncertain`` is true when the top one is
    below the critic's ``uncertain_below``, and then ``label`` is ``"uncertain"`` while ``spec`` keeps the
    best guess.

    Example:
        >>> heard = recognize_emotion(audio, 16000)  # doctest: +SKIP
        >>> heard.label, heard.spec.format(), heard.uncertain  # doctest: +SKIP
        ('angry:0.83', 'angry:0.83', False)
    """
    if encoder is None or bank is None:
        encoder, bank = load_speech_encoder()
    return read_embedding(encoder, bank, embed_audio(encoder, audio, sample_rate))[0]


def load_speech_encoder(path: str | None = None) -> tuple[SpeechEmotionEncoder, EmotionBank]:
    """The speech critic and emotion bank of a voice checkpoint folder (default: the shipped one)."""
    from ..pipeline_utils import load_critic

    return load_critic(SpeechEmotionEncoder, "voice", "speech_critic", path)
