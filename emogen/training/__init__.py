"""Training: one loop (:func:`fit`) and the recipes that reproduce the shipped checkpoints.

- :mod:`~emogen.training.loop`: :func:`fit`, :class:`FitConfig`, :class:`FitResult` (AdamW, OneCycle,
  clipping, EMA, progress bar, atomic checkpoints and resume, generator seeding).
- :mod:`~emogen.training.sampling`: :class:`EpochSampler`, resumable shuffled epochs.
- :mod:`~emogen.training.recipe`: how every recipe ends (pipeline folder, ``scores.json``, model card).
- :mod:`~emogen.training.cards`: the model cards.
- :mod:`~emogen.training.music`, :mod:`~emogen.training.voice`: the recipes behind ``emogen train``.

Nothing here imports torch until it is used.
"""

from .._lazy import lazy_exports

__all__ = ["EpochSampler", "FitConfig", "FitResult", "GeneratorState", "Stateful", "TrainRun", "fit", "latest_checkpoint", "seeded_init"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EpochSampler": "sampling",
        "FitConfig": "loop",
        "FitResult": "loop",
        "GeneratorState": "loop",
        "Stateful": "loop",
        "TrainRun": "recipe",
        "fit": "loop",
        "latest_checkpoint": "loop",
        "seeded_init": "loop",
    },
)
