"""Even intensity steps for voice conversion: a measured curve from the asked-for intensity to the model's.

The converter is trained on neutral -> emotion pairs at three intensities only: 0 (neutral pairs), 0.6
(RAVDESS "normal") and 1.0 ("strong"). Its response to the embedding's intensity is therefore not linear:
0.25 lands between two trained points and does almost nothing, and most of the change happens between 0.5
and 0.75. An intensity curve per category fixes that without retraining. It is measured once, on real
speech, along the deterministic DDIM path (temperature 0): for model intensities ``a`` on a grid, the
converter's feature change (per channel, the mean and the spread over frames of the predicted log-F0,
energy and low mel-cepstrum deltas, in units of their training spread) is projected on the change at
``a = 1``. That projection ``e(a)`` runs from 0 to 1; the curve stores its inverse on an even grid of asked
intensities ``u``, so that asking for ``u`` gives ``e = u``: ``angry:0.5`` makes half of ``angry:1``'s change.

Curves live in the denoiser's config (``intensity_curves``, one list of :data:`CURVE_POINTS` model
intensities per category) and are applied by :func:`calibrated_spec` to categorical specs; VA/VAD specs are
left as they are. The speaking-rate change stays linear in the asked intensity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..emotion.spec import EmotionSpec

if TYPE_CHECKING:
    import torch

__all__ = [
    "CURVE_POINTS",
    "VALIDATION_ACTORS",
    "calibrated_spec",
    "feature_response",
    "fit_intensity_curve",
    "fit_intensity_curves",
    "ravdess_intensity_curves",
    "source_conditions",
]

#: Points of a stored curve: asked intensities 0, 0.1, ..., 1.
CURVE_POINTS = 11
#: RAVDESS actors whose neutral clips the curves are measured on (the recipe's validation actors).
VALIDATION_ACTORS = (17, 18)
#: Model intensities the response is measured at.
MEASURE_POINTS = np.linspace(0.0, 1.0, 21)


class _NoProgress:
    def update(self, n: int = 1) -> None:
        """Ignore progress (the measurement runs many short loops)."""


def source_conditions(pipe, audios: Sequence[np.ndarray], sample_rate: int = 16000) -> list[torch.Tensor]:
    """The denoiser's normalised source features `(1, channels, frames)` of each utterance (silence trimmed)."""
    import torch

    from .audio import MODEL_SAMPLE_RATE, resample, to_mono, trim_silence
    from .denoiser import condition_features
    from .world import analyze

    conditions = []
    for audio in audios:
        mono = resample(to_mono(np.asarray(audio, dtype=np.float32)), sample_rate, MODEL_SAMPLE_RATE)
        start, end = trim_silence(mono, MODEL_SAMPLE_RATE, pad_seconds=0.2)
        features = condition_features(analyze(mono[start:end], MODEL_SAMPLE_RATE), pipe.denoiser.config.utterance_norm)
        conditions.append(pipe.denoiser.normalize_condition(torch.from_numpy(features.T[None]).to(pipe.device)))
    return conditions


def feature_response(pipe, conditions: Sequence[torch.Tensor], category: str, amounts: Sequence[float],
                     num_inference_steps: int = 10, guidance_scale: float = 2.0) -> np.ndarray:
    """The converter's feature change at each model intensity, averaged over utterances.

    Args:
        pipe (`EmoVoicePipeline`): the pipeline whose denoiser is measured.
        conditions (`list[torch.Tensor]`): normalised source features `(1, channels, frames)` per utterance
            (``denoiser.normalize_condition(condition_features(...))``).
        category (`str`): the emotion.
        amounts (`list[float]`): model intensities in [0, 1].

    Returns:
        `np.ndarray` of shape `(len(amounts), 2 * out_channels)`: per channel, the mean and the standard
        deviation over frames of the predicted delta divided by its training spread.
    """
    import torch

    std = pipe.denoiser.delta_std[None, :, None]
    rows = []
    for amount in amounts:
        emotion = pipe.encode_emotion(EmotionSpec(kind="categorical", components=((category, float(amount)),)), batch_size=1)
        stats = []
        for cond in conditions:
            with torch.no_grad():
                deltas = pipe._sample_deltas(cond, emotion, num_inference_steps, guidance_scale, 0.0, None, _NoProgress())
            z = (deltas / std)[0].float().cpu().numpy()
            stats.append(np.concatenate([z.mean(axis=1), z.std(axis=1)]))
        rows.append(np.mean(stats, axis=0))
    return np.stack(rows)


def fit_intensity_curve(response: np.ndarray, amounts: Sequence[float], points: int = CURVE_POINTS) -> list[float]:
    """Invert a measured response into model intensities for evenly spaced asked intensities.

    Args:
        response (`np.ndarray` of shape `(n, features)`): :func:`feature_response` at increasing ``amounts``
            (the first at 0, the last at 1).
        amounts (`list[float]`): the model intensities of the rows.
        points (`int`): length of the curve (asked intensities ``linspace(0, 1, points)``).

    Returns:
        `list[float]`: the model intensity for each asked intensity, non-decreasing from 0 to 1 (the
        identity when the response does not grow).
    """
    amounts = np.asarray(amounts, dtype=np.float64)
    change = np.asarray(response, dtype=np.float64) - response[0]
    full = change[-1]
    norm = float(full @ full)
    asked = np.linspace(0.0, 1.0, points)
    if norm <= 1e-12:
        return [float(a) for a in asked]
    progress = np.maximum.accumulate(np.clip(change @ full / norm, 0.0, None))
    progress = progress / max(progress[-1], 1e-12) + 1e-9 * np.arange(len(progress))  # strictly increasing
    return [float(a) for a in np.interp(asked, progress, amounts)]


def fit_intensity_curves(pipe, conditions: Sequence[torch.Tensor], categories: Sequence[str] | None = None,
                         num_inference_steps: int = 10, guidance_scale: float = 2.0) -> dict[str, list[float]]:
    """Curves for every category of the pipeline's bank but neutral (or the given ones); see the module docs."""
    names = [c for c in (categories or pipe.emotion_bank.categories) if c != "neutral"]
    return {name: fit_intensity_curve(feature_response(pipe, conditions, name, MEASURE_POINTS, num_inference_steps, guidance_scale),
                                      MEASURE_POINTS) for name in names}


def ravdess_intensity_curves(pipe, root: str | None = None, actors: Sequence[int] = VALIDATION_ACTORS) -> dict[str, list[float]]:
    """The curves of the voice recipe: measured on the neutral clips of the validation actors (8 clips).

    About 3 minutes on one CPU thread for the 8 categories.
    """
    from ..data.ravdess import load_ravdess
    from .audio import load_audio

    clips = [c for c in load_ravdess(root, actors=set(actors)) if c.emotion == "neutral"]
    conditions = [source_conditions(pipe, [audio], rate)[0] for audio, rate in (load_audio(c.path) for c in clips)]
    return fit_intensity_curves(pipe, conditions)


def calibrated_spec(spec: EmotionSpec, curves: dict[str, Sequence[float]] | None) -> EmotionSpec:
    """``spec`` with each categorical intensity mapped through its category's curve (others unchanged)."""
    if not curves or spec.kind != "categorical":
        return spec
    components = []
    for name, amount in spec.components:
        curve = curves.get(name)
        if curve:
            amount = float(np.interp(amount, np.linspace(0.0, 1.0, len(curve)), curve))
        components.append((name, amount))
    return EmotionSpec(kind="categorical", components=tuple(components))
