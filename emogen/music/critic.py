"""`MusicEmotionEncoder`: a symbolic music emotion encoder into the shared emotion space (the critic).

The shipped critic is ``linear``: the whole piece's hand-made descriptor
(:func:`~emogen.music.features.clip_descriptor`: key-profile mode and tonal pitch profile, interval and triad
content, register, density, velocity, durations, rhythm, repetition), standardised by statistics of the training
set kept as buffers, mapped by one linear layer to a point of the shared space (dimension 16); the bank's
categories have one shared isotropic variance, so its read-out is a multinomial logistic regression on the
descriptor with the bank's category means as anchors. Trained on EMOPIA's train split by
``emogen.training.music.train_linear_critic`` (full batch, an L2 penalty chosen on the val songs).

The earlier design (``linear=False``) reads the per-bar element summaries of :mod:`emogen.music.features`
through a small convolution over bars (masked mean and peak) and, when ``descriptor_hidden > 0``, fuses in the
descriptor through a hidden layer; it is trained on random windows with the bank's Gaussian likelihood
(quadrant -> category) and a pull toward the category mean. Either way
``critic.posterior(embedding, bank)`` (:class:`~emogen.emotion.critic.CriticReadout`: the bank's posterior over
``config.categories`` at the calibration ``config.temperature``, fitted on the validation songs) gives the quadrant,
and :meth:`MusicEmotionEncoder.place` puts that posterior in the space for ``bank.project_intensity`` to grade. The pipeline
reuses it to rerank candidates (``--candidates N``); evaluation uses the independent judge instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..data.emopia import QUADRANT_CATEGORIES
from ..emotion.critic import CriticReadout
from ..modeling import BaseOutput, ConfigMixin, ModelMixin, register_to_config

from .features import DESCRIPTOR_SIZE, ELEMENT_INPUT_SIZES, ELEMENTS, clip_descriptor, element_inputs

if TYPE_CHECKING:
    from ..emotion import EmotionSpec

_REALISM_NEEDS_LINEAR = "realism_head needs the linear critic (linear=True): it reads the same standardised descriptor"

__all__ = ["MusicEmotionEncoder", "MusicEmotionEncoderOutput", "load_music_critic", "recognize_music"]


@dataclass
class MusicEmotionEncoderOutput(BaseOutput):
    """Embedding `(B, emotion_dim)` of each piece in the shared space; for the linear critic, ``in_domain`` `(B,)`:
    whether every descriptor feature lies within ``config.domain_margin`` standard deviations of its training range
    (`None` for the bar-encoder critic) and, with ``config.realism_head``, ``realism`` `(B,)`: the log-odds that the
    piece is real music rather than the music prior's."""

    embedding: torch.Tensor
    in_domain: torch.Tensor | None = None
    realism: torch.Tensor | None = None  # `(B,)` log-odds that a piece is real music, not generated (``realism_head``)


