"""Scores of the music models on EMOPIA clips (used by the training recipe and the benchmarks).

- :func:`vq_loss_terms`, :func:`evaluate_vqvae`: VQ-VAE reconstruction losses, onset / pitch / position F1,
  duration and velocity accuracy, codebook use;
- :func:`element_transfer_movement`: how much each element's statistics move when one element's codes are swapped;
- :func:`encode_clips`, :func:`prior_nll`, :func:`prior_emotion_information`: code sequences, the prior's
  held-out likelihood and how much of it the emotion explains;
- :func:`critic_logits`, :func:`critic_probabilities`, :func:`critic_predict`, :func:`quadrant_scores`,
  :func:`critic_scores`: the critic's quadrant read-out (the bank's log-likelihoods over the quadrant categories,
  and the posterior at the critic's calibration temperature), its accuracies and its calibration (ECE).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data.emopia import QUADRANT_CATEGORIES, QUADRANTS
from ..emotion import EmotionBank
from .critic import MusicEmotionEncoder
from .dataset import MusicClip, grid_key, grid_tensors, stack_grids, transpose_tensor
from .prior import EmotionCodePrior
from .representation import BarGrid
from .features import ELEMENTS
from .key_guide import NUM_KEYS, KeyCodeGuide
from .vqvae import BarLogits, ElementVQVAE

__all__ = ["bars_of", "critic_logits", "critic_predict", "critic_scores", "critic_probabilities", "element_transfer_movement", "encode_clips", "evaluate_vqvae", "key_guide_accuracy", "prior_emotion_information", "prior_nll", "quadrant_scores", "vq_loss_terms"]


def bars_of(clips: Sequence[MusicClip]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every bar of ``clips`` stacked: onsets (bool), durations and velocities (int64), each `(bars, ...)`."""
    onsets = torch.from_numpy(np.concatenate([c.grid.onsets for c in clips]))
    durations = torch.from_numpy(np.concatenate([c.grid.durations for c in clips]).astype(np.int64))
    velocities = torch.from_numpy(np.concatenate([c.grid.velocities for c in clips]).astype(np.int64))
    return onsets, durations, velocities


