"""`VoiceConversionDenoiser`: a small conditional 1-D diffusion denoiser over WORLD feature deltas.

It predicts (in the scheduler's parametrisation) the per-frame change from the source's features to the
target emotion's: log-F0, energy (mel-cepstrum c0) and the low-order mel-cepstrum, at a 20 ms frame rate.
It is conditioned on the source's features (time-aligned, channel-concatenated) and on a point of the
shared emotion space (FiLM in every block, with a mask for the null condition of classifier-free
guidance): a thin model over :class:`~emogen.modules.FiLMTemporalDenoiser`. Normalisation statistics and the per-emotion speaking-rate slopes travel with the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..modeling import BaseOutput, ConfigMixin, ModelMixin, register_to_config
from ..modules.film_denoiser import FiLMTemporalDenoiser

from .world import NUM_MCEP, WorldFeatures, continuous_log_f0

__all__ = ["POOL", "VoiceConversionDenoiser", "VoiceDenoiserOutput", "condition_features"]

#: WORLD frames (5 ms) pooled into one model frame (20 ms).
POOL = 4


@dataclass
class VoiceDenoiserOutput(BaseOutput):
    """Output of :class:`VoiceConversionDenoiser`.

    Args:
        sample (`torch.Tensor` of shape `(batch, out_channels, frames)`): the model's prediction.
    """

    sample: torch.Tensor


def condition_features(world: WorldFeatures, utterance_norm: bool = True) -> np.ndarray:
    """Source features per 20 ms frame, shape `(frames, 3 + NUM_MCEP)`.

    Channels: log-F0 minus the utterance's voiced mean (so the speaker's register is removed), voicing
    rate, coded aperiodicity (first band), then the mel-cepstrum. With ``utterance_norm`` the
    mel-cepstrum's utterance mean is removed too (cepstral mean normalisation), which takes out the
    speaker's average spectral envelope and loudness, so the model generalises to unseen speakers.
    """
    lf0 = continuous_log_f0(world.f0)
    voiced = world.voiced
    lf0 = lf0 - (lf0[voiced].mean() if voiced.any() else lf0.mean())
    mcep = world.mcep - world.mcep.mean(0, keepdims=True) if utterance_norm else world.mcep
    frames = np.concatenate([lf0[:, None], voiced[:, None].astype(np.float64), world.coded_ap[:, :1], mcep], axis=1)
    return pool_frames(frames)


def pool_frames(frames: np.ndarray, pool: int = POOL) -> np.ndarray:
    """Average every ``pool`` consecutive rows (the last, partial group included)."""
    n = int(math.ceil(len(frames) / pool))
    padded = np.concatenate([frames, np.repeat(frames[-1:], n * pool - len(frames), axis=0)])
    return padded.reshape(n, pool, -1).mean(1).astype(np.float32)


#: Old (before :class:`~emogen.modules.FiLMTemporalDenoiser`) state-dict prefixes -> current ones.
_LEGACY_PREFIXES = {
    "time_mlp.": "backbone.time_mlp.",
    "emotion_mlp.": "backbone.global_embeddings.emotion.",
    "proj.": "backbone.proj.",
    "blocks.": "backbone.blocks.",
    "out.": "backbone.out.",
}


def _upgrade_legacy_keys(state_dict: dict, prefix: str, *args, **kwargs) -> None:
    """Load-state-dict pre-hook: rename keys saved before the backbone moved to :mod:`emogen.modules`."""
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        local = key[len(prefix) :]
        for old, new in _LEGACY_PREFIXES.items():
            if local.startswith(old):
                state_dict[prefix + new + local[len(old) :]] = state_dict.pop(key)
                break


class VoiceConversionDenoiser(ModelMixin, ConfigMixin):
    """Conditional 1-D denoiser for emotional voice conversion.

    Args:
        cond_channels (`int`, *optional*, defaults to 43): source feature channels (:func:`condition_features`).
        num_modified_mcep (`int`, *optional*, defaults to 13): mel-cepstrum coefficients the model changes
            (c0 = energy, then the low orders); higher orders, which carry the speaker's identity, stay.
        hidden_channels (`int`, *optional*, defaults to 128): CNN width.
        num_blocks (`int`, *optional*, defaults to 8): residual FiLM blocks (dilations 1, 2, 4, 8 repeated).
        kernel_size (`int`, *optional*, defaults to 5): convolution width.
        emotion_dim (`int`, *optional*, defaults to 16): size of the shared emotion space.
        rate_slopes (`list[float]`, *optional*): log speaking-rate change per unit of intensity, one per bank
            category (measured on the training pairs); duration scales by ``exp(sum_k w_k * a_k * s_k)``.
        utterance_norm (`bool`, *optional*, defaults to `False`): whether the source mel-cepstrum is
            mean-normalised per utterance (see :func:`condition_features`).

    Example:
        >>> model = VoiceConversionDenoiser()
        >>> x = torch.zeros(1, model.out_channels, 50)
        >>> model(x, torch.tensor([10]), torch.zeros(1, 43, 50), torch.zeros(1, 16), torch.ones(1)).sample.shape
        torch.Size([1, 14, 50])
    """

    @register_to_config
    def __init__(
        self,
        cond_channels: int = 3 + NUM_MCEP,
        num_modified_mcep: int = 13,
        hidden_channels: int = 128,
        num_blocks: int = 8,
        kernel_size: int = 5,
        emotion_dim: int = 16,
        rate_slopes: list[float] | None = None,
        utterance_norm: bool = False,
    ) -> None:
        super().__init__()
        out = 1 + num_modified_mcep
        self.register_buffer("cond_mean", torch.zeros(cond_channels))
        self.register_buffer("cond_std", torch.ones(cond_channels))
        self.register_buffer("delta_std", torch.ones(out))
        self.backbone = FiLMTemporalDenoiser(
            sample_channels=out,
            condition_channels=cond_channels,
            global_conditions={"emotion": emotion_dim},
            hidden_channels=hidden_channels,
            num_blocks=num_blocks,
            kernel_size=kernel_size,
        )
        self._register_load_state_dict_pre_hook(_upgrade_legacy_keys)

    @property
    def out_channels(self) -> int:
        """Predicted channels: log-F0 delta plus the modified mel-cepstrum deltas."""
        return 1 + self.config.num_modified_mcep

    def normalize_condition(self, cond: torch.Tensor) -> torch.Tensor:
        """Standardise raw source features `(batch, cond_channels, frames)` with the training statistics."""
        return (cond - self.cond_mean[None, :, None]) / self.cond_std[None, :, None]

    def log_rate(self, weights: torch.Tensor) -> torch.Tensor:
        """Log duration factor for category weights `(batch, K)` (neutral's column is ignored)."""
        slopes = self.config.rate_slopes
        if not slopes:
            return torch.zeros(weights.shape[0], device=weights.device)
        s = torch.tensor(slopes, device=weights.device, dtype=weights.dtype)
        return (weights[:, 1:] * s[1:]).sum(-1)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        condition: torch.Tensor,
        emotion: torch.Tensor,
        emotion_mask: torch.Tensor,
        return_dict: bool = True,
    ) -> VoiceDenoiserOutput | tuple[torch.Tensor]:
        """Predict from a noisy delta sequence.

        Args:
            sample (`torch.Tensor` of shape `(batch, out_channels, frames)`): noisy normalised deltas.
            timestep (`torch.Tensor` or `int`): diffusion timestep(s).
            condition (`torch.Tensor` of shape `(batch, cond_channels, frames)`): normalised source features.
            emotion (`torch.Tensor` of shape `(batch, emotion_dim)`): target embedding in the shared space.
            emotion_mask (`torch.Tensor` of shape `(batch,)`): 1 for a real condition, 0 for the null one.
            return_dict (`bool`, *optional*, defaults to `True`): return a :class:`VoiceDenoiserOutput`.
        """
        out = self.backbone(sample, timestep, condition, {"emotion": emotion}, {"emotion": emotion_mask})
        if not return_dict:
            return (out,)
        return VoiceDenoiserOutput(sample=out)