class MusicEmotionEncoder(CriticReadout, ModelMixin, ConfigMixin):
    """Bars -> a point in the shared emotion space.

    Args:
        emotion_dim (`int`, *optional*, defaults to 16): size of the shared space.
        hidden_dim (`int`, *optional*, defaults to 128): width.
        dropout (`float`, *optional*, defaults to 0.2): dropout in training.
        categories (`Sequence[str]`, *optional*, defaults to the quadrant categories): the bank categories
            the critic was trained on (happy, angry, sad, calm for Q1..Q4), read out with
            :meth:`~emogen.emotion.critic.CriticReadout.read`.
        descriptor_hidden (`int`, *optional*, defaults to 0): width of the branch reading the piece's
            :func:`~emogen.music.features.clip_descriptor`; 0 = no such branch (the first shipped critic).
        temperature (`float`, *optional*, defaults to 1.0): calibration temperature dividing the bank's
            log-likelihoods in :meth:`posterior` (> 1 softens an over-confident critic; set by the recipe).
        linear (`bool`, *optional*, defaults to `False`): no bar encoder and no hidden layer: the standardised
            descriptor goes through one linear layer into the space (``hidden_dim``, ``descriptor_hidden`` and
            ``dropout`` are then unused).
        domain_margin (`float`, *optional*, defaults to 2.0): linear critic: a piece whose standardised descriptor
            leaves its training clips' range by more than this many standard deviations in any feature is out of
            domain (a linear map extrapolates there, e.g. a lone note or a scale read as "happy 0.96" or "angry
            0.80"), and :meth:`read` flags it uncertain.
        typical_readings (`list[list[float]]`, *optional*): the mean valence and arousal of the critic's readings
            (the categories' VAD anchors weighted by its calibrated posterior) over the training clips of each of
            ``categories``, then over all training clips; set by the recipe (:meth:`set_typical_readings`). The
            pipeline reranks candidates toward :meth:`reading_target`, so intensity 1 asks for music that reads as
            the emotion's real music does, not for the most extreme reading (without them: the anchors themselves).
        realism_head (`bool`, *optional*, defaults to `False`): linear critic: a second linear layer on the same
            standardised descriptor giving the log-odds that a piece is real music, not the prior's (a logistic
            regression of the training clips against pieces the pipeline generated, fitted by the recipe's
            ``fit_music_realism_head``). The pipeline's rerank adds it, weighted, to the reading's closeness.
    """

    @register_to_config
    def __init__(
        self,
        emotion_dim: int = 16,
        hidden_dim: int = 128,
        dropout: float = 0.2,
        categories: Sequence[str] = QUADRANT_CATEGORIES,
        descriptor_hidden: int = 0,
        temperature: float = 1.0,
        linear: bool = False,
        domain_margin: float = 2.0,
        typical_readings: Sequence[Sequence[float]] | None = None,
        realism_head: bool = False,
    ) -> None:
        super().__init__()
        if realism_head and not linear:
            raise ValueError(_REALISM_NEEDS_LINEAR)
        self.realism = nn.Linear(DESCRIPTOR_SIZE, 1) if realism_head else None
        if linear:
            self.register_buffer("descriptor_mean", torch.zeros(DESCRIPTOR_SIZE))
            self.register_buffer("descriptor_scale", torch.ones(DESCRIPTOR_SIZE))
            # the training clips' range of each standardised feature (what in_domain compares with)
            self.register_buffer("descriptor_low", torch.full((DESCRIPTOR_SIZE,), -float(torch.finfo(torch.float32).max)))
            self.register_buffer("descriptor_high", torch.full((DESCRIPTOR_SIZE,), float(torch.finfo(torch.float32).max)))
            self.descriptor = None
            self.out = nn.Linear(DESCRIPTOR_SIZE, emotion_dim)
            return
        size = sum(ELEMENT_INPUT_SIZES.values()) + 1
        self.bar = nn.Sequential(nn.Linear(size, hidden_dim), nn.GELU(), nn.Dropout(dropout))
        self.conv = nn.Sequential(nn.Conv1d(hidden_dim, hidden_dim, 3, padding=1), nn.GELU(), nn.Dropout(dropout))
        self.descriptor = None
        if descriptor_hidden > 0:
            self.register_buffer("descriptor_mean", torch.zeros(DESCRIPTOR_SIZE))
            self.register_buffer("descriptor_scale", torch.ones(DESCRIPTOR_SIZE))
            self.descriptor = nn.Sequential(nn.Dropout(dropout), nn.Linear(DESCRIPTOR_SIZE, descriptor_hidden), nn.GELU(), nn.Dropout(dropout))
        self.out = nn.Linear(2 * hidden_dim + descriptor_hidden, emotion_dim)

    @torch.no_grad()
    def set_descriptor_statistics(self, descriptors: torch.Tensor) -> None:
        """Standardise the descriptor branch's input by the mean and spread of `(N, DESCRIPTOR_SIZE)` training descriptors
        (and, for the linear critic, keep their standardised range for ``in_domain``)."""
        if not hasattr(self, "descriptor_mean"):
            msg = "this critic reads no descriptor (descriptor_hidden=0); build it with descriptor_hidden > 0 or linear=True"
            raise ValueError(msg)
        self.descriptor_mean.copy_(descriptors.mean(0))
        self.descriptor_scale.copy_(descriptors.std(0).clamp_min(1e-3))
        if hasattr(self, "descriptor_low"):
            standardised = (descriptors - self.descriptor_mean) / self.descriptor_scale
            self.descriptor_low.copy_(standardised.min(0).values)
            self.descriptor_high.copy_(standardised.max(0).values)

    def standardised_descriptor(self, onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor,
                                bar_mask: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, DESCRIPTOR_SIZE)` descriptor of `(B, T, 16, 88)` bar grids standardised by the training statistics:
        what the linear critic's layers read."""
        m = None if bar_mask is None else bar_mask.to(self.dtype)
        d = clip_descriptor(onsets, durations, velocities, m).to(self.dtype)
        return (d - self.descriptor_mean) / self.descriptor_scale

    @torch.no_grad()
    def set_realism_head(self, weight: torch.Tensor, bias: float) -> None:
        """Set the realism head's `(DESCRIPTOR_SIZE,)` ``weight`` and ``bias`` (log-odds of real music, on the
        standardised descriptor), adding the head (and ``realism_head`` to the config) if the critic has none."""
        if self.realism is None:
            if not self.config.linear:
                raise ValueError(_REALISM_NEEDS_LINEAR)
            self.realism = nn.Linear(DESCRIPTOR_SIZE, 1).to(self.out.weight)
            self.register_to_config(realism_head=True)
        self.realism.weight.copy_(torch.as_tensor(weight, dtype=self.realism.weight.dtype).view(1, -1))
        self.realism.bias.fill_(float(bias))

    def set_typical_readings(self, readings: torch.Tensor) -> None:
        """Store `(K + 1, 2)` mean (valence, arousal) readings: one row per category in ``config.categories`` order,
        then all training clips' (see ``typical_readings``)."""
        readings = torch.as_tensor(readings, dtype=torch.float32)
        if readings.shape != (len(self.config.categories) + 1, 2):
            msg = f"typical readings must be ({len(self.config.categories) + 1}, 2): one row per category, then all clips; got {tuple(readings.shape)}"
            raise ValueError(msg)
        self.register_to_config(typical_readings=[[round(float(x), 6) for x in row] for row in readings])

    def reading_target(self, spec: EmotionSpec, requested_va: torch.Tensor, bank) -> torch.Tensor:
        """`(2,)` valence and arousal a candidate for ``spec`` should read as (what the pipeline's rerank approaches).

        With ``typical_readings``: for a mixture of the critic's categories, the typical reading of all training
        clips moved by each category's intensity toward that category's typical reading (intensity 0 = average
        music, 1 = how the category's real music reads); for anything else (``va:`` specs, other categories), the
        ``requested_va`` (`(2,)`, the condition's) mapped per axis by the least-squares line through the categories'
        and neutral's anchors and their typical readings. Without them, ``requested_va`` itself.
        """
        requested_va = requested_va.float().cpu()
        if self.config.typical_readings is None:
            return requested_va
        typical = torch.tensor(self.config.typical_readings, dtype=torch.float32)
        categories = list(self.config.categories)
        if spec.kind == "categorical" and spec.components and all(name in categories for name, _ in spec.components):
            target = typical[-1].clone()
            for name, intensity in spec.components:
                target += float(intensity) * (typical[categories.index(name)] - typical[-1])
            return target
        anchors = bank.anchor_vad[[bank.category_index(c) for c in categories] + [bank.category_index("neutral")], :2].float().cpu()
        x = torch.stack([anchors, torch.ones_like(anchors)], -1)  # (K + 1, 2 axes, 2): anchor and intercept per axis
        out = torch.empty(2)
        for axis in range(2):
            slope, intercept = torch.linalg.lstsq(x[:, axis], typical[:, axis, None]).solution.flatten()
            out[axis] = slope * requested_va[axis] + intercept
        return out

    def forward(
        self,
        onsets: torch.Tensor,
        durations: torch.Tensor,
        velocities: torch.Tensor,
        bar_mask: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> MusicEmotionEncoderOutput | tuple:
        """Embed `(B, T, 16, 88)` bar grids; ``bar_mask`` `(B, T)` marks real bars (default: all)."""
        if self.config.linear:
            z = self.standardised_descriptor(onsets, durations, velocities, bar_mask)
            embedding = self.out(z)
            margin = self.config.domain_margin
            in_domain = ((z >= self.descriptor_low - margin) & (z <= self.descriptor_high + margin)).all(-1)
            realism = self.realism(z)[:, 0] if self.realism is not None else None
            if not return_dict:
                return (embedding, in_domain, realism)
            return MusicEmotionEncoderOutput(embedding=embedding, in_domain=in_domain, realism=realism)
        b, t = onsets.shape[:2]
        flat = [x.reshape(b * t, *x.shape[2:]) for x in (onsets, durations, velocities)]
        inputs = element_inputs(*flat)
        count = flat[0].float().sum((1, 2))[:, None] / 16.0
        x = torch.cat([inputs[e] for e in ELEMENTS] + [count], -1).to(self.dtype).view(b, t, -1)
        m = torch.ones(b, t, device=x.device, dtype=x.dtype) if bar_mask is None else bar_mask.to(x.dtype)
        h = self.bar(x) * m[..., None]  # padded bars are zero, so the convolution cannot see them
        h = h + self.conv(h.transpose(1, 2)).transpose(1, 2)
        mean = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp_min(1.0)
        peak = (h + (m[..., None] - 1) * 1e4).amax(1)
        parts = [mean, peak]
        if self.descriptor is not None:
            d = clip_descriptor(onsets, durations, velocities, m).to(x.dtype)
            parts.append(self.descriptor((d - self.descriptor_mean) / self.descriptor_scale))
        embedding = self.out(torch.cat(parts, -1))
        if not return_dict:
            return (embedding,)
        return MusicEmotionEncoderOutput(embedding=embedding)

    @torch.no_grad()
    def place(self, embedding: torch.Tensor, bank) -> torch.Tensor:
        """The calibrated posterior over ``config.categories`` placed in the shared space, `(B, D)`
        (:meth:`~emogen.emotion.EmotionBank.embed_probabilities`): what ``bank.project_intensity`` grades.

        The linear critic's own embeddings sit close to the neutral point (its L2 penalty keeps the layer small; the
        bank's read-out only needs their direction), so their projected intensity says nothing; the placed
        posterior grades a piece by how surely it reads as each category, as the benchmark grades its judge.
        """
        return bank.embed_probabilities(self.posterior(embedding, bank), list(self.config.categories))

    @torch.no_grad()
    def read(self, embedding: torch.Tensor, bank, in_domain: torch.Tensor | None = None) -> list:
        """:meth:`~emogen.emotion.critic.CriticReadout.read`, with each reading's intensity that of :meth:`place`;
        pieces whose ``in_domain`` (the output's, `(B,)`) is false are flagged ``out_of_domain`` and ``uncertain``."""
        readings = super().read(embedding, bank)
        placed = self.place(embedding, bank)
        out = []
        for i, r in enumerate(readings):
            r = replace(r, intensity=min(max(float(bank.project_intensity(placed[i : i + 1], r.category)[0]), 0.0), 1.0))
            if in_domain is not None and not bool(in_domain[i]):
                r = replace(r, uncertain=True, out_of_domain=True)
            out.append(r)
        return out


def load_music_critic(path: str | None = None):
    """The music critic and emotion bank of a music checkpoint folder (default: the shipped one)."""
    from ..pipeline_utils import load_critic

    return load_critic(MusicEmotionEncoder, "music", "music_critic", path)


@torch.no_grad()
def recognize_music(path: str, critic: MusicEmotionEncoder | None = None, bank=None, max_bars: int = 64):
    """The emotion the music critic hears in a MIDI file (its first ``max_bars`` bars), as a
    :class:`~emogen.emotion.reading.CriticReading` over the critic's categories (the EMOPIA quadrants).

    The same encoder reranks ``emogen music --candidates``. The probabilities are the critic's calibrated
    posterior (its ``config.temperature``); valence, arousal and dominance are the VAD anchors of the quadrants
    weighted by it (:meth:`~emogen.emotion.EmotionBank.expected_vad`). Raises :class:`~emogen.errors.InputError`
    for a missing, corrupt or empty MIDI file.
    """
    from .dataset import stack_grids
    from .representation import events_from_midi, grid_from_events

    if critic is None or bank is None:
        critic, bank = load_music_critic()
    grid = grid_from_events(events_from_midi(path))
    onsets, durations, velocities, mask = stack_grids([grid], min(grid.num_bars, max_bars))
    output = critic(onsets, durations, velocities, mask)
    reading = critic.read(output.embedding, bank, output.in_domain)[0]
    # the critic learned quadrants, not VAD: its valence and arousal are its posterior's anchors (as the pipeline reports them)
    probabilities = torch.tensor([list(reading.probabilities.values())])
    vad = tuple(float(v) for v in bank.anchor_mix(probabilities, list(reading.probabilities))[0])
    return replace(reading, vad=vad)
