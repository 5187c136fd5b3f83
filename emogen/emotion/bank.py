"""`EmotionBank`: one Gaussian per emotion category in a shared D-dimensional space, a VAD head, and
directional intensity.

Each category k has a mean ``mu_k`` and a diagonal log-variance. Intensity ``a`` of category k is the
point ``mu_neutral + a * (mu_k - mu_neutral)`` (the directional intensity vectors of EmoReg); mixtures add
their directions. The same bank scores embeddings produced by the recognition encoders: Gaussian
log-likelihood per category, the nearest category, and the intensity projected on a direction.

The means are laid out from the published VAD anchors (:mod:`emogen.emotion.taxonomy`): the first three
dimensions hold (valence, arousal, dominance), the next ``num_categories`` dimensions a one-hot category
code (so categories with close VAD anchors stay separable), and the rest are free for encoders. The VAD
head starts as the read-out of the first three dimensions, so ``vad(mu_k)`` is the anchor of k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import EmotionSpecError
from ..modeling import ConfigMixin, ModelMixin, register_to_config
from .condition import EmotionCondition
from .reading import EmotionReading
from .spec import EmotionSpec
from .taxonomy import CATEGORIES, VAD_ANCHORS

__all__ = ["EmotionBank", "EmotionReading"]


class EmotionBank(ModelMixin, ConfigMixin):
    """Per-category Gaussians in the shared emotion space, with a VAD head and directional intensity.

    Args:
        categories (`Sequence[str]`, *optional*, defaults to the canonical taxonomy): category names; the
            first must be ``"neutral"``.
        vad_anchors (`Sequence[Sequence[float]]`, *optional*): one (valence, arousal, dominance) per category;
            defaults to :data:`~emogen.emotion.taxonomy.VAD_ANCHORS`.
        embedding_dim (`int`, *optional*, defaults to 16): D, at least ``3 + len(categories)``.
        init_log_variance (`float`, *optional*, defaults to ``log(0.05)``): initial diagonal log-variance.
        va_temperature (`float`, *optional*, defaults to 0.1): softness of the category weights of a
            ``va:``/``vad:`` spec (squared VA distance to each anchor divided by this).

    Example:
        >>> bank = EmotionBank()
        >>> cond = bank.condition("happy:0.7")
        >>> round(float(bank.project_intensity(cond.embedding, "happy")), 3)
        0.7
    """

    @register_to_config
    def __init__(
        self,
        categories: Sequence[str] = CATEGORIES,
        vad_anchors: Sequence[Sequence[float]] | None = None,
        embedding_dim: int = 16,
        init_log_variance: float = math.log(0.05),
        va_temperature: float = 0.1,
    ) -> None:
        super().__init__()
        categories = list(categories)
        if not categories or categories[0] != "neutral":
            msg = f"EmotionBank categories must start with 'neutral', got {categories[:1]}"
            raise ValueError(msg)
        if vad_anchors is None:
            vad_anchors = [VAD_ANCHORS[name] for name in categories]
        if len(vad_anchors) != len(categories):
            msg = f"EmotionBank needs one VAD anchor per category: {len(vad_anchors)} anchors, {len(categories)} categories"
            raise ValueError(msg)
        num = len(categories)
        if embedding_dim < 3 + num:
            msg = f"EmotionBank embedding_dim must be >= 3 + {num} categories = {3 + num}, got {embedding_dim}"
            raise ValueError(msg)
        anchors = torch.tensor(vad_anchors, dtype=torch.float32)
        means = torch.zeros(num, embedding_dim)
        means[:, :3] = anchors
        means[:, 3 : 3 + num] = torch.eye(num)
        self.means = nn.Parameter(means)
        self.log_variances = nn.Parameter(torch.full((num, embedding_dim), float(init_log_variance)))
        self.register_buffer("anchor_vad", anchors, persistent=True)
        self.vad_head = nn.Linear(embedding_dim, 3)
        with torch.no_grad():
            self.vad_head.weight.zero_()
            self.vad_head.weight[:, :3] = torch.eye(3)
            self.vad_head.bias.zero_()

    # ----------------------------------------------------------------- helpers
    @property
    def categories(self) -> list[str]:
        """Category names, in tensor order."""
        return list(self.config.categories)

    @property
    def num_categories(self) -> int:
        """Number of categories K."""
        return len(self.config.categories)

    def category_index(self, name: str) -> int:
        """Index of a canonical category name (raises :class:`EmotionSpecError` if absent)."""
        try:
            return self.categories.index(name)
        except ValueError:
            msg = f"category {name!r} is not in this bank; known: {', '.join(self.categories)}"
            raise EmotionSpecError(msg) from None

    @property
    def directions(self) -> torch.Tensor:
        """``mu_k - mu_neutral`` for every category, shape `(K, D)` (row 0 is zero)."""
        return self.means - self.means[:1]

    # ------------------------------------------------------------ conditioning
    def condition(self, spec: str | EmotionSpec, batch_size: int = 1) -> EmotionCondition:
        """Map an emotion spec to an :class:`EmotionCondition` (repeated ``batch_size`` times).

        Categorical specs move from the neutral mean along each category's direction by its intensity;
        ``va:``/``vad:`` specs pick category weights by distance to the VAD anchors, an intensity from the
        distance to the origin, and are then corrected so the VAD head reads back the requested values.
        """
        spec = EmotionSpec.parse(spec)
        if spec.kind == "auto":
            msg = "emotion 'auto' reads the emotion from an input; give an input (e.g. --from voice.wav) or a category such as 'happy:0.7'"
            raise EmotionSpecError(msg)
        with torch.no_grad():
            if spec.kind == "categorical":
                embedding, weights, intensity = self._categorical(spec)
            else:
                embedding, weights, intensity = self._dimensional(spec)
            vad = self.vad_head(embedding[None])[0]
        device = self.means.device
        one = EmotionCondition(
            embedding=embedding[None],
            vad=vad[None],
            weights=weights[None],
            intensity=torch.tensor([intensity], device=device),
            mask=torch.ones(1, device=device),
        )
        return one.repeat(batch_size) if batch_size != 1 else one

    def condition_batch(self, specs: Sequence[str | EmotionSpec]) -> EmotionCondition:
        """One condition per spec, concatenated along the batch axis."""
        return EmotionCondition.cat([self.condition(s) for s in specs])

    def _categorical(self, spec: EmotionSpec) -> tuple[torch.Tensor, torch.Tensor, float]:
        amounts = torch.zeros(self.num_categories, device=self.means.device)
        for name, a in spec.components:
            amounts[self.category_index(name)] = a
        embedding = self.means[0] + amounts @ self.directions
        total = float(amounts[1:].sum())  # neutral has no direction, so it adds no intensity
        weights = amounts.clone()
        weights[0] = max(float(amounts[0]), 1.0 - total)
        return embedding, weights / weights.sum().clamp_min(1e-8), total

    def _dimensional(self, spec: EmotionSpec) -> tuple[torch.Tensor, torch.Tensor, float]:
        anchors = self.anchor_vad
        target_va = torch.tensor(spec.coords[:2], device=anchors.device)
        dist = ((anchors[1:, :2] - target_va) ** 2).sum(-1)
        mix = torch.softmax(-dist / self.config.va_temperature, dim=0)
        mix_va = mix @ anchors[1:, :2]
        norm = float(mix_va.norm())
        intensity = min(1.0, float(target_va.norm()) / norm) if norm > 1e-8 else 0.0
        embedding = self.means[0] + intensity * (mix @ self.directions[1:])
        if spec.kind == "vad":
            target = torch.tensor(spec.coords, device=anchors.device)
        else:  # dominance follows the category mixture
            target = torch.cat([target_va, (intensity * (mix @ anchors[1:, 2]))[None]])
        # smallest change to the embedding that makes the VAD head read exactly the target
        residual = target - self.vad_head(embedding[None])[0]
        embedding = embedding + torch.linalg.pinv(self.vad_head.weight) @ residual
        weights = torch.cat([torch.tensor([1.0 - intensity], device=anchors.device), intensity * mix])
        return embedding, weights, intensity

    # ----------------------------------------------------------------- scoring
    def log_likelihood(self, embedding: torch.Tensor) -> torch.Tensor:
        """Diagonal-Gaussian log-likelihood of each embedding under each category, shape `(B, K)`."""
        diff = embedding[:, None, :] - self.means[None]
        var = self.log_variances.exp()[None]
        return -0.5 * ((diff**2) / var + self.log_variances[None] + math.log(2 * math.pi)).sum(-1)

    def probabilities(self, embedding: torch.Tensor) -> torch.Tensor:
        """Posterior over all the bank's categories with a uniform prior, shape `(B, K)`."""
        return self.posterior(embedding)

    def posterior(self, embedding: torch.Tensor, categories: Sequence[str] | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Posterior over ``categories`` (all the bank's when `None`), in the given order, shape `(B, K')`.

        A softmax over the Gaussian log-likelihoods restricted to those categories (a uniform prior over
        them) divided by ``temperature``: a critic trained on a subset of the taxonomy (RAVDESS' 8 categories,
        EMOPIA's 4 quadrants) is read out over that subset only, at its calibration temperature
        (``critic.config.temperature``, :class:`~emogen.emotion.critic.CriticReadout`; > 1 softens).

        Example:
            >>> bank = EmotionBank()
            >>> p = bank.posterior(bank.means[[2]], ["neutral", "happy", "sad"])
            >>> p.shape, round(float(p.sum()), 4)
            (torch.Size([1, 3]), 1.0)
        """
        log_likelihood = self.log_likelihood(embedding)
        if categories is not None:
            log_likelihood = log_likelihood[:, [self.category_index(name) for name in categories]]
        return torch.softmax(log_likelihood / float(temperature), dim=-1)

    @torch.no_grad()
    def read(self, embedding: torch.Tensor, categories: Sequence[str] | None = None, temperature: float = 1.0) -> list[EmotionReading]:
        """Read embeddings `(B, D)` out as :class:`~emogen.emotion.EmotionReading`s, one per row.

        The posterior over ``categories`` at ``temperature`` (see :meth:`posterior`), the VAD head's reading,
        the most likely category and the intensity projected on its direction, clipped to [0, 1] (0 for neutral).

        Example:
            >>> bank = EmotionBank()
            >>> bank.read(bank.condition("angry:0.7").embedding)[0].spec.format()
            'angry:0.7'
        """
        names = list(categories) if categories is not None else self.categories
        probs = self.posterior(embedding, names, temperature).float().cpu()
        vad = self.vad(embedding).float().cpu()
        readings = []
        for i, row in enumerate(probs):
            category = names[int(row.argmax())]
            intensity = 0.0
            if category != "neutral":
                intensity = float(self.project_intensity(embedding[i : i + 1], category)[0])
            readings.append(
                EmotionReading(
                    probabilities={name: float(p) for name, p in zip(names, row)},
                    vad=tuple(float(v) for v in vad[i]),  # type: ignore[arg-type]
                    category=category,
                    intensity=min(max(intensity, 0.0), 1.0),
                )
            )
        return readings

    def embed_probabilities(self, probabilities: torch.Tensor, categories: Sequence[str]) -> torch.Tensor:
        """Place a distribution `(B, K')` over ``categories`` in the shared space, shape `(B, D)`.

        ``mu_neutral + sum_k p_k (mu_k - mu_neutral)``: the inverse of a read-out for classifiers outside
        the space (e.g. the music judge), so :meth:`project_intensity` grades them like the critics.
        """
        index = [self.category_index(name) for name in categories]
        return self.means[0] + probabilities.to(self.means.dtype) @ self.directions[index]

    def nearest(self, embedding: torch.Tensor) -> list[str]:
        """Most likely category name for each embedding."""
        return [self.categories[i] for i in self.log_likelihood(embedding).argmax(-1).tolist()]

    def vad(self, embedding: torch.Tensor) -> torch.Tensor:
        """Valence, arousal, dominance read from embeddings, shape `(B, 3)`."""
        return self.vad_head(embedding)

    def expected_vad(self, embedding: torch.Tensor, categories: Sequence[str], temperature: float = 1.0) -> torch.Tensor:
        """Valence, arousal, dominance as the VAD anchors of ``categories`` weighted by the posterior at
        ``temperature`` (:meth:`posterior`), shape `(B, 3)`.

        The dimensional reading of a critic trained on categories only (the music critic: EMOPIA's quadrants),
        whose embeddings the VAD head was never fitted to: it stays inside the anchors' hull and follows the
        critic's own posterior.

        Example:
            >>> bank = EmotionBank()
            >>> [round(v, 2) for v in bank.expected_vad(bank.means[[bank.category_index("sad")]], ["happy", "sad"])[0].tolist()]
            [-0.63, -0.27, -0.33]
        """
        return self.anchor_mix(self.posterior(embedding, categories, temperature), categories)

    def anchor_mix(self, probabilities: torch.Tensor, categories: Sequence[str]) -> torch.Tensor:
        """The VAD anchors of ``categories`` weighted by ``probabilities`` `(B, K)` over them, shape `(B, 3)`
        (:meth:`expected_vad` for a caller that already holds the posterior)."""
        index = [self.category_index(name) for name in categories]
        return probabilities @ self.anchor_vad[index].to(probabilities.device, probabilities.dtype)

    def direction(self, target: str | EmotionSpec) -> torch.Tensor:
        """Unit-intensity direction from neutral for a category name or a categorical spec, shape `(D,)`.

        A mixture's direction is its intensity-weighted mean of category directions, so projecting the
        spec's own condition on it returns the spec's total intensity.
        """
        spec = EmotionSpec.parse(target)
        if spec.kind != "categorical":
            msg = f"a direction needs a category or categorical mixture, got {spec.format()!r}"
            raise EmotionSpecError(msg)
        total = spec.total_intensity
        shares = [(n, a / total if total > 0 else 1.0 / len(spec.components)) for n, a in spec.components]
        return sum(share * self.directions[self.category_index(n)] for n, share in shares)

    def project_intensity(self, embedding: torch.Tensor, target: str | EmotionSpec | torch.Tensor) -> torch.Tensor:
        """Intensity of each embedding along a direction from neutral, shape `(B,)`.

        0 at the neutral mean, 1 at the category mean; ``target`` is a category, a categorical spec or a
        direction tensor of shape `(D,)`.
        """
        direction = target if isinstance(target, torch.Tensor) else self.direction(target)
        return ((embedding - self.means[0]) @ direction) / direction.dot(direction).clamp_min(1e-8)
