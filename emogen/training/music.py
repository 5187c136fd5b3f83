"""The music recipe: EMOPIA -> element VQ-VAE -> emotion code prior -> critic -> pipeline folder.

``emogen train music --output checkpoints/music`` runs :func:`train_music`. Every stage uses the official
EMOPIA train split (val for model selection, test only for the scores in ``scores.json``) and trains
through :func:`~emogen.training.fit`; this module only states data, models, losses and hyper-parameters.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data.emopia import QUADRANT_CATEGORIES, QUADRANTS
from ..emotion import EmotionBank
from ..music.critic import MusicEmotionEncoder
from ..music.dataset import MusicClip, grid_key, load_music_clips, stack_grids, transpose_tensor
from ..music.evaluation import (bars_of, critic_logits, critic_predict, critic_probabilities, critic_scores, encode_clips, evaluate_vqvae, key_guide_accuracy,
                                prior_emotion_information, vq_loss_terms)
from ..music.features import ELEMENTS
from ..music.key_guide import NUM_KEYS, KeyCodeGuide
from ..music.prior import EmotionCodePrior
from ..music.vqvae import ElementVQVAE
from .cards import music_model_card
from .loop import FitConfig, FitResult, _quiet_from_env
from ..utils import atomic_output
from .recipe import TrainRun, finish_recipe, replace_component, train_state_dir

__all__ = ["CodeUsage", "MusicTrainConfig", "calibrate_music_critic", "descriptor_matrix", "MUSIC_STAGES", "retrain_music_stage", "set_music_critic_typical_readings", "train_critic", "train_critic_stage", "train_linear_critic", "train_music", "train_prior", "train_vqvae"]

logger = logging.getLogger(__name__)


@dataclass
class MusicTrainConfig:
    """Sizes and steps of the three models (the defaults reproduce ``checkpoints/music``)."""

    codebook_sizes: tuple[int, ...] = (256, 1024, 256, 256)
    codes_per_element: tuple[int, ...] = (8, 24, 4, 4)  # pitch: three codes per eighth note (two lost keys in dense chords)
    slots_per_bar: int = 8  # rhythm and pitch codes per eighth note (1 = one per bar, the first model)
    latent_dim: int = 192
    vq_hidden: int = 256
    vq_steps: int = 8000
    vq_batch: int = 256
    vq_lr: float | None = 2e-3  # None = lr
    onset_prior: float = 0.01  # the onset head starts at this probability (about EMOPIA's share of onset cells)
    prior_d_model: int = 192
    prior_layers: int = 4
    prior_heads: int = 4
    prior_bars: int = 16
    prior_steps: int = 3000
    prior_dropout: float = 0.1  # in both phases; 0.3 lowers the validation NLL (3.213 -> 3.128) but its music is more caricatured (the card)
    prior_batch: int = 48
    prior_null_p: float = 0.1
    prior_tie_embeddings: bool = True  # one table per code column for input, in-bar input and output
    prior_copy_bars: int = 16  # each code column may repeat the code it held up to this many bars back (0 = off)
    prior_inner_layers: int = 2  # second phase: an in-bar transformer over a bar's code columns, on the frozen bar states (0 = off)
    prior_inner_steps: int = 1000
    prior_neutral_p: float = 0.1
    prior_drop_final_bar: bool = False  # True: windows leave out each clip's last bar (an ending); tried, music worse (the card)
    key_element: str = "pitch"  # the element whose codes the key guide steers ("" = no key guide)
    key_smoothing: float = 20.0  # pseudo-bars pulling each code's key distribution toward all codes'
    critic_realism_pieces: int = 480  # the critic's realism head: pieces generated (1 candidate) against the training clips (0 = none)
    critic_realism_bars: int = 16  # bars of those pieces; the training clips are read over as many bars
    critic_realism_c: float = 1.0  # inverse L2 strength of the realism head's logistic regression
    critic_linear: bool = True  # the clip descriptor -> the space by one linear layer (train_linear_critic); False = the bar encoder
    critic_l2: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)  # linear critic: L2 weights tried, the best on val kept
    critic_linear_steps: int = 3000  # linear critic: full-batch AdamW steps (one-cycle) per L2 weight
    critic_linear_lr: float = 0.02
    critic_hidden: int = 64  # bar-encoder critic (critic_linear=False) from here to critic_ema
    critic_descriptor_hidden: int = 64  # 0 = the first critic (bar encoder only)
    critic_steps: int = 1000
    critic_batch: int = 32
    critic_min_bars: int = 8  # training windows are min..16 bars long
    critic_weight_decay: float = 1e-2
    critic_dropout: float = 0.2
    critic_balanced: bool = False  # weight the loss by inverse quadrant frequency
    critic_lr: float | None = 5e-4  # None = lr
    critic_ema: float | None = 0.995  # EMA decay of the critic's weights (validation scores the EMA)
    transpositions: tuple[int, ...] = (-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6)
    lr: float = 1e-3
    seed: int = 0
    max_clips: int | None = None  # small configs for tests


def _one_cycle_start(steps: int) -> float:
    return max(0.05, 3.0 / steps)


# ---------------------------------------------------------------------------------------------- VQ-VAE
class CodeUsage:
    """How often each code of each codebook was picked since the last dead-code restart (checkpointed)."""

    def __init__(self, sizes: list[int]) -> None:
        self.counts = [torch.zeros(k) for k in sizes]

    def add(self, codes: torch.Tensor) -> None:
        """Count the codes `(N, tokens)` of a batch."""
        codes = codes.detach().cpu()
        for i, count in enumerate(self.counts):
            count += torch.bincount(codes[:, i], minlength=len(count)).float()

    def reset(self) -> None:
        """Start counting afresh."""
        self.counts = [torch.zeros_like(c) for c in self.counts]

    def state_dict(self) -> dict[str, Any]:
        """The counts."""
        return {"counts": [c.clone() for c in self.counts]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.counts = [c.clone() for c in state["counts"]]


@torch.no_grad()
def restart_dead_codes(model: ElementVQVAE, batch: list[torch.Tensor], usage: CodeUsage, gen: torch.Generator) -> None:
    """Move every unused code onto a random latent of ``batch`` (plus a little noise)."""
    z = model.latents(*batch)
    for i, (e, g) in enumerate(model.code_layout):
        dead = (usage.counts[i] == 0).nonzero().flatten()
        if len(dead) == 0:
            continue
        part = z[e].chunk(model.config.codes_per_element[ELEMENTS.index(e)], dim=-1)[g]
        pick = torch.randint(0, part.shape[0], (len(dead),), generator=gen)
        book = model.quantizers[model._key(e, g)].codebook
        book.data[dead.to(book.device)] = part[pick.to(book.device)] + 0.01 * torch.randn(len(dead), book.shape[1], generator=gen).to(book.device)


def _init_vqvae(config: MusicTrainConfig) -> ElementVQVAE:
    init = torch.Generator().manual_seed(config.seed + 1)
    model = ElementVQVAE(codebook_sizes=list(config.codebook_sizes), latent_dim=config.latent_dim, hidden_dim=config.vq_hidden,
                         codes_per_element=list(config.codes_per_element), slots_per_bar=config.slots_per_bar)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=init) * (1.0 / p.shape[-1]) ** 0.5)
            else:
                p.zero_()
        for q in model.quantizers.values():
            q.codebook.copy_(torch.randn(q.codebook.shape, generator=init) * 0.5)
        # start at the base rate of onsets: from p = 0.5 the first ~500 steps only learn that cells are mostly empty
        model.onset_head[-1].bias.fill_(float(np.log(config.onset_prior / (1.0 - config.onset_prior))))
    return model


def train_vqvae(clips: list[MusicClip], config: MusicTrainConfig, run: TrainRun | None = None) -> tuple[ElementVQVAE, FitResult]:
    """Fit the element VQ-VAE on every non-empty bar of ``clips`` with random transpositions.

    Loss: onset BCE + 0.5 duration CE + 0.5 velocity CE + VQ loss. After every 100th update (during the
    first 80%) codes unused since the last restart move onto random latents of that step's batch.
    """
    run = run or TrainRun()
    model = _init_vqvae(config)
    onsets, durations, velocities = bars_of(clips)
    nonempty = onsets.flatten(1).any(1)
    onsets, durations, velocities = onsets[nonempty], durations[nonempty], velocities[nonempty]
    usage = CodeUsage(model.token_codebook_sizes)
    last: dict[str, Any] = {}  # the latest batch and generator, for the dead-code restart after the update

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        idx = torch.randint(0, len(onsets), (config.vq_batch,), generator=gen)
        shift = config.transpositions[int(torch.randint(0, len(config.transpositions), (1,), generator=gen))]
        last["batch"], last["generator"] = [transpose_tensor(x[idx], shift).to(run.device) for x in (onsets, durations, velocities)], gen
        terms = vq_loss_terms(model, *last["batch"])
        usage.add(terms.pop("codes"))
        return {"loss": terms["onset"] + 0.5 * terms["duration"] + 0.5 * terms["velocity"] + terms["vq"], **terms}

    def restart(i: int, outputs: dict[str, torch.Tensor]) -> None:
        if (i + 1) % 100 == 0 and i < 0.8 * config.vq_steps:
            restart_dead_codes(model, last["batch"], usage, last["generator"])
            usage.reset()

    fit_config = FitConfig(steps=config.vq_steps, lr=config.vq_lr or config.lr, weight_decay=1e-4, pct_start=_one_cycle_start(config.vq_steps),
                           log_every=250, seed=config.seed, desc="vqvae")
    result = run.fit("vqvae", model, step, fit_config, on_step=restart, stateful=[usage])
    return model.to("cpu").eval(), result


# ----------------------------------------------------------------------------------------------- prior
def _init_prior(config: MusicTrainConfig, token_sizes: list[int], emotion_dim: int) -> EmotionCodePrior:
    init = torch.Generator().manual_seed(config.seed + 3)
    model = EmotionCodePrior(codebook_sizes=list(token_sizes), emotion_dim=emotion_dim, d_model=config.prior_d_model,
                             num_layers=config.prior_layers, num_heads=config.prior_heads, max_bars=config.prior_bars,
                             tie_embeddings=config.prior_tie_embeddings, copy_bars=config.prior_copy_bars, dropout=config.prior_dropout)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("copy_"):  # start from the plain prior: no copying until it pays
                p.zero_()
            elif p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=init) * 0.02)
            elif "norm" in name:
                pass
            elif "weight" in name:
                p.fill_(1.0)
            else:
                p.zero_()
    return model


def _prior_step(model: EmotionCodePrior, sequences: list[tuple[torch.Tensor, str]], bank: EmotionBank, config: MusicTrainConfig,
                run: TrainRun) -> Callable[[int, torch.Generator], dict[str, torch.Tensor]]:
    """The prior's training step: a batch of random ``prior_bars`` windows (without each clip's final bar when
    ``prior_drop_final_bar``), each conditioned on its category at intensity 1 (``prior_null_p`` of rows nulled,
    ``prior_neutral_p`` at the neutral point); the loss is the summed cross-entropy of the codes of valid bars."""
    if config.prior_drop_final_bar:  # a clip's final bar is an ending; generated music should not learn to thin out
        sequences = [(seq[:-1] if seq.shape[0] > 1 else seq, cat) for seq, cat in sequences]
    cond = {c: bank.condition(c).embedding[0] for c in sorted({cat for _, cat in sequences})}
    neutral = bank.condition("neutral").embedding[0]
    columns, t, rows = sequences[0][0].shape[1], config.prior_bars, config.prior_batch

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        pick = torch.randint(0, len(sequences), (rows,), generator=gen)
        codes = torch.zeros(rows, t, columns, dtype=torch.long)
        valid = torch.zeros(rows, t)
        emb = torch.zeros(rows, neutral.shape[0])
        for row, n in enumerate(pick.tolist()):
            seq, cat = sequences[n]
            start = int(torch.randint(0, seq.shape[0] - t + 1, (1,), generator=gen)) if seq.shape[0] > t else 0
            piece = seq[start : start + t]
            codes[row, : len(piece)] = piece
            valid[row, : len(piece)] = 1
            emb[row] = cond[cat]
        mask = torch.ones(rows)
        r = torch.rand(rows, generator=gen)
        null = r < config.prior_null_p
        mask[null] = 0.0
        emb[null] = 0.0
        emb[(r >= config.prior_null_p) & (r < config.prior_null_p + config.prior_neutral_p)] = neutral
        codes, valid = codes.to(run.device), valid.to(run.device).flatten()
        logits = model(codes, emb.to(run.device), mask.to(run.device)).logits
        loss = sum((F.cross_entropy(lg.flatten(0, 1), codes[..., k].flatten(), reduction="none") * valid).sum() / valid.sum()
                   for k, lg in enumerate(logits))
        return {"loss": loss, "per_code": loss.detach() / columns}

    return step


def train_prior(sequences: list[tuple[torch.Tensor, str]], bank: EmotionBank, config: MusicTrainConfig, token_sizes: list[int],
                run: TrainRun | None = None) -> tuple[EmotionCodePrior, FitResult]:
    """Fit the emotion-conditioned prior on code sequences (random windows of ``prior_bars`` bars), with the
    in-bar head that reads the sum of the earlier columns' embeddings.

    Each window is conditioned on its category at intensity 1; with probability ``prior_null_p`` the
    condition is nulled (mask 0, the unconditional model for guidance) and with ``prior_neutral_p`` it is
    the neutral point (mask 1), trained on all music alike, so intensities between 0 and 1 move from
    EMOPIA's average toward the category. Loss: the summed cross-entropy of the codes of valid bars.
    """
    run = run or TrainRun()
    model = _init_prior(config, token_sizes, bank.config.embedding_dim)
    fit_config = FitConfig(steps=config.prior_steps, lr=config.lr * 0.5, weight_decay=0.05, max_grad_norm=1.0,
                           pct_start=_one_cycle_start(config.prior_steps), log_every=250, seed=config.seed + 2, desc="prior")
    result = run.fit("prior", model, _prior_step(model, sequences, bank, config, run), fit_config)
    return model.to("cpu").eval(), result


#: Parameters of the prior that its in-bar phase trains (the rest, the bar transformer and the code tables, stay frozen).
INNER_PARAMETERS = ("inner.", "inner_position", "heads.", "head_biases.", "copy_")


def train_prior_inner(prior: EmotionCodePrior, sequences: list[tuple[torch.Tensor, str]], bank: EmotionBank, config: MusicTrainConfig,
                      run: TrainRun | None = None) -> tuple[EmotionCodePrior, FitResult]:
    """The prior's second phase: an in-bar causal transformer (``prior_inner_layers``) over each bar's code
    columns, on the bar states of ``prior``, whose bar transformer, emotion projection and code tables are
    copied and frozen. The column heads and the copy term are trained afresh with it (from the same seeded
    initialisation whatever head ``prior`` had), with the same batches and loss as :func:`train_prior`.

    Cheaper than training the whole prior with the in-bar transformer (no gradient through the bar
    transformer), and it lets the codes of a bar see which code sits in which column.
    """
    run = run or TrainRun()
    fresh = _init_prior(config, prior.config.codebook_sizes, bank.config.embedding_dim)
    model = EmotionCodePrior(**{**{k: v for k, v in fresh.config.items() if not k.startswith("_")}, "inner_layers": config.prior_inner_layers})
    init = torch.Generator().manual_seed(config.seed + 5)
    frozen = {k: v for k, v in prior.state_dict().items() if not k.startswith(INNER_PARAMETERS)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("inner") and p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=init) * 0.02)
            elif name.startswith("inner") and "norm" not in name:
                p.zero_()
    model.load_state_dict({**model.state_dict(), **{k: v for k, v in fresh.state_dict().items() if k.startswith(INNER_PARAMETERS)}, **frozen})
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(INNER_PARAMETERS))
    fit_config = FitConfig(steps=config.prior_inner_steps, lr=config.lr, weight_decay=0.05, max_grad_norm=1.0,
                           pct_start=min(0.5, max(0.1, _one_cycle_start(config.prior_inner_steps))), log_every=100, seed=config.seed + 4, desc="prior in-bar")
    result = run.fit("prior_inner", model, _prior_step(model, sequences, bank, config, run), fit_config)
    return model.requires_grad_(True).to("cpu").eval(), result


# ---------------------------------------------------------------------------------------------- critic
def _critic_batch(clips: list[MusicClip], idx: list[int], bars: int, gen: torch.Generator, transpositions: tuple[int, ...],
                  min_bars: int | None = None):
    """Random windows of ``min_bars``..``bars`` bars (one length per batch) of ``clips[idx]``, each transposed at random."""
    if min_bars is not None and min_bars < bars:
        bars = int(torch.randint(min_bars, bars + 1, (1,), generator=gen))
    grids = []
    for i in idx:
        g = clips[i].grid
        if g.num_bars > bars:
            start = int(torch.randint(0, g.num_bars - bars + 1, (1,), generator=gen))
            g = type(g)(g.onsets[start : start + bars], g.durations[start : start + bars], g.velocities[start : start + bars], g.tempo)
        grids.append(g.transpose(transpositions[int(torch.randint(0, len(transpositions), (1,), generator=gen))]))
    return stack_grids(grids, bars)


def critic_loss(critic: MusicEmotionEncoder, bank: EmotionBank, batch, labels: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of the bank's likelihoods over the quadrant categories plus a pull toward the category mean.

    ``weight`` `(4,)` weights the cross-entropy per quadrant (class balance); `None` = equal weights.
    """
    onsets, durations, velocities, mask = batch
    emb = critic(onsets, durations, velocities, mask).embedding
    cats = [bank.category_index(c) for c in QUADRANT_CATEGORIES]
    target_means = bank.means[[cats[i] for i in labels.tolist()]]
    return F.cross_entropy(bank.log_likelihood(emb)[:, cats], labels, weight=weight) + 0.1 * ((emb - target_means) ** 2).sum(-1).mean()


