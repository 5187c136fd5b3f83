"""Speech emotion recognition with the speech encoder and the shared bank: a distribution over the
categories, VAD, and the intensity along the most likely direction.

:func:`recognize_emotion` turns a voice clip into an :class:`~emogen.emotion.EmotionSpec`, which is what
``--emotion auto --from voice.wav`` needs in the other pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..emotion import EmotionBank, EmotionSpec
from .audio import MODEL_SAMPLE_RATE, check_audio, resample, to_mono, trim_silence
from .encoder import SpeechEmotionEncoder
from .features import encoder_features

__all__ = ["RAVDESS_CATEGORIES", "VoiceEmotion", "embed_audio", "load_speech_encoder", "recognize_emotion"]

#: The categories the speech encoder was trained on (RAVDESS has no contempt).
RAVDESS_CATEGORIES = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgusted", "surprised")


@dataclass(frozen=True)
class VoiceEmotion:
    """What the encoder hears in a clip.

    Args:
        probabilities (`dict[str, float]`): posterior over the trained categories (sums to 1).
        vad (`tuple[float, float, float]`): valence, arousal, dominance from the bank's VAD head.
        category (`str`): most likely category.
        intensity (`float`): projected intensity along that category's direction, clipped to [0, 1].
    """

    probabilities: dict[str, float]
    vad: tuple[float, float, float]
    category: str
    intensity: float

    @property
    def spec(self) -> EmotionSpec:
        """The heard emotion as a spec, e.g. ``angry:0.8`` (``neutral:1`` for neutral)."""
        if self.category == "neutral":
            return EmotionSpec.parse("neutral")
        return EmotionSpec.parse(f"{self.category}:{round(self.intensity, 2):g}")


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
) -> VoiceEmotion:
    """Recognise the emotion in a voice clip (defaults: the shipped ``voice`` checkpoint's encoder and bank).

    Example:
        >>> heard = recognize_emotion(audio, 16000)  # doctest: +SKIP
        >>> heard.spec.format()  # doctest: +SKIP
        'angry:0.83'
    """
    if encoder is None or bank is None:
        encoder, bank = load_speech_encoder()
    embedding = embed_audio(encoder, audio, sample_rate)
    bank = bank.to("cpu")
    index = [bank.category_index(n) for n in RAVDESS_CATEGORIES]
    probs = torch.softmax(bank.log_likelihood(embedding)[0, index], dim=-1)
    category = RAVDESS_CATEGORIES[int(probs.argmax())]
    intensity = 0.0 if category == "neutral" else float(bank.project_intensity(embedding, category)[0])
    vad = tuple(float(v) for v in bank.vad(embedding)[0])
    return VoiceEmotion(
        probabilities={n: float(p) for n, p in zip(RAVDESS_CATEGORIES, probs)},
        vad=vad,  # type: ignore[arg-type]
        category=category,
        intensity=float(np.clip(intensity, 0.0, 1.0)),
    )


def load_speech_encoder(path: str | None = None) -> tuple[SpeechEmotionEncoder, EmotionBank]:
    """The speech critic and emotion bank of a voice checkpoint folder (default: the shipped one)."""
    import os

    from ..pipeline_utils import checkpoint_path

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = path or str(checkpoint_path("voice"))
    encoder = SpeechEmotionEncoder.from_pretrained(root, subfolder="speech_critic")
    bank = EmotionBank.from_pretrained(root, subfolder="emotion_bank")
    return encoder.eval(), bank.eval()
