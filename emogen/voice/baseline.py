"""A rule-based emotional voice converter (the classical reference): per-emotion global scaling of the
F0 mean and range, energy and speaking rate, with the factors measured on the training pairs."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..emotion import EmotionSpec
from .audio import MODEL_SAMPLE_RATE, resample, to_mono
from .dataset import ClipFeatures
from .world import WorldFeatures, analyze, continuous_log_f0, synthesize

__all__ = ["ProsodyRule", "RuleBasedConverter"]


@dataclass
class ProsodyRule:
    """Per unit intensity: log-F0 mean shift, log-F0 range log-scale, energy (c0) shift, log duration change."""

    f0_shift: float = 0.0
    f0_log_range: float = 0.0
    energy_shift: float = 0.0
    log_rate: float = 0.0


def _stats(world: WorldFeatures) -> tuple[float, float, float]:
    voiced = world.voiced
    lf0 = np.log(world.f0[voiced]) if voiced.any() else np.array([math.log(100.0)])
    c0 = world.mcep[voiced, 0] if voiced.any() else world.mcep[:, 0]
    return float(lf0.mean()), float(lf0.std() + 1e-3), float(c0.mean())


@dataclass
class RuleBasedConverter:
    """Global prosody rules per emotion; :meth:`fit` measures them, :meth:`convert` applies them."""

    rules: dict[str, ProsodyRule] = field(default_factory=dict)

    @classmethod
    def fit(cls, items: list[ClipFeatures], normal_intensity: float = 0.6) -> RuleBasedConverter:
        """Least-squares per-unit-intensity factors from neutral -> emotion pairs (same speaker and sentence;
        RAVDESS or nEMO clips, :func:`~emogen.voice.pairs.pair_group`)."""
        from .pairs import pair_group, target_amount

        neutral = defaultdict(list)
        for c in items:
            if c.clip.emotion == "neutral":
                neutral[pair_group(c.clip)].append(c)
        rows: dict[str, list[tuple[float, np.ndarray]]] = defaultdict(list)
        for c in items:
            if c.clip.emotion == "neutral":
                continue
            amount = target_amount(c.clip, normal_intensity)
            tm, ts, te = _stats(c.world)
            for source in neutral[pair_group(c.clip)]:
                sm, ss, se = _stats(source.world)
                rows[c.clip.emotion].append((amount, np.array([tm - sm, math.log(ts / ss), te - se, math.log(c.seconds / source.seconds)])))
        rules = {}
        for name, data in rows.items():
            a = np.array([r[0] for r in data])
            y = np.stack([r[1] for r in data])
            slope = (a[:, None] * y).sum(0) / (a * a).sum()
            rules[name] = ProsodyRule(*map(float, slope))
        return cls(rules=rules)

    def convert_features(self, world: WorldFeatures, spec: str | EmotionSpec) -> WorldFeatures:
        """Apply the rules of a categorical spec (mixtures add their intensity-weighted rules)."""
        spec = EmotionSpec.parse(spec)
        total = ProsodyRule()
        for name, amount in spec.components:
            rule = self.rules.get(name, ProsodyRule())
            total = ProsodyRule(*(getattr(total, f) + amount * getattr(rule, f) for f in ("f0_shift", "f0_log_range", "energy_shift", "log_rate")))
        voiced = world.voiced
        lf0 = continuous_log_f0(world.f0)
        mean = lf0[voiced].mean() if voiced.any() else lf0.mean()
        lf0 = mean + (lf0 - mean) * math.exp(total.f0_log_range) + total.f0_shift
        mcep = world.mcep.copy()
        mcep[:, 0] += total.energy_shift
        out = WorldFeatures(f0=np.where(voiced, np.exp(lf0), 0.0), mcep=mcep, coded_ap=world.coded_ap, sample_rate=world.sample_rate)
        return out.time_scale(math.exp(total.log_rate))

    def convert(self, audio: np.ndarray, sample_rate: int, spec: str | EmotionSpec) -> np.ndarray:
        """Convert a signal; returns mono float32 audio at ``sample_rate``."""
        signal = resample(to_mono(np.asarray(audio, dtype=np.float32)), sample_rate, MODEL_SAMPLE_RATE)
        out = synthesize(self.convert_features(analyze(signal, MODEL_SAMPLE_RATE), spec))
        peak = float(np.max(np.abs(out)))
        if peak > 0.99:
            out = out * (0.99 / peak)
        return resample(out, MODEL_SAMPLE_RATE, sample_rate)

    def to_json(self) -> str:
        """The rules as JSON."""
        return json.dumps({k: vars(v) for k, v in sorted(self.rules.items())}, indent=2)