@torch.no_grad()
def descriptor_matrix(clips: list[MusicClip], transpositions: tuple[int, ...] = (0,), max_bars: int = 64) -> torch.Tensor:
    """`(len(clips) * len(transpositions), DESCRIPTOR_SIZE)` descriptors of whole clips (the critic's standardisation)."""
    from ..music.features import clip_descriptor

    rows = []
    for shift in transpositions:
        grids = [c.grid.transpose(shift) for c in clips]
        for i in range(0, len(grids), 64):
            o, d, v, m = stack_grids(grids[i : i + 64], min(max(g.num_bars for g in grids[i : i + 64]), max_bars))
            rows.append(clip_descriptor(o, d, v, m))
    return torch.cat(rows)


def key_code_counts(vqvae: ElementVQVAE, clips: list[MusicClip], config: MusicTrainConfig,
                    sequences: list[tuple[torch.Tensor, str]] | None = None) -> tuple[list[int], torch.Tensor, list[float]]:
    """What the key guide is fitted on: the code columns of ``config.key_element``, how often each of their codes
    appears in a bar under each key (`(columns, codes, 24)`, every clip under every transposition, keyed by its
    Krumhansl-Schmuckler key), and the share of minor clips in Q1..Q4 and over all clips. ``sequences``: the clips'
    codes from :func:`encode_clips` with ``config.transpositions``, when the caller has them already."""
    columns = vqvae.element_columns(config.key_element)
    size = vqvae.token_codebook_sizes[columns[0]]
    if sequences is None:
        sequences = encode_clips(vqvae, clips, config.transpositions)
    keys = [grid_key(clip.grid) for clip in clips]
    shifts = list(config.transpositions)
    counts = torch.zeros(len(columns), size, NUM_KEYS, dtype=torch.float64)
    for i, (codes, _) in enumerate(sequences):  # clip-major, transposition-minor
        key, shift = keys[i // len(shifts)], shifts[i % len(shifts)]
        column_codes = codes[:, columns].T  # (columns, bars)
        counts[:, :, 12 * (key // 12) + (key + shift) % 12].scatter_add_(1, column_codes, torch.ones_like(column_codes, dtype=counts.dtype))
    minor = np.array([k >= 12 for k in keys], dtype=float)
    quadrants = np.array([c.quadrant for c in clips])
    share = [float(minor[quadrants == q].mean()) if (quadrants == q).any() else float(minor.mean()) for q in QUADRANTS]
    return columns, counts, [*share, float(minor.mean())]


def fit_key_guide(vqvae: ElementVQVAE, clips: list[MusicClip], config: MusicTrainConfig,
                  sequences: list[tuple[torch.Tensor, str]] | None = None) -> KeyCodeGuide:
    """The key guide of the music pipeline, counted on ``clips`` (see :func:`key_code_counts`)."""
    columns, counts, share = key_code_counts(vqvae, clips, config, sequences)
    return KeyCodeGuide.from_counts(columns, counts, share, smoothing=config.key_smoothing)


def _init_critic(config: MusicTrainConfig, emotion_dim: int) -> MusicEmotionEncoder:
    init = torch.Generator().manual_seed(config.seed + 5)
    critic = MusicEmotionEncoder(emotion_dim=emotion_dim, hidden_dim=config.critic_hidden, dropout=config.critic_dropout,
                                 descriptor_hidden=config.critic_descriptor_hidden)
    with torch.no_grad():
        for p in critic.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=init) * (1.0 / p[0].numel()) ** 0.5)
            else:
                p.zero_()
    return critic


def train_critic(train: list[MusicClip], val: list[MusicClip], bank: EmotionBank, config: MusicTrainConfig,
                 run: TrainRun | None = None) -> tuple[MusicEmotionEncoder, FitResult]:
    """Fit the music emotion encoder: the linear critic (:func:`train_linear_critic`) when ``config.critic_linear``,
    else the bar encoder on random windows (``critic_min_bars``..16 bars), keeping the weights with the best val accuracy.

    With a descriptor branch, its input is standardised by the descriptors of the whole training clips
    under every transposition (computed once, before training).
    """
    if config.critic_linear:
        return train_linear_critic(train, val, bank, config, run)
    run = run or TrainRun()
    critic = _init_critic(config, bank.config.embedding_dim)
    if critic.descriptor is not None:
        critic.set_descriptor_statistics(descriptor_matrix(train, config.transpositions))
    bank.to(run.device)
    labels = torch.tensor([QUADRANTS.index(c.quadrant) for c in train])
    val_true = np.array([QUADRANTS.index(c.quadrant) for c in val])
    weight = None
    if config.critic_balanced:
        counts = torch.bincount(labels, minlength=len(QUADRANTS)).float().clamp_min(1.0)
        weight = (counts.sum() / counts / len(QUADRANTS)).to(run.device)

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        idx = torch.randint(0, len(train), (config.critic_batch,), generator=gen).tolist()
        batch = [x.to(run.device) for x in _critic_batch(train, idx, 16, gen, config.transpositions, config.critic_min_bars)]
        return {"loss": critic_loss(critic, bank, batch, labels[idx].to(run.device), weight)}

    def validate() -> float:
        critic.eval()
        return float(np.mean(critic_predict(critic, bank, [c.grid for c in val]) == val_true))

    every = min(100, config.critic_steps)
    fit_config = FitConfig(steps=config.critic_steps, lr=config.critic_lr or config.lr, weight_decay=config.critic_weight_decay,
                           ema_decay=config.critic_ema, log_every=every, seed=config.seed + 4, desc="critic")
    result = run.fit("critic", critic, step, fit_config, validate=validate if val else None, validate_every=every)
    bank.to("cpu")
    return critic.to("cpu").eval(), result


def train_linear_critic(train: list[MusicClip], val: list[MusicClip], bank: EmotionBank, config: MusicTrainConfig,
                        run: TrainRun | None = None) -> tuple[MusicEmotionEncoder, FitResult]:
    """Fit the linear critic (``MusicEmotionEncoder(linear=True)``) on the descriptors of the whole training clips.

    For each L2 weight of ``config.critic_l2``: ``config.critic_linear_steps`` full-batch AdamW steps from the neutral
    point (zero weights) on the cross-entropy of the bank's likelihoods over the quadrant categories plus the weight
    times the layer's squared weights. Keeps the fit with the best val accuracy (on a tie, the stronger penalty).
    The returned result's ``history`` has one row per weight (``l2``, ``loss``, ``val_accuracy``).
    """
    run = run or TrainRun()
    descriptors = descriptor_matrix(train)
    labels = torch.tensor([QUADRANTS.index(c.quadrant) for c in train], device=run.device)
    cats = [bank.category_index(c) for c in QUADRANT_CATEGORIES]
    val_true = np.array([QUADRANTS.index(c.quadrant) for c in val])
    bank.to(run.device)
    val_descriptors = descriptor_matrix(val) if val else None  # once, not once per weight
    best: tuple[float, MusicEmotionEncoder, FitResult] | None = None
    rows = []
    for i, weight in enumerate(config.critic_l2):
        critic = MusicEmotionEncoder(emotion_dim=bank.config.embedding_dim, linear=True)
        critic.set_descriptor_statistics(descriptors)
        with torch.no_grad():
            critic.out.weight.zero_()
            critic.out.bias.copy_(bank.means[bank.category_index("neutral")])
        critic.to(run.device)
        standardise = lambda d, critic=critic: (d.to(run.device) - critic.descriptor_mean) / critic.descriptor_scale  # noqa: E731
        inputs = standardise(descriptors)

        def step(_: int, __: torch.Generator, critic=critic, inputs=inputs, weight=weight) -> dict[str, torch.Tensor]:
            logits = bank.log_likelihood(critic.out(inputs))[:, cats]
            return {"loss": F.cross_entropy(logits, labels) + weight * critic.out.weight.pow(2).sum()}

        fit_config = FitConfig(steps=config.critic_linear_steps, lr=config.critic_linear_lr, log_every=min(500, config.critic_linear_steps),
                               pct_start=0.1, seed=config.seed + 4, desc=f"critic (L2 {weight:g})")
        result = run.fit(f"critic_{i}", critic, step, fit_config)
        critic.eval()
        accuracy = 0.0
        if val_descriptors is not None:
            with torch.no_grad():
                predicted = critic.logits(critic.out(standardise(val_descriptors)), bank).argmax(-1).cpu().numpy()
            accuracy = float(np.mean(predicted == val_true))
        rows.append({"l2": float(weight), "loss": result.history[-1]["loss"] if result.history else float("nan"), "val_accuracy": accuracy})
        if best is None or accuracy >= best[0]:
            best = (accuracy, critic, result)
    if best is None:
        raise ValueError("config.critic_l2 is empty; give at least one L2 weight")
    accuracy, critic, result = best
    bank.to("cpu")
    return critic.to("cpu").eval(), replace(result, best_score=accuracy if val else None, history=rows)


def calibrate_music_critic(critic: MusicEmotionEncoder, bank: EmotionBank, val: list[MusicClip]) -> dict[str, float]:
    """Fit the critic's temperature on the val clips (the one that minimises their NLL) and store it in
    ``critic.config``; returns the temperature and the val NLL before and after."""
    from ..calibration import fit_temperature, negative_log_likelihood

    logits = critic_logits(critic, bank, [c.grid for c in val])
    labels = np.array([QUADRANTS.index(c.quadrant) for c in val])
    temperature = fit_temperature(logits, labels)
    critic.set_calibration(temperature)
    return {"temperature": temperature, "val_nll_before": negative_log_likelihood(logits, labels),
            "val_nll_after": negative_log_likelihood(logits, labels, temperature)}


def set_music_critic_typical_readings(critic: MusicEmotionEncoder, bank: EmotionBank, train: list[MusicClip]) -> list[list[float]]:
    """Store in ``critic.config`` how it reads real music: the mean (valence, arousal) of its calibrated readings over
    the training clips of each quadrant, then over all of them (what the pipeline's rerank aims at); returns them."""
    probabilities = torch.from_numpy(critic_probabilities(critic, bank, [c.grid for c in train])).float()
    va = bank.anchor_mix(probabilities, list(critic.config.categories))[:, :2]
    quadrants = np.array([c.quadrant for c in train])
    rows = [va[torch.from_numpy(quadrants == QUADRANTS[QUADRANT_CATEGORIES.index(name)])].mean(0) for name in critic.config.categories]
    rows.append(va.mean(0))
    critic.set_typical_readings(torch.stack(rows))
    return critic.config.typical_readings


#: Intensities of the pieces the realism head learns from (cycled with the critic's categories).
REALISM_INTENSITIES = (0.25, 0.5, 0.75, 1.0)


def fit_music_realism_head(pipe, train: list[MusicClip], config: MusicTrainConfig, batch: int = 8) -> dict[str, float]:
    """Give ``pipe.music_critic`` (linear) a realism head: a logistic regression, on its standardised descriptor, of the
    training clips (first ``config.critic_realism_bars`` bars) against ``config.critic_realism_pieces`` pieces ``pipe``
    generates with one candidate each for the critic's categories at :data:`REALISM_INTENSITIES` (seeded from
    ``config.seed``). The pipeline's rerank then prefers candidates that read as real music. Returns its scores:
    5-fold cross-validated accuracy (0.5 = the descriptor cannot tell the prior's music from real music) and the
    strongest weights."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from tqdm.auto import tqdm

    from ..music.features import DESCRIPTOR_PARTS
    from ..music.representation import grid_from_events

    critic = pipe.music_critic
    pipe.set_progress_bar_config(disable=True)  # one bar for the whole generation below
    bars, count = config.critic_realism_bars, config.critic_realism_pieces
    specs = [f"{c}:{a}" for a in REALISM_INTENSITIES for c in critic.config.categories]
    generated = []
    for k, start in enumerate(tqdm(range(0, count, batch), desc="realism head: generating", unit="batch", disable=_quiet_from_env())):
        n = min(batch, count - start)
        generators = [torch.Generator().manual_seed(config.seed + 900_000 + start + i) for i in range(n)]
        out = pipe(specs[k % len(specs)], num_bars=bars, batch_size=n, num_candidates=1, generator=generators)
        generated += [grid_from_events(s) for s in out.sequences]

    def descriptors(grids) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([critic.standardised_descriptor(*stack_grids(grids[i : i + 64], bars)).float()
                              for i in range(0, len(grids), 64)]).numpy()

    x = np.concatenate([descriptors(generated), descriptors([c.grid for c in train])])
    y = np.r_[np.zeros(len(generated)), np.ones(len(train))]
    model = LogisticRegression(C=config.critic_realism_c, class_weight="balanced", max_iter=5000)
    folds = StratifiedKFold(5, shuffle=True, random_state=config.seed)
    cv = float(cross_val_score(model, x, y, cv=folds, scoring="balanced_accuracy").mean())
    model.fit(x, y)
    critic.set_realism_head(torch.from_numpy(model.coef_[0]), float(model.intercept_[0]))
    names = [f"{part}[{i}]" for part, size in DESCRIPTOR_PARTS.items() for i in range(size)]
    strongest = np.argsort(-np.abs(model.coef_[0]))[:6]
    return {"cv_balanced_accuracy": round(cv, 4), "generated": len(generated), "real": len(train),
            "strongest_weights": {names[i]: round(float(model.coef_[0][i]), 3) for i in strongest}}


def train_critic_stage(train: list[MusicClip], val: list[MusicClip], test: list[MusicClip], bank: EmotionBank, config: MusicTrainConfig,
                       run: TrainRun | None = None) -> tuple[MusicEmotionEncoder, FitResult, dict]:
    """The recipe's critic stage: :func:`train_critic`, its temperature fitted on ``val``
    (:func:`calibrate_music_critic`), its typical readings of the training clips (:func:`set_music_critic_typical_readings`),
    and its scores on val and test (:func:`~emogen.music.evaluation.critic_scores`)."""
    critic, fit_result = train_critic(train, val, bank, config, run)
    scores: dict = {"val_quadrant_accuracy": fit_result.best_score if fit_result.best_score is not None else -1.0,
                    "best_step": fit_result.best_step}
    if val:
        scores["calibration"] = calibrate_music_critic(critic, bank, val)
        scores["val"] = critic_scores(critic, bank, val)
    if train:
        scores["typical_readings"] = set_music_critic_typical_readings(critic, bank, train)
    if test:
        scores["test"] = critic_scores(critic, bank, test)
    return critic, fit_result, scores


# ---------------------------------------------------------------------------------------------- recipe
def train_music(output: str | os.PathLike[str], config: MusicTrainConfig | None = None, data_root: str | None = None, *,
                resume: bool = False, checkpoint_every: int | None = None) -> dict:
    """Train the VQ-VAE, prior and critic on EMOPIA and write the pipeline folder ``output``.

    ``config`` defaults to the shipped model's, ``data_root`` to the data folder found automatically.
    ``resume`` and ``checkpoint_every`` go to :class:`~emogen.training.recipe.TrainRun` (stage checkpoints
    live in ``.<name>.train`` beside ``output`` until the folder is complete). Returns the scores, which
    are also written to ``scores.json`` beside the weights and the model card.
    """
    from ..pipelines.pipeline_emo_music import EmoMusicPipeline

    config = config or MusicTrainConfig()
    run = TrainRun(checkpoint_dir=train_state_dir(output), resume=resume, checkpoint_every=checkpoint_every)
    train = load_music_clips("train", data_root, limit=config.max_clips)
    val = load_music_clips("val", data_root, limit=config.max_clips)
    test = load_music_clips("test", data_root, limit=config.max_clips)
    logger.info("EMOPIA: %d train, %d val, %d test clips", len(train), len(val), len(test))
    bank = EmotionBank().eval().requires_grad_(False)

    with run.timed("total"):
        with run.timed("vqvae"):
            vqvae, vq_fit = train_vqvae(train, config, run)
            vq_scores = {"val": evaluate_vqvae(vqvae, val), "test": evaluate_vqvae(vqvae, test)}
        logger.info("vqvae done (%.1f min): %s", run.minutes["vqvae"], vq_scores)

        with run.timed("prior"):
            sequences = encode_clips(vqvae, train, config.transpositions)
            prior, prior_fit = train_prior(sequences, bank, config, vqvae.token_codebook_sizes, run)
            val_seq = encode_clips(vqvae, val, (0,))
            prior_scores = _prior_scores(prior, val_seq, bank)
        logger.info("prior done (%.1f min): %s", run.minutes["prior"], prior_scores)
        history = {"vqvae": vq_fit.history, "prior": prior_fit.history}
        if config.prior_inner_layers > 0:
            with run.timed("prior_inner"):
                prior, inner_fit = train_prior_inner(prior, sequences, bank, config, run)
                prior_scores = {**_prior_scores(prior, val_seq, bank), "sum_head": prior_scores}
                history["prior_inner"] = inner_fit.history
            logger.info("prior in-bar phase done (%.1f min): %s", run.minutes["prior_inner"], prior_scores)
        key_guide, key_scores = None, {}
        if config.key_element:
            with run.timed("key_guide"):
                key_guide, key_scores = _fit_key_guide_scored(vqvae, train, val, config, sequences, val_seq)
            logger.info("key guide done (%.1f min): %s", run.minutes["key_guide"], key_scores)

        with run.timed("critic"):
            critic, critic_fit, critic_result = train_critic_stage(train, val, test, bank, config, run)
        logger.info("critic done (%.1f min): %s", run.minutes["critic"], critic_result)

        pipe = EmoMusicPipeline(vqvae=vqvae, prior=prior, emotion_bank=bank, music_critic=critic, key_guide=key_guide)
        if config.critic_realism_pieces > 0:
            with run.timed("realism"):
                critic_result["realism"] = fit_music_realism_head(pipe, train, config)
            logger.info("critic's realism head done (%.1f min): %s", run.minutes["realism"], critic_result["realism"])

    scores = {"vqvae": vq_scores, "prior": prior_scores, "key_guide": key_scores, "critic": critic_result,
              "minutes": dict(run.minutes), "config": asdict(config), "data": {"train": len(train), "val": len(val), "test": len(test)},
              "history": {**history, "critic": critic_fit.history}}
    finish_recipe(pipe, output, scores, music_model_card, run)
    return scores



def _fit_key_guide_scored(vqvae: ElementVQVAE, train: list[MusicClip], val: list[MusicClip], config: MusicTrainConfig,
                          sequences: list[tuple[torch.Tensor, str]] | None = None,
                          val_sequences: list[tuple[torch.Tensor, str]] | None = None) -> tuple[KeyCodeGuide, dict]:
    """The key guide counted on ``train``, and its scores: the minor share per quadrant it draws from, and how well its
    log-ratios name the key and the mode of the val clips. ``sequences`` / ``val_sequences``: the clips' codes, when
    the caller has encoded them already (under ``config.transpositions`` / untransposed)."""
    guide = fit_key_guide(vqvae, train, config, sequences)
    share = dict(zip([*QUADRANTS, "all"], guide.config.minor_share))
    accuracy = key_guide_accuracy(guide, vqvae, val, val_sequences)
    return guide, {"minor_share": share, **{f"val_{k}": v for k, v in accuracy.items()}}


def _prior_scores(prior: EmotionCodePrior, val_sequences: list[tuple[torch.Tensor, str]], bank: EmotionBank) -> dict[str, float]:
    """The prior's validation NLL per code with and without the emotion, and how much the emotion explains."""
    return {f"val_{k}": v for k, v in prior_emotion_information(prior, val_sequences, bank).items()}


def _fit_folder_realism_head(output: Path, train: list[MusicClip], config: MusicTrainConfig,
                             critic: MusicEmotionEncoder | None = None) -> tuple[MusicEmotionEncoder, dict]:
    """:func:`fit_music_realism_head` on the pipeline folder ``output`` (its critic replaced by ``critic`` when given):
    the critic with its new head, and the head's scores."""
    from ..pipelines.pipeline_emo_music import EmoMusicPipeline

    pipe = EmoMusicPipeline.from_pretrained(str(output), **({"music_critic": critic} if critic is not None else {}))
    scores = fit_music_realism_head(pipe, train, config)
    return pipe.music_critic, scores


#: Stages ``retrain_music_stage`` retrains on their own: the component folder each one replaces.
#: ``prior`` trains both phases of the prior, ``prior-inner`` only the second (on the folder's prior's bar transformer).
#: ``realism`` refits only the critic's realism head (on the folder's pipeline); ``critic`` refits it too.
MUSIC_STAGES: dict[str, str] = {"prior": "prior", "prior-inner": "prior", "key": "key_guide", "critic": "music_critic",
                                "realism": "music_critic"}


def retrain_music_stage(output: str | os.PathLike[str], stage: str, config: MusicTrainConfig | None = None, data_root: str | None = None,
                        *, resume: bool = False, checkpoint_every: int | None = None) -> dict:
    """Retrain one stage (``"prior"``, ``"prior-inner"``, ``"key"``, ``"critic"`` or ``"realism"``) of the music pipeline folder
    ``output``; the rest stays.

    The prior learns the codes the folder's own VQ-VAE gives EMOPIA; the critic maps into the folder's own
    ``emotion_bank``. The new component replaces the old one (written beside it, then swapped), and
    ``scores.json`` gets the stage's new scores, minutes, history and settings (every other entry is kept).
    The model card is not rewritten. Returns the scores.
    """
    from ..errors import InputError
    from ..music.vqvae import ElementVQVAE

    output = Path(output)
    if stage not in MUSIC_STAGES:
        raise InputError(f"unknown music stage {stage!r}; choose one of {', '.join(MUSIC_STAGES)}")
    if not (output / "model_index.json").is_file() or not (output / "emotion_bank").is_dir():
        msg = (f"--only {stage} needs an existing music pipeline folder, and {str(output)!r} has no model_index.json/emotion_bank; "
               "train it first without --only")
        raise InputError(msg)
    config = config or MusicTrainConfig()
    if stage == "prior-inner" and config.prior_inner_layers == 0:
        raise InputError("--only prior-inner trains the prior's in-bar transformer, but prior_inner_layers is 0")
    path = output / "scores.json"
    previous = json.loads(path.read_text()) if path.is_file() else {}
    run = TrainRun(checkpoint_dir=train_state_dir(output), resume=resume, checkpoint_every=checkpoint_every)
    train = load_music_clips("train", data_root, limit=config.max_clips)
    val = load_music_clips("val", data_root, limit=config.max_clips)
    bank = EmotionBank.from_pretrained(str(output), subfolder="emotion_bank").eval().requires_grad_(False)
    if stage == "critic":
        with run.timed("critic"):
            test = load_music_clips("test", data_root, limit=config.max_clips)
            model, fit_result, critic_result = train_critic_stage(train, val, test, bank, config, run)
            update, history = {"critic": critic_result}, {"critic": fit_result.history}
        if config.critic_realism_pieces > 0:
            with run.timed("realism"):
                model, critic_result["realism"] = _fit_folder_realism_head(output, train, config, model)
    elif stage == "realism":
        if config.critic_realism_pieces == 0:
            raise InputError("--only realism fits the critic's realism head, but critic_realism_pieces is 0")
        with run.timed("realism"):
            model, realism = _fit_folder_realism_head(output, train, config)
        update, history = {"critic": {**previous.get("critic", {}), "realism": realism}}, {}
    elif stage == "key":
        if not config.key_element:
            raise InputError("--only key fits the key guide, but key_element is empty")
        with run.timed("key_guide"):
            vqvae = ElementVQVAE.from_pretrained(str(output), subfolder="vqvae")
            model, key_scores = _fit_key_guide_scored(vqvae, train, val, config)
        update, history = {"key_guide": key_scores}, {}
    else:
        vqvae = ElementVQVAE.from_pretrained(str(output), subfolder="vqvae")
        sequences, val_seq = encode_clips(vqvae, train, config.transpositions), encode_clips(vqvae, val, (0,))
        if stage == "prior":
            with run.timed("prior"):
                model, fit_result = train_prior(sequences, bank, config, vqvae.token_codebook_sizes, run)
            history = {"prior": fit_result.history}
            sum_head = _prior_scores(model, val_seq, bank)
        else:
            model, history = EmotionCodePrior.from_pretrained(str(output), subfolder="prior"), {}
            sum_head = previous.get("prior", {}).get("sum_head", previous.get("prior"))
        update = {"prior": sum_head}
        if config.prior_inner_layers > 0:
            with run.timed("prior_inner"):
                model, fit_result = train_prior_inner(model, sequences, bank, config, run)
            history["prior_inner"] = fit_result.history
            update = {"prior": {**_prior_scores(model, val_seq, bank), "sum_head": sum_head}}
    logger.info("%s done (%.1f min): %s", stage, sum(run.minutes.values()), update)
    replace_component(output, MUSIC_STAGES[stage], model)

    scores = {**previous, **update}
    minutes = scores.setdefault("minutes", {})
    minutes.update(run.minutes)
    minutes["total"] = sum(v for k, v in minutes.items() if k != "total")
    prefix = "critic_" if stage == "realism" else f"{stage.replace('-', '_')}_"
    scores.setdefault("config", {}).update({k: v for k, v in asdict(config).items() if k.startswith(prefix)})
    if "history" in scores:
        scores["history"].update(history)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(scores, indent=2, sort_keys=True, default=list) + "\n")
    if run.checkpoint_dir is not None and run.accelerator.is_main_process:
        shutil.rmtree(run.checkpoint_dir, ignore_errors=True)
    return scores
