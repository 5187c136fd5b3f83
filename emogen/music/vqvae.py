"""`ElementVQVAE`: a bar-level VQ-VAE whose latent is split into one quantised slice per musical element.

MusER (Ji & Yang, 2024) regularises each element's latent dimensions so that an element can be edited on
its own. We take a simpler, hard form of that tie: each slice has its own encoder that reads only its
element's summary (:mod:`emogen.music.features`) and its own codebook, and the decoder's heads read
fixed subsets of slices -- onsets from (rhythm, pitch), durations from (duration, rhythm, pitch),
velocities from (velocity, rhythm, pitch). Replacing one slice's code therefore changes that element and
nothing upstream of it, which is what element transfer needs. Bars decode independently, in parallel.

With ``slots_per_bar > 1`` (the shipped model: 8, one slot per eighth note) rhythm and pitch are encoded,
quantised and decoded per time slot: a slot's pitch code reads which keys start in that slot, its rhythm
code the slot's onset counts per register, and the slot's onsets are decoded from its own codes plus the
whole bar's rhythm and pitch codes. A bar-level summary cannot say which key starts where (half of
EMOPIA's notes share a beat and register with an onset at another position), a per-eighth one mostly can
(``docs/studies/music_vqvae_layout.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..modeling import BaseOutput, ConfigMixin, ModelMixin, register_to_config
from .features import ELEMENT_INPUT_SIZES, ELEMENTS, element_inputs
from .representation import DURATION_CLASSES, NUM_PITCHES, NUM_VELOCITY_BINS, POSITIONS_PER_BAR

__all__ = ["ElementVQVAE", "ElementVQVAEOutput", "BarLogits"]


@dataclass
class BarLogits(BaseOutput):
    """Decoder output for `N` bars.

    Args:
        onset (`torch.Tensor` of shape `(N, 16, 88)`): onset logits.
        duration (`torch.Tensor` of shape `(N, 16, 88, 10)`): duration-class logits.
        velocity (`torch.Tensor` of shape `(N, 16, 88, 16)`): velocity-bin logits.
    """

    onset: torch.Tensor
    duration: torch.Tensor
    velocity: torch.Tensor


@dataclass
class ElementVQVAEOutput(BaseOutput):
    """Output of :meth:`ElementVQVAE.forward`: decoder logits, codes `(N, C)` and the VQ loss."""

    logits: BarLogits
    codes: torch.Tensor
    vq_loss: torch.Tensor


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.GELU()]
    return nn.Sequential(*layers[:-1])


class _Quantizer(nn.Module):
    """Nearest-neighbour vector quantiser with straight-through gradients (van den Oord et al., 2017)."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(size, dim) * 0.5)

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cdist(z, self.codebook).argmin(-1)

    def forward(self, z: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        codes = self.encode(z)
        q = self.codebook[codes]
        loss = F.mse_loss(q, z.detach()) + beta * F.mse_loss(z, q.detach())
        return z + (q - z).detach(), codes, loss


class ElementVQVAE(ModelMixin, ConfigMixin):
    """Bar VQ-VAE with one codebook per element (rhythm, pitch, duration, velocity).

    Args:
        codebook_sizes (`list[int]`, *optional*, defaults to `[128, 256, 64, 64]`): codebook size per element.
        latent_dim (`int`, *optional*, defaults to 32): dimensions of each element's slice.
        codes_per_element (`list[int]`, *optional*, defaults to `[1, 1, 1, 1]`): product quantisation: an
            element's slice is cut into this many equal parts, each with its own codebook, so a bar has
            ``sum(codes_per_element)`` codes.
        hidden_dim (`int`, *optional*, defaults to 256): width of the encoders and decoder heads.
        commitment (`float`, *optional*, defaults to 0.25): VQ commitment weight.
        slots_per_bar (`int`, *optional*, defaults to 1): time slots of the rhythm and pitch codes. 1: one
            latent per bar for each; ``S`` > 1: the bar's 16 positions are cut into ``S`` slots, each with
            ``latent_dim / S`` dimensions and ``codes_per_element / S`` codes of rhythm and of pitch (one
            shared encoder and onset head for all slots).

    Example:
        >>> vq = ElementVQVAE(codebook_sizes=[8, 8, 8, 8], latent_dim=4, hidden_dim=16)
        >>> import torch
        >>> codes = vq.encode(torch.zeros(2, 16, 88), torch.zeros(2, 16, 88), torch.zeros(2, 16, 88))
        >>> tuple(codes.shape)
        (2, 4)
    """

    #: Written in float16 (half the file; loading casts back to float32): the shipped model's test reconstruction
    #: is the same to the third decimal either way.
    _storage_dtype = torch.float16

    @register_to_config
    def __init__(
        self,
        codebook_sizes: list[int] = (128, 256, 64, 64),
        latent_dim: int = 32,
        hidden_dim: int = 256,
        commitment: float = 0.25,
        codes_per_element: list[int] = (1, 1, 1, 1),
        slots_per_bar: int = 1,
    ) -> None:
        super().__init__()
        sizes, groups = list(codebook_sizes), list(codes_per_element)
        if len(sizes) != len(ELEMENTS) or len(groups) != len(ELEMENTS):
            msg = f"codebook_sizes and codes_per_element need one value per element {ELEMENTS}, got {sizes} and {groups}"
            raise ValueError(msg)
        if any(latent_dim % g for g in groups):
            msg = f"latent_dim {latent_dim} must be divisible by every codes_per_element {groups}"
            raise ValueError(msg)
        slots = int(slots_per_bar)
        if POSITIONS_PER_BAR % slots or latent_dim % slots or any(g % slots for g in groups[:2]):
            msg = (f"slots_per_bar {slots} must divide the {POSITIONS_PER_BAR} positions, latent_dim {latent_dim} "
                   f"and the rhythm and pitch codes_per_element {groups[:2]}")
            raise ValueError(msg)
        h, d = hidden_dim, latent_dim
        p, n = POSITIONS_PER_BAR, NUM_PITCHES
        input_sizes = dict(ELEMENT_INPUT_SIZES)
        out_sizes = dict.fromkeys(ELEMENTS, d)
        if slots > 1:  # rhythm and pitch: one shared encoder per slot
            width = p // slots
            input_sizes.update(rhythm=ELEMENT_INPUT_SIZES["rhythm"] // slots, pitch=n)
            out_sizes.update(rhythm=d // slots, pitch=d // slots)
        self.encoders = nn.ModuleDict({e: _mlp([input_sizes[e], h, h, out_sizes[e]]) for e in ELEMENTS})
        self.quantizers = nn.ModuleDict(
            {self._key(e, g): _Quantizer(k, latent_dim // n) for e, k, n in zip(ELEMENTS, sizes, groups) for g in range(n)}
        )
        if slots > 1:  # a slot's onsets from its own rhythm and pitch latents plus the whole bar's
            self.onset_head = _mlp([2 * (d // slots) + 2 * d, 2 * h, 2 * h, width * n])
        else:
            self.onset_head = _mlp([2 * d, 2 * h, 2 * h, p * n])
        self.duration_body = _mlp([3 * d, h, h])
        self.duration_pos = nn.Linear(h, p * len(DURATION_CLASSES))
        self.duration_pitch = nn.Linear(h, n * len(DURATION_CLASSES))
        self.velocity_body = _mlp([3 * d, h, h])
        self.velocity_pos = nn.Linear(h, p * NUM_VELOCITY_BINS)
        self.velocity_pitch = nn.Linear(h, n * NUM_VELOCITY_BINS)

    # ------------------------------------------------------------------ layout
    @staticmethod
    def _key(element: str, group: int) -> str:
        return element if group == 0 else f"{element}_{group}"

    @property
    def code_layout(self) -> list[tuple[str, int]]:
        """(element, group) of each code column of a bar, in order."""
        return [(e, g) for e, n in zip(ELEMENTS, self.config.codes_per_element) for g in range(n)]

    @property
    def token_codebook_sizes(self) -> list[int]:
        """Codebook size of each code column (what the prior predicts)."""
        size = dict(zip(ELEMENTS, self.config.codebook_sizes))
        return [size[e] for e, _ in self.code_layout]

    def element_columns(self, element: str) -> list[int]:
        """Code columns that belong to ``element``."""
        return [i for i, (e, _) in enumerate(self.code_layout) if e == element]

    def _quantize(self, element: str, z: torch.Tensor, beta: float | None = None):
        parts = z.chunk(self.config.codes_per_element[ELEMENTS.index(element)], dim=-1)
        if beta is None:
            return [self.quantizers[self._key(element, g)].encode(p) for g, p in enumerate(parts)]
        return [self.quantizers[self._key(element, g)](p, beta) for g, p in enumerate(parts)]

    # ------------------------------------------------------------------ encode
    def latents(self, onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor) -> dict[str, torch.Tensor]:
        """Continuous (pre-quantisation) latent of each element slice, `(N, latent_dim)` each."""
        inputs = element_inputs(onsets, durations, velocities)
        slots = self.config.slots_per_bar
        if slots > 1:
            n, width = onsets.shape[0], POSITIONS_PER_BAR // slots
            registers = inputs["rhythm"].shape[1] // POSITIONS_PER_BAR
            inputs["rhythm"] = inputs["rhythm"].view(n, registers, slots, width).transpose(1, 2).reshape(n, slots, registers * width)
            inputs["pitch"] = onsets.float().view(n, slots, width, NUM_PITCHES).amax(2)
        return {e: self.encoders[e](inputs[e].to(self.dtype)).flatten(1) for e in ELEMENTS}

    def encode(self, onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor) -> torch.Tensor:
        """Codes of `N` bars, shape `(N, C)` in :attr:`code_layout` order (C = 4 without product quantisation)."""
        z = self.latents(onsets, durations, velocities)
        return torch.stack([c for e in ELEMENTS for c in self._quantize(e, z[e])], dim=-1)

    def embed_codes(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        """Codebook vectors of `(N, C)` codes, by element (groups concatenated)."""
        parts: dict[str, list[torch.Tensor]] = {e: [] for e in ELEMENTS}
        for i, (e, g) in enumerate(self.code_layout):
            parts[e].append(self.quantizers[self._key(e, g)].codebook[codes[..., i]])
        return {e: torch.cat(v, -1) for e, v in parts.items()}

    # ------------------------------------------------------------------ decode
    def decode_latents(self, z: dict[str, torch.Tensor]) -> BarLogits:
        """Decoder logits from the (quantised) slices."""
        n = z["rhythm"].shape[0]
        p, k = POSITIONS_PER_BAR, NUM_PITCHES
        bar = torch.cat([z["rhythm"], z["pitch"]], -1)
        slots = self.config.slots_per_bar
        if slots > 1:
            per_slot = [z["rhythm"].view(n, slots, -1), z["pitch"].view(n, slots, -1), bar[:, None].expand(n, slots, -1)]
            onset = self.onset_head(torch.cat(per_slot, -1)).view(n, p, k)
        else:
            onset = self.onset_head(bar).view(n, p, k)
        shared = [z["rhythm"], z["pitch"]]
        hd = self.duration_body(torch.cat([z["duration"], *shared], -1))
        nd = len(DURATION_CLASSES)
        duration = self.duration_pos(hd).view(n, p, 1, nd) + self.duration_pitch(hd).view(n, 1, k, nd)
        hv = self.velocity_body(torch.cat([z["velocity"], *shared], -1))
        nv = NUM_VELOCITY_BINS
        velocity = self.velocity_pos(hv).view(n, p, 1, nv) + self.velocity_pitch(hv).view(n, 1, k, nv)
        return BarLogits(onset=onset, duration=duration, velocity=velocity)

    def decode(self, codes: torch.Tensor) -> BarLogits:
        """Decoder logits of `(N, C)` codes."""
        return self.decode_latents(self.embed_codes(codes))

    def forward(
        self, onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor, return_dict: bool = True
    ) -> ElementVQVAEOutput | tuple:
        """Encode, quantise (straight-through) and decode `N` bars."""
        z = self.latents(onsets, durations, velocities)
        quantised, codes, losses = {}, [], []
        for e in ELEMENTS:
            results = self._quantize(e, z[e], self.config.commitment)
            quantised[e] = torch.cat([q for q, _, _ in results], -1)
            codes += [c for _, c, _ in results]
            losses += [loss for _, _, loss in results]
        logits = self.decode_latents(quantised)
        out = (logits, torch.stack(codes, -1), torch.stack(losses).sum())
        if not return_dict:
            return out
        return ElementVQVAEOutput(*out)

    @torch.no_grad()
    def sample_bars(
        self,
        codes: torch.Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        onset_sharpness: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw notes for `(N, C)` codes.

        The number of onsets of each bar is drawn as from independent Bernoulli cells (so note density
        follows the decoder), then that many cells are chosen without replacement by Gumbel top-k on
        ``onset_logits * onset_sharpness``: sharpness 1 is close to plain Bernoulli sampling, larger values
        put the same number of notes on the likeliest keys and positions (less stray notes). Duration
        and velocity are categorical draws at ``temperature``. Returns (onsets bool, duration classes,
        velocity bins), each `(N, 16, 88)`. All randomness comes from ``generator`` (uniform draws on the
        CPU, so results match across devices).
        """
        logits = self.decode(codes)
        t = max(float(temperature), 1e-4)

        def uniform(shape: torch.Size) -> torch.Tensor:
            return torch.rand(shape, generator=generator).to(codes.device).clamp(1e-9, 1 - 1e-9)

        onset_logits = logits.onset.float().flatten(1)
        counts = (uniform(onset_logits.shape) < torch.sigmoid(onset_logits / t)).sum(-1, keepdim=True)
        scores = onset_logits * float(onset_sharpness) - torch.log(-torch.log(uniform(onset_logits.shape)))
        ranks = scores.argsort(-1, descending=True).argsort(-1)
        onsets = (ranks < counts).view(logits.onset.shape)

        def categorical(lg: torch.Tensor) -> torch.Tensor:
            return (lg.float() / t - torch.log(-torch.log(uniform(lg.shape)))).argmax(-1)

        return onsets, categorical(logits.duration), categorical(logits.velocity)