def vq_loss_terms(model: ElementVQVAE, onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reconstruction (onset BCE; duration/velocity CE at onsets) and VQ losses of a batch of bars, plus the codes."""
    out = model(onsets, durations, velocities)
    on = onsets.float()
    cells = on.shape[1] * on.shape[2]
    bce = F.binary_cross_entropy_with_logits(out.logits.onset, on, reduction="mean") * cells / 16.0
    sel = onsets.bool()
    dur = F.cross_entropy(out.logits.duration[sel], durations[sel]) if sel.any() else on.sum() * 0
    vel = F.cross_entropy(out.logits.velocity[sel], velocities[sel]) if sel.any() else on.sum() * 0
    return {"onset": bce, "duration": dur, "velocity": vel, "vq": out.vq_loss, "codes": out.codes}


@torch.no_grad()
def evaluate_vqvae(model: ElementVQVAE, clips: Sequence[MusicClip], batch: int = 512) -> dict[str, float]:
    """Held-out reconstruction of every bar of ``clips``.

    Returns onset BCE and F1 (cells at p > 0.3), pitch F1 (the set of keys that start anywhere in the bar,
    regardless of timing), position F1 (the set of sixteenths with an onset, regardless of key), duration
    and velocity CE and accuracy at the true onsets (argmax; velocity also within one of the 16 bins), and
    the codes used per codebook.
    """
    onsets, durations, velocities = bars_of(clips)
    sums = dict.fromkeys(("onset", "duration", "velocity", "tp", "pred", "true", "key_tp", "key_pred", "key_true",
                          "pos_tp", "pos_pred", "pos_true", "dur_ok", "vel_ok", "vel_near"), 0.0)
    notes, cells, codes = 0, 0, []
    for i in range(0, len(onsets), batch):
        o, d, v = onsets[i : i + batch], durations[i : i + batch], velocities[i : i + batch]
        out = model(o, d, v)
        lg, sel, n = out.logits, o.bool(), int(o.sum())
        codes.append(out.codes)
        sums["onset"] += F.binary_cross_entropy_with_logits(lg.onset, o.float(), reduction="sum").item()
        cells += o.numel()
        pred = lg.onset > -0.85  # p > 0.3: onsets are sparse, 0.5 is too strict
        for name, p, t in (("", pred, sel), ("key_", pred.any(1), sel.any(1)), ("pos_", pred.any(2), sel.any(2))):
            sums[name + "tp"] += (p & t).sum().item()
            sums[name + "pred"] += p.sum().item()
            sums[name + "true"] += t.sum().item()
        if n:
            sums["duration"] += F.cross_entropy(lg.duration[sel], d[sel], reduction="sum").item()
            sums["velocity"] += F.cross_entropy(lg.velocity[sel], v[sel], reduction="sum").item()
            sums["dur_ok"] += (lg.duration[sel].argmax(-1) == d[sel]).sum().item()
            vel_pred = lg.velocity[sel].argmax(-1)
            sums["vel_ok"] += (vel_pred == v[sel]).sum().item()
            sums["vel_near"] += ((vel_pred - v[sel]).abs() <= 1).sum().item()
        notes += n

    def f1(prefix: str) -> float:
        return round(2 * sums[prefix + "tp"] / max(sums[prefix + "pred"] + sums[prefix + "true"], 1), 4)

    codes_all = torch.cat(codes)
    per_note = lambda key: round(sums[key] / max(notes, 1), 4)  # noqa: E731
    return {"onset_bce": round(sums["onset"] / max(cells, 1) * onsets.shape[1] * onsets.shape[2] / 16.0, 4), "onset_f1": f1(""),
            "pitch_f1": f1("key_"), "position_f1": f1("pos_"),
            "duration_ce": per_note("duration"), "duration_accuracy": per_note("dur_ok"),
            "velocity_ce": per_note("velocity"), "velocity_accuracy": per_note("vel_ok"), "velocity_within_one": per_note("vel_near"),
            "codes_used": [len(torch.unique(codes_all[:, i])) for i in range(codes_all.shape[1])]}


def _element_statistics(logits: BarLogits) -> dict[str, torch.Tensor]:
    """What each element means in decoded bars `(N, ...)`: where notes start in the bar (rhythm: expected
    onsets per sixteenth), which keys (pitch: expected onsets per key), and the expected duration class and
    velocity bin of the notes (weighted by their onset probability)."""
    p = torch.sigmoid(logits.onset.float())
    weight = p / p.sum((1, 2), keepdim=True).clamp_min(1e-6)
    expected = lambda lg: (lg.float().softmax(-1) * torch.arange(lg.shape[-1], dtype=torch.float32)).sum(-1)  # noqa: E731
    return {"rhythm": p.sum(2), "pitch": p.sum(1),
            "duration": (expected(logits.duration) * weight).sum((1, 2))[:, None],
            "velocity": (expected(logits.velocity) * weight).sum((1, 2))[:, None]}


@torch.no_grad()
def element_transfer_movement(model: ElementVQVAE, onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor,
                              seed: int = 0) -> dict[str, dict[str, float]]:
    """How far each element's statistics move when one element's codes are taken from another bar.

    Every bar A is paired with a random other bar B. For each element ``e``, A's codes of ``e`` are replaced
    by B's and the bar is decoded; for each element statistic ``s`` (see :func:`_element_statistics`) the
    movement is ``|s(A with B's e) - s(A)| / |s(B) - s(A)|`` (L1 distances, summed over the bars): 1 = the
    statistic became B's, 0 = it stayed A's. A clean element transfer moves its own statistic about 1 and
    the others about 0 (durations and velocities sit on the notes, so they follow a rhythm or pitch
    transfer). Returns ``{transferred element: {statistic: movement}}``.
    """
    codes = model.encode(onsets, durations, velocities)
    partner = torch.randperm(len(codes), generator=torch.Generator().manual_seed(seed))
    own, other = _element_statistics(model.decode(codes)), _element_statistics(model.decode(codes[partner]))
    span = {s: (other[s] - own[s]).abs().sum().item() for s in own}
    out = {}
    for element in ELEMENTS:
        cols = model.element_columns(element)
        mixed = codes.clone()
        mixed[:, cols] = codes[partner][:, cols]
        moved = _element_statistics(model.decode(mixed))
        out[element] = {s: round((moved[s] - own[s]).abs().sum().item() / max(span[s], 1e-9), 4) for s in own}
    return out


@torch.no_grad()
def encode_clips(model: ElementVQVAE, clips: Sequence[MusicClip], transpositions: Sequence[int]) -> list[tuple[torch.Tensor, str]]:
    """Codes `(bars, tokens)` of every clip under every transposition, with the clip's category."""
    out = []
    for clip in clips:
        grid = grid_tensors(clip.grid)
        for shift in transpositions:
            out.append((model.encode(*(transpose_tensor(x, shift) for x in grid)), clip.category))
    return out


def _sequence_nll(model: EmotionCodePrior, codes: torch.Tensor, embedding: torch.Tensor, mask: torch.Tensor) -> float:
    """Summed negative log-likelihood of `(1, T, C)` codes under one condition."""
    logits = model(codes, embedding, mask).logits
    return sum(F.cross_entropy(lg[0], codes[0, :, i], reduction="sum").item() for i, lg in enumerate(logits))


@torch.no_grad()
def prior_nll(model: EmotionCodePrior, sequences: Sequence[tuple[torch.Tensor, str]], bank: EmotionBank, conditioned: bool = True) -> float:
    """Mean negative log-likelihood per code of held-out sequences (their first ``max_bars`` bars)."""
    total, count = 0.0, 0
    t = model.config.max_bars
    for seq, cat in sequences:
        codes = seq[None, :t]
        cond = bank.condition(cat)
        total += _sequence_nll(model, codes, cond.embedding, cond.mask if conditioned else torch.zeros(1))
        count += codes.shape[1] * codes.shape[2]
    return total / max(count, 1)


@torch.no_grad()
def prior_emotion_information(model: EmotionCodePrior, sequences: Sequence[tuple[torch.Tensor, str]], bank: EmotionBank) -> dict[str, float]:
    """How much the prior's likelihood depends on the emotion, per held-out clip (its first ``max_bars`` bars).

    The label of a clip is one of four quadrants, so knowing it saves at most its entropy (``log 4`` = 1.39
    nats for equal quadrants) over the label-averaged model, per whole clip: spread over a window's hundreds
    of codes that is a few thousandths of a nat per code, which is why the per-code NLL gap is small even for
    a prior that knows the emotion. (The gap to the learned null condition can be larger: that is a separate,
    weaker model, not the average of the conditioned ones.) Returned: ``nats_per_clip``, the mean of
    (unconditional - conditioned) summed NLL; ``label_entropy``, the entropy of the clips' quadrant labels;
    and ``quadrant_accuracy``, how often the prior used as a classifier (the quadrant whose condition gives
    the clip the highest likelihood) names the clip's own quadrant -- the direct test of whether the codes'
    likelihood depends on the emotion the right way.
    """
    t = model.config.max_bars
    conditions = {c: bank.condition(c) for c in QUADRANT_CATEGORIES}
    own, unconditional, hits, count = [], [], [], 0
    for seq, cat in sequences:
        codes = seq[None, :t]
        nll = {c: _sequence_nll(model, codes, cond.embedding, cond.mask) for c, cond in conditions.items()}
        own.append(nll[cat])
        unconditional.append(_sequence_nll(model, codes, conditions[cat].embedding, torch.zeros(1)))
        hits.append(min(nll, key=nll.get) == cat)
        count += codes.shape[1] * codes.shape[2]
    counts = np.array([sum(cat == c for _, cat in sequences) for c in QUADRANT_CATEGORIES], dtype=float)
    share = counts[counts > 0] / max(counts.sum(), 1.0)
    return {"nll_conditioned": sum(own) / max(count, 1), "nll_unconditional": sum(unconditional) / max(count, 1),
            "nats_per_clip": float(np.mean(np.subtract(unconditional, own))) if own else 0.0,
            "label_entropy": float(-(share * np.log(share)).sum()), "quadrant_accuracy": float(np.mean(hits)) if hits else 0.0}


@torch.no_grad()
def critic_logits(critic: MusicEmotionEncoder, bank: EmotionBank, grids: Sequence[BarGrid], max_bars: int = 64,
                  batch: int = 32) -> np.ndarray:
    """`(n, 4)` uncalibrated quadrant scores (Q1..Q4) the critic gives each grid (its first ``max_bars`` bars):
    the bank's log-likelihoods over the critic's categories (``critic.logits``)."""
    device = next(critic.parameters()).device
    out = []
    for i in range(0, len(grids), batch):
        part = grids[i : i + batch]
        o, d, v, m = (x.to(device) for x in stack_grids(list(part), min(max(g.num_bars for g in part), max_bars)))
        out.append(critic.logits(critic(o, d, v, m).embedding, bank).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(QUADRANT_CATEGORIES)))


def critic_probabilities(critic: MusicEmotionEncoder, bank: EmotionBank, grids: Sequence[BarGrid], max_bars: int = 64) -> np.ndarray:
    """`(n, 4)` quadrant probabilities (Q1..Q4) the critic gives each grid: its calibrated posterior
    (``softmax(logits / critic.temperature)``), as the pipeline reads it."""
    from ..calibration import softmax

    return softmax(critic_logits(critic, bank, grids, max_bars), critic.temperature)


@torch.no_grad()
def critic_predict(critic: MusicEmotionEncoder, bank: EmotionBank, grids: Sequence[BarGrid], max_bars: int = 64) -> np.ndarray:
    """Quadrant index (0-3 for Q1..Q4) the critic gives each grid: the bank posterior over the quadrant categories."""
    return critic_probabilities(critic, bank, grids, max_bars).argmax(1)


def quadrant_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """4-quadrant accuracy and the arousal (Q1,Q2 vs Q3,Q4) and valence (Q1,Q4 vs Q2,Q3) accuracies."""
    arousal = lambda q: np.isin(q, [0, 1])  # noqa: E731
    valence = lambda q: np.isin(q, [0, 3])  # noqa: E731
    return {"quadrant": float(np.mean(pred == true)), "arousal": float(np.mean(arousal(pred) == arousal(true))),
            "valence": float(np.mean(valence(pred) == valence(true)))}


def critic_scores(critic: MusicEmotionEncoder, bank: EmotionBank, clips: Sequence[MusicClip], num_bins: int = 15) -> dict[str, float]:
    """Quadrant, arousal and valence accuracy of the critic on ``clips``, and its calibration: ECE (``num_bins``
    equal-width bins) and mean top probability of the bank's plain posterior and of the calibrated one."""
    from ..calibration import expected_calibration_error, softmax

    logits = critic_logits(critic, bank, [c.grid for c in clips])
    labels = np.array([QUADRANTS.index(c.quadrant) for c in clips])
    before, after = softmax(logits), softmax(logits, critic.temperature)
    return {**quadrant_scores(after.argmax(1), labels),
            "ece_before": expected_calibration_error(before, labels, num_bins), "ece_after": expected_calibration_error(after, labels, num_bins),
            "mean_top_prob_before": float(before.max(1).mean()), "mean_top_prob_after": float(after.max(1).mean())}


@torch.no_grad()
def key_guide_accuracy(guide: KeyCodeGuide, vqvae: ElementVQVAE, clips: Sequence[MusicClip],
                       sequences: Sequence[tuple[torch.Tensor, str]] | None = None) -> dict[str, float]:
    """How well the key guide's per-code log-ratios, summed over a clip's codes (a naive-Bayes key classifier),
    name the Krumhansl-Schmuckler key of held-out clips: the share of exact keys and of modes. ``sequences``: the
    clips' untransposed codes (:func:`encode_clips` with ``(0,)``), when the caller has them already."""
    if sequences is None:
        sequences = encode_clips(vqvae, clips, (0,))
    every_key = torch.arange(NUM_KEYS)
    exact, mode = [], []
    for clip, (codes, _) in zip(clips, sequences):
        score = sum(guide.bonus(c, every_key)[:, codes[:, c]].sum(-1) for c in guide.config.columns)
        true, guess = grid_key(clip.grid), int(score.argmax())
        exact.append(guess == true)
        mode.append(guess // 12 == true // 12)
    return {"key_accuracy": float(np.mean(exact)), "mode_accuracy": float(np.mean(mode))}
