"""`CriticReadout`: how a critic (an encoder into the shared space) is read out over its categories.

Every critic (the speech, music and face encoders) is trained on a subset of the taxonomy and keeps in its
config the ``categories`` it reads and a calibration ``temperature`` (fitted on validation data by
:func:`~emogen.calibration.fit_temperature`, stored with :meth:`CriticReadout.set_calibration`, so
``save_pretrained`` keeps it). The calibrated posterior is ``softmax(log-likelihoods / temperature)`` over
those categories: the most likely category is the same as the bank's plain posterior, only the confidence
changes (a temperature above 1 softens an over-confident critic). :meth:`CriticReadout.read` turns embeddings into
:class:`~emogen.emotion.reading.CriticReading`s, flagged uncertain when the top calibrated probability is below the
config's ``uncertain_below`` (0, never, for a critic without that setting).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .reading import CriticReading

if TYPE_CHECKING:
    from .bank import EmotionBank

__all__ = ["CriticReadout"]


class CriticReadout:
    """Mixin for a ``ModelMixin, ConfigMixin`` encoder whose config holds ``categories`` and ``temperature``
    (and, for critics that flag unsure readings, ``uncertain_below``)."""

    @property
    def temperature(self) -> float:
        """The calibration temperature (1.0 = uncalibrated)."""
        return float(getattr(self.config, "temperature", 1.0))

    @property
    def uncertain_below(self) -> float:
        """The top calibrated probability below which a reading is flagged uncertain (0.0 = never)."""
        return float(getattr(self.config, "uncertain_below", 0.0))

    def logits(self, embedding: torch.Tensor, bank: EmotionBank) -> torch.Tensor:
        """Uncalibrated scores over ``config.categories``: the bank's Gaussian log-likelihoods, shape `(B, K)`."""
        index = [bank.category_index(name) for name in self.config.categories]
        return bank.log_likelihood(embedding.to(bank.means.device))[:, index]

    def posterior(self, embedding: torch.Tensor, bank: EmotionBank, calibrated: bool = True) -> torch.Tensor:
        """Emotion distribution over ``config.categories``, shape `(B, K)`.

        ``softmax(logits / config.temperature)`` (the calibrated probabilities), or the bank's plain
        posterior with ``calibrated=False``. The most likely category is the same either way.
        """
        temperature = self.temperature if calibrated else 1.0
        return torch.softmax(self.logits(embedding, bank) / temperature, dim=-1)

    @torch.no_grad()
    def read(self, embedding: torch.Tensor, bank: EmotionBank) -> list[CriticReading]:
        """Read embeddings `(B, D)` as :class:`~emogen.emotion.reading.CriticReading`s: the bank's reading over
        ``config.categories`` at the calibration temperature (probabilities, VAD, category, intensity), flagged
        uncertain below :attr:`uncertain_below`."""
        threshold = self.uncertain_below
        readings = bank.read(embedding.to(bank.means.device, bank.means.dtype), list(self.config.categories), self.temperature)
        return [CriticReading(probabilities=r.probabilities, vad=r.vad, category=r.category, intensity=r.intensity,
                              uncertain=max(r.probabilities.values()) < threshold, threshold=threshold) for r in readings]

    def set_calibration(self, temperature: float, uncertain_below: float | None = None) -> None:
        """Store a calibration (fitted on validation data) in the config, so ``save_pretrained`` keeps it.

        ``uncertain_below``: the top probability below which a reading is flagged uncertain, for critics that
        have that setting (left as it is when `None`).
        """
        if not temperature > 0:
            msg = f"temperature must be > 0, got {temperature}"
            raise ValueError(msg)
        values = {"temperature": float(temperature)}
        if uncertain_below is not None:
            if not 0.0 <= uncertain_below <= 1.0:
                msg = f"uncertain_below must be in [0, 1], got {uncertain_below}"
                raise ValueError(msg)
            values["uncertain_below"] = float(uncertain_below)
        self.register_to_config(**values)
