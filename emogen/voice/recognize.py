"""Speech emotion recognition with the speech encoder and the shared bank: a distribution over the
categories, VAD, and the intensity along the most likely direction.

:func:`recognize_emotion` turns a voice clip into an :class:`~emogen.emotion.EmotionSpec`, which is what
``--emotion auto --from voice.wav`` needs in the other pipelines.
"""

from __future__ import annotations

import numpy as np
import torch

from ..emotion import EmotionBank
from ..emotion.reading import EmotionReading
from .audio import MODEL_SAMPLE_RATE, check_audio, resample, to_mono, trim_silence
from .encoder import SpeechEmotionEncoder
from .features import encoder_features

__all__ = ["VoiceEmotion", "embed_audio", "load_speech_encoder", "recognize_emotion"]

#: What the encoder hears in a clip: the bank's read-out over the encoder's categories (kept as a name).
VoiceEmotion = EmotionReading


@torch.no_grad()
def embed_audio(encoder: SpeechEmotionEncoder, audio: np.ndarray, sample_rate: int) -> torch.Tensor:
    """Embedding `(1, D)` of one clip (any rate, mono or `(samples, channels)`), silence trimmed."""
    signal = resample(to_mono(check_audio(audio, sample_rate)), sample_rate, MODEL_SAMPLE_RATE)
    start, end = trim_silence(signal, MODEL_SAMPLE_RATE, pad_seconds=0.2)
    feats = encoder_features(signal[start:end], MODEL_SAMPLE_RATE)
    param = next(encoder.parameters())
    x = torch.from_numpy(feats.T[None]).to(device=param.device, dtype=param.dtype)
    encoder.eval()
    return encoder(x).embedding.float().cpu()


@torch.no_grad()
def recognize_emotion(
    audio: np.ndarray,
    sample_rate: int,
    encoder: SpeechEmotionEncoder | None = None,
    bank: EmotionBank | None = None,
) -> EmotionReading:
    """Recognise the emotion in a voice clip (defaults: the shipped ``voice`` checkpoint's encoder and bank).

    Example:
        >>> heard = recognize_emotion(audio, 16000)  # doctest: +SKIP
        >>> heard.spec.format()  # doctest: +SKIP
        'angry:0.83'
    """
    if encoder is None or bank is None:
        encoder, bank = load_speech_encoder()
    embedding = embed_audio(encoder, audio, sample_rate)
    return bank.to("cpu").read(embedding, encoder.config.categories)[0]


def load_speech_encoder(path: str | None = None) -> tuple[SpeechEmotionEncoder, EmotionBank]:
    """The speech critic and emotion bank of a voice checkpoint folder (default: the shipped one)."""
    from ..pipeline_utils import load_critic

    return load_critic(SpeechEmotionEncoder, "voice", "speech_critic", path)
