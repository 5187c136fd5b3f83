"""`FaceEmotionEncoder`: face landmark geometry -> a point of the shared emotion space (the face critic).

The 68 dlib landmarks in the eye frame (origin between the eye centres, unit = inter-ocular distance)
go through a small MLP to a 16-d point of the :class:`~emogen.emotion.EmotionBank` space. It is trained on
MEAD frames with the bank's Gaussian likelihood, the bank's VAD head and a directional-intensity loss (see
:mod:`emogen.training.portrait`), so ``encoder.posterior(embedding, bank)``
(:class:`~emogen.emotion.critic.CriticReadout`, at the temperature fitted on the held-out identity) is the
emotion distribution and ``bank.project_intensity(embedding, k)`` the intensity seen along category k.

Two ways to read a face:

- :meth:`FaceEmotionEncoder.embed_shapes`: absolute geometry (a photo or a video of anyone; the person's
  own face shape is part of the input);
- :meth:`FaceEmotionEncoder.embed_offsets`: offsets from the person's own rest shape placed on the mean
  training face (``template``): identity-free, used by the portrait pipeline to score its motion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..emotion.critic import CriticReadout
from ..emotion.taxonomy import CATEGORIES
from ..modeling import BaseOutput, ConfigMixin, ModelMixin, register_to_config

__all__ = ["MEAD_CATEGORIES", "FaceEmotionEncoder", "FaceEncoderOutput", "face_shapes", "load_face_critic", "recognize_face"]

#: The MEAD emotions in taxonomy order (every bank category but calm).
MEAD_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c != "calm")


@dataclass
class FaceEncoderOutput(BaseOutput):
    """Output of :class:`FaceEmotionEncoder`.

    Args:
        embedding (`torch.Tensor` of shape `(batch, embedding_dim)`): point in the shared emotion space.
    """

    embedding: torch.Tensor


class FaceEmotionEncoder(CriticReadout, ModelMixin, ConfigMixin):
    """Landmarks in the eye frame `(batch, 68, 2)` -> shared emotion embedding `(batch, embedding_dim)`.

    Args:
        num_points (`int`, *optional*, defaults to 68): landmarks per face.
        hidden_dim (`int`, *optional*, defaults to 128): MLP width.
        num_layers (`int`, *optional*, defaults to 2): hidden layers.
        embedding_dim (`int`, *optional*, defaults to 16): size of the shared emotion space.
        dropout (`float`, *optional*, defaults to 0.1): dropout after each hidden layer.
        categories (`Sequence[str]`, *optional*, defaults to the MEAD emotions): the bank categories the
            encoder was trained on, read out with :meth:`posterior` or ``bank.read(embedding, encoder.config.categories)``.
        temperature (`float`, *optional*, defaults to 1.0): calibration temperature dividing the bank's
            log-likelihoods in :meth:`posterior` (> 1 softens an over-confident critic; fitted by the recipe on the
            held-out identity's frames).
        uncertain_below (`float`, *optional*, defaults to 0.0): readings whose top calibrated probability is below this
            are "uncertain" (0 = never; the recipe chooses it on the held-out identity's frames).

    Example:
        >>> enc = FaceEmotionEncoder()
        >>> enc(torch.zeros(2, 68, 2)).embedding.shape
        torch.Size([2, 16])
    """

    @register_to_config
    def __init__(
        self,
        num_points: int = 68,
        hidden_dim: int = 128,
        num_layers: int = 2,
        embedding_dim: int = 16,
        dropout: float = 0.1,
        categories: Sequence[str] = MEAD_CATEGORIES,
        temperature: float = 1.0,
        uncertain_below: float = 0.0,
    ) -> None:
        super().__init__()
        features = 2 * num_points
        self.register_buffer("feature_mean", torch.zeros(features))
        self.register_buffer("feature_std", torch.ones(features))
        self.register_buffer("template", torch.zeros(num_points, 2))
        layers: list[nn.Module] = []
        width = features
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_dim), nn.GELU(), nn.Dropout(dropout)]
            width = hidden_dim
        layers.append(nn.Linear(width, embedding_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, landmarks: torch.Tensor, return_dict: bool = True) -> FaceEncoderOutput | tuple[torch.Tensor]:
        """Embed face shapes.

        Args:
            landmarks (`torch.Tensor` of shape `(batch, num_points, 2)`): landmarks in the eye frame.
            return_dict (`bool`, *optional*, defaults to `True`): return a :class:`FaceEncoderOutput`.
        """
        x = landmarks.reshape(landmarks.shape[0], -1).to(self.feature_mean.dtype)
        x = (x - self.feature_mean) / self.feature_std
        embedding = self.mlp(x)
        if not return_dict:
            return (embedding,)
        return FaceEncoderOutput(embedding=embedding)

    @torch.no_grad()
    def embed_shapes(self, shapes: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mean embedding `(1, D)` of one face seen in several frames, shapes `(frames, 68, 2)` in the eye frame."""
        x = torch.as_tensor(np.asarray(shapes, dtype=np.float32)).to(self.feature_mean.device)
        if x.dim() == 2:
            x = x[None]
        was_training = self.training
        self.eval()
        embedding = self(x).embedding.mean(0, keepdim=True).float().cpu()
        self.train(was_training)
        return embedding

    @torch.no_grad()
    def embed_offsets(self, offsets: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mean embedding `(1, D)` of offsets `(frames, 68, 2)` from a person's rest shape (identity-free)."""
        x = torch.as_tensor(np.asarray(offsets, dtype=np.float32)).to(self.template.device)
        if x.dim() == 2:
            x = x[None]
        return self.embed_shapes(self.template[None] + x)


def load_face_critic(path: str | None = None):
    """The face critic and emotion bank of a portrait checkpoint folder (default: the shipped one)."""
    from ..pipeline_utils import load_critic

    return load_critic(FaceEmotionEncoder, "portrait", "face_critic", path)


#: Suffixes read as video by :func:`face_shapes`.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


def face_shapes(path: str, max_frames: int = 2500) -> np.ndarray:
    """Eye-frame landmarks `(frames, 68, 2)` of the face in an image, or in the first ``max_frames`` frames of a video."""
    from pathlib import Path

    from ..errors import NoFaceError
    from .geometry import align_landmarks

    target = Path(path)
    if target.suffix.lower() in VIDEO_SUFFIXES:
        from .dataset import track_video

        points, found = track_video(target, max_frames=max_frames)
        if not found.any():
            msg = f"no face found in {str(target)!r}; give a video of one frontal face"
            raise NoFaceError(msg)
        return np.stack([align_landmarks(p)[0] for p in points[found]])
    from .face import detect_face, load_image

    face = detect_face(load_image(target), name=repr(str(target)))
    return align_landmarks(face.points)[0][None]


def recognize_face(path: str, critic: FaceEmotionEncoder | None = None, bank=None):
    """The emotion a face shows in an image or a video (mean embedding over frames), as a
    :class:`~emogen.emotion.reading.CriticReading` over the critic's categories: calibrated probabilities, flagged
    uncertain below the critic's ``uncertain_below``."""
    if critic is None or bank is None:
        critic, bank = load_face_critic()
    return critic.read(critic.embed_shapes(face_shapes(path)), bank)[0]
