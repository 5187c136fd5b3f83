"""The music training recipe: EMOPIA -> element VQ-VAE -> code prior -> critic -> pipeline folder.

``emogen train music --output checkpoints/music`` runs :func:`train_music`. Every stage uses the official
EMOPIA train split (val for model selection, test only for the scores in ``scores.json``), seeded
generators only, and accelerate for the device, so the same code scales to GPUs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..emotion import EmotionBank
from .critic import MusicEmotionEncoder
from .dataset import MusicClip, load_music_clips, stack_grids, transpose_tensor
from .features import ELEMENTS
from .prior import EmotionCodePrior
from .vqvae import ElementVQVAE

__all__ = ["MusicTrainConfig", "train_music", "QUADRANT_ORDER"]

logger = logging.getLogger(__name__)

#: Quadrants in label order; each maps to its bank category (QUADRANT_EMOTIONS).
QUADRANT_ORDER: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")


@dataclass
class MusicTrainConfig:
    """Sizes and steps of the three models (the defaults reproduce ``checkpoints/music``)."""

    codebook_sizes: tuple[int, ...] = (256, 256, 64, 64)
    codes_per_element: tuple[int, ...] = (2, 4, 1, 1)
    latent_dim: int = 32
    vq_hidden: int = 256
    vq_steps: int = 2500
    vq_batch: int = 256
    prior_d_model: int = 192
    prior_layers: int = 4
    prior_heads: int = 4
    prior_bars: int = 16
    prior_steps: int = 3000
    prior_batch: int = 48
    prior_null_p: float = 0.1
    prior_neutral_p: float = 0.1
    critic_hidden: int = 128
    critic_steps: int = 1200
    critic_batch: int = 32
    transpositions: tuple[int, ...] = (-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6)
    lr: float = 1e-3
    seed: int = 0
    max_clips: int | None = None  # small configs for tests


def _bars_of(clips: list[MusicClip]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    onsets = torch.from_numpy(np.concatenate([c.grid.onsets for c in clips]))
    durations = torch.from_numpy(np.concatenate([c.grid.durations for c in clips]).astype(np.int64))
    velocities = torch.from_numpy(np.concatenate([c.grid.velocities for c in clips]).astype(np.int64))
    return onsets, durations, velocities


def vq_loss_terms(model: ElementVQVAE, onsets: torch.Tensor, durations: torch.Tensor, velocities: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reconstruction (onset BCE; duration/velocity CE at onsets) and VQ losses of a batch of bars."""
    out = model(onsets, durations, velocities)
    on = onsets.float()
    cells = on.shape[1] * on.shape[2]
    bce = F.binary_cross_entropy_with_logits(out.logits.onset, on, reduction="mean") * cells / 16.0
    sel = onsets.bool()
    dur = F.cross_entropy(out.logits.duration[sel], durations[sel]) if sel.any() else on.sum() * 0
    vel = F.cross_entropy(out.logits.velocity[sel], velocities[sel]) if sel.any() else on.sum() * 0
    return {"onset": bce, "duration": dur, "velocity": vel, "vq": out.vq_loss, "codes": out.codes}


def train_vqvae(clips: list[MusicClip], config: MusicTrainConfig, accelerator, val: list[MusicClip] | None = None) -> ElementVQVAE:
    """Fit the element VQ-VAE on every bar of ``clips`` with random transpositions; dead codes restart."""
    gen = torch.Generator().manual_seed(config.seed)
    torch_gen_init = torch.Generator().manual_seed(config.seed + 1)
    model = ElementVQVAE(codebook_sizes=list(config.codebook_sizes), latent_dim=config.latent_dim, hidden_dim=config.vq_hidden,
                         codes_per_element=list(config.codes_per_element))
    with torch.no_grad():  # deterministic init from our own generator
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=torch_gen_init) * (1.0 / p.shape[-1]) ** 0.5)
            else:
                p.zero_()
        for q in model.quantizers.values():
            q.codebook.copy_(torch.randn(q.codebook.shape, generator=torch_gen_init) * 0.5)
    onsets, durations, velocities = _bars_of(clips)
    nonempty = onsets.flatten(1).any(1)
    onsets, durations, velocities = onsets[nonempty], durations[nonempty], velocities[nonempty]
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.vq_steps, pct_start=max(0.05, 3.0 / config.vq_steps))
    model, optimizer = accelerator.prepare(model, optimizer)
    raw = accelerator.unwrap_model(model)
    sizes = model.token_codebook_sizes
    usage = [torch.zeros(k) for k in sizes]
    n = onsets.shape[0]
    for step in range(config.vq_steps):
        idx = torch.randint(0, n, (config.vq_batch,), generator=gen)
        shift = int(config.transpositions[int(torch.randint(0, len(config.transpositions), (1,), generator=gen))])
        batch = [transpose_tensor(x[idx], shift).to(accelerator.device) for x in (onsets, durations, velocities)]
        terms = vq_loss_terms(model, *batch)
        loss = terms["onset"] + 0.5 * terms["duration"] + 0.5 * terms["velocity"] + terms["vq"]
        optimizer.zero_grad()
        accelerator.backward(loss)
        optimizer.step()
        sched.step()
        codes = terms["codes"].cpu()
        for i, k in enumerate(sizes):
            usage[i] += torch.bincount(codes[:, i], minlength=k).float()
        if (step + 1) % 100 == 0 and step < 0.8 * config.vq_steps:
            _restart_dead_codes(raw, batch, usage, gen)
            usage = [torch.zeros(k) for k in sizes]
        if (step + 1) % 250 == 0 or step == 0:
            logger.info("vqvae step %d: onset %.4f dur %.3f vel %.3f vq %.4f", step + 1, terms["onset"].item(),
                        terms["duration"].item(), terms["velocity"].item(), terms["vq"].item())
    raw = accelerator.unwrap_model(model).to("cpu").eval()
    if val:
        logger.info("vqvae val: %s", evaluate_vqvae(raw, val))
    return raw


@torch.no_grad()
def _restart_dead_codes(model: ElementVQVAE, batch: list[torch.Tensor], usage: list[torch.Tensor], gen: torch.Generator) -> None:
    z = model.latents(*batch)
    for i, (e, g) in enumerate(model.code_layout):
        dead = (usage[i] == 0).nonzero().flatten()
        if len(dead) == 0:
            continue
        part = z[e].chunk(model.config.codes_per_element[ELEMENTS.index(e)], dim=-1)[g]
        pick = torch.randint(0, part.shape[0], (len(dead),), generator=gen)
        book = model.quantizers[model._key(e, g)].codebook
        book.data[dead.to(book.device)] = part[pick.to(book.device)] + 0.01 * torch.randn(len(dead), book.shape[1], generator=gen).to(book.device)


@torch.no_grad()
def evaluate_vqvae(model: ElementVQVAE, clips: list[MusicClip]) -> dict[str, float]:
    """Held-out reconstruction: onset F1 (threshold 0.5), losses, and codebook usage."""
    onsets, durations, velocities = _bars_of(clips)
    terms = vq_loss_terms(model, onsets, durations, velocities)
    logits = model(onsets, durations, velocities).logits
    pred = logits.onset > -0.85  # p > 0.3: onsets are sparse, 0.5 is too strict
    tp = (pred & onsets).sum().item()
    f1 = 2 * tp / max(pred.sum().item() + onsets.sum().item(), 1)
    codes = terms["codes"]
    used = [len(torch.unique(codes[:, i])) for i in range(codes.shape[1])]
    return {"onset_bce": round(terms["onset"].item(), 4), "onset_f1": round(f1, 4),
            "duration_ce": round(terms["duration"].item(), 4), "velocity_ce": round(terms["velocity"].item(), 4),
            "codes_used": used}


@torch.no_grad()
def encode_clips(model: ElementVQVAE, clips: list[MusicClip], transpositions: tuple[int, ...]) -> list[tuple[torch.Tensor, str]]:
    """Codes `(bars, 4)` of every clip under every transposition, with the clip's category."""
    out = []
    for clip in clips:
        grid = [torch.from_numpy(a.astype(np.int64) if a.dtype != bool else a) for a in (clip.grid.onsets, clip.grid.durations, clip.grid.velocities)]
        for s in transpositions:
            codes = model.encode(*(transpose_tensor(x, s) for x in grid))
            out.append((codes, clip.category))
    return out


def train_prior(sequences: list[tuple[torch.Tensor, str]], bank: EmotionBank, config: MusicTrainConfig, accelerator,
                token_sizes: list[int] | None = None) -> EmotionCodePrior:
    """Fit the emotion-conditioned prior on code sequences (random windows of ``prior_bars`` bars).

    Each sequence is conditioned on its category at intensity 1; with probability ``prior_null_p`` the
    condition is nulled (mask 0, the unconditional model for guidance) and with ``prior_neutral_p`` it is
    the neutral point (mask 1), trained on all music alike, so intensities between 0 and 1 move from
    EMOPIA's average toward the category.
    """
    gen = torch.Generator().manual_seed(config.seed + 2)
    init = torch.Generator().manual_seed(config.seed + 3)
    token_sizes = token_sizes or list(config.codebook_sizes)
    columns = sequences[0][0].shape[1]
    model = EmotionCodePrior(codebook_sizes=list(token_sizes), emotion_dim=bank.config.embedding_dim,
                             d_model=config.prior_d_model, num_layers=config.prior_layers, num_heads=config.prior_heads,
                             max_bars=config.prior_bars)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=init) * 0.02)
            elif "norm" in name or name.endswith("layer_norm.weight"):
                pass
            elif "weight" in name and p.dim() == 1:
                p.fill_(1.0)
            else:
                p.zero_()
    cond = {c: bank.condition(c).embedding[0] for c in {cat for _, cat in sequences}}
    neutral = bank.condition("neutral").embedding[0]
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr * 0.5, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr * 0.5, total_steps=config.prior_steps, pct_start=max(0.05, 3.0 / config.prior_steps))
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    t = config.prior_bars
    for step in range(config.prior_steps):
        pick = torch.randint(0, len(sequences), (config.prior_batch,), generator=gen)
        codes = torch.zeros(config.prior_batch, t, columns, dtype=torch.long)
        valid = torch.zeros(config.prior_batch, t)
        emb = torch.zeros(config.prior_batch, neutral.shape[0])
        for row, i in enumerate(pick.tolist()):
            seq, cat = sequences[i]
            start = int(torch.randint(0, max(1, seq.shape[0] - t + 1), (1,), generator=gen)) if seq.shape[0] > t else 0
            piece = seq[start : start + t]
            codes[row, : len(piece)] = piece
            valid[row, : len(piece)] = 1
            emb[row] = cond[cat]
        mask = torch.ones(config.prior_batch)
        r = torch.rand(config.prior_batch, generator=gen)
        mask[r < config.prior_null_p] = 0.0
        emb[r < config.prior_null_p] = 0.0
        neutral_rows = (r >= config.prior_null_p) & (r < config.prior_null_p + config.prior_neutral_p)
        emb[neutral_rows] = neutral
        device = accelerator.device
        logits = model(codes.to(device), emb.to(device), mask.to(device)).logits
        v = valid.to(device).flatten()
        loss = sum((F.cross_entropy(lg.flatten(0, 1), codes[..., i].to(device).flatten(), reduction="none") * v).sum() / v.sum()
                   for i, lg in enumerate(logits))
        optimizer.zero_grad()
        accelerator.backward(loss)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        sched.step()
        if (step + 1) % 250 == 0 or step == 0:
            logger.info("prior step %d: loss %.3f (per code %.3f)", step + 1, loss.item(), loss.item() / columns)
    return accelerator.unwrap_model(model).to("cpu").eval()


@torch.no_grad()
def prior_nll(model: EmotionCodePrior, sequences: list[tuple[torch.Tensor, str]], bank: EmotionBank, conditioned: bool = True) -> float:
    """Mean negative log-likelihood per code of held-out sequences (first ``max_bars`` bars)."""
    total, count = 0.0, 0
    t = model.config.max_bars
    for seq, cat in sequences:
        codes = seq[None, :t]
        cond = bank.condition(cat)
        mask = cond.mask if conditioned else torch.zeros(1)
        logits = model(codes, cond.embedding, mask).logits
        for i, lg in enumerate(logits):
            total += F.cross_entropy(lg[0], codes[0, :, i], reduction="sum").item()
        count += codes.shape[1] * codes.shape[2]
    return total / max(count, 1)


def _critic_batch(clips: list[MusicClip], idx: list[int], bars: int, gen: torch.Generator, transpositions: tuple[int, ...]):
    grids = []
    for i in idx:
        g = clips[i].grid
        if g.num_bars > bars:
            start = int(torch.randint(0, g.num_bars - bars + 1, (1,), generator=gen))
            g = type(g)(g.onsets[start : start + bars], g.durations[start : start + bars], g.velocities[start : start + bars], g.tempo)
        shift = int(transpositions[int(torch.randint(0, len(transpositions), (1,), generator=gen))])
        grids.append(g.transpose(shift))
    return stack_grids(grids, bars)


def critic_loss(critic: MusicEmotionEncoder, bank: EmotionBank, batch, labels: torch.Tensor) -> torch.Tensor:
    """Bank likelihood over the four quadrant categories plus a pull toward the category mean."""
    onsets, durations, velocities, mask = batch
    emb = critic(onsets, durations, velocities, mask).embedding
    cats = [bank.category_index(c) for c in _quadrant_categories()]
    ll = bank.log_likelihood(emb)[:, cats]
    target_means = bank.means[[cats[i] for i in labels.tolist()]]
    return F.cross_entropy(ll, labels) + 0.1 * ((emb - target_means) ** 2).sum(-1).mean()


def _quadrant_categories() -> list[str]:
    from ..data.emopia import QUADRANT_EMOTIONS

    return [QUADRANT_EMOTIONS[q] for q in QUADRANT_ORDER]


@torch.no_grad()
def critic_predict(critic: MusicEmotionEncoder, bank: EmotionBank, grids, max_bars: int = 64) -> np.ndarray:
    """Quadrant index (0-3, Q1..Q4) the critic gives each grid."""
    cats = [bank.category_index(c) for c in _quadrant_categories()]
    preds = []
    for g in grids:
        o, d, v, m = stack_grids([g], min(g.num_bars, max_bars))
        emb = critic(o, d, v, m).embedding
        preds.append(int(bank.log_likelihood(emb)[0, cats].argmax()))
    return np.array(preds)


def quadrant_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """4-quadrant accuracy and the arousal (Q1,Q2 vs Q3,Q4) and valence (Q1,Q4 vs Q2,Q3) accuracies."""
    arousal = lambda q: np.isin(q, [0, 1])  # noqa: E731
    valence = lambda q: np.isin(q, [0, 3])  # noqa: E731
    return {"quadrant": float(np.mean(pred == true)), "arousal": float(np.mean(arousal(pred) == arousal(true))),
            "valence": float(np.mean(valence(pred) == valence(true)))}


def train_critic(train: list[MusicClip], val: list[MusicClip], bank: EmotionBank, config: MusicTrainConfig, accelerator) -> tuple[MusicEmotionEncoder, dict]:
    """Fit the music emotion encoder; keep the weights with the best validation accuracy."""
    gen = torch.Generator().manual_seed(config.seed + 4)
    init = torch.Generator().manual_seed(config.seed + 5)
    critic = MusicEmotionEncoder(emotion_dim=bank.config.embedding_dim, hidden_dim=config.critic_hidden)
    with torch.no_grad():
        for p in critic.parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=init) * (1.0 / fan_in) ** 0.5)
            else:
                p.zero_()
    labels_all = torch.tensor([QUADRANT_ORDER.index(c.quadrant) for c in train])
    optimizer = torch.optim.AdamW(critic.parameters(), lr=config.lr, weight_decay=1e-3)
    critic, optimizer = accelerator.prepare(critic, optimizer)
    val_true = np.array([QUADRANT_ORDER.index(c.quadrant) for c in val])
    best, best_state = -1.0, None
    for step in range(config.critic_steps):
        critic.train()
        idx = torch.randint(0, len(train), (config.critic_batch,), generator=gen).tolist()
        batch = [x.to(accelerator.device) for x in _critic_batch(train, idx, 16, gen, config.transpositions)]
        loss = critic_loss(critic, bank, batch, labels_all[idx].to(accelerator.device))
        optimizer.zero_grad()
        accelerator.backward(loss)
        optimizer.step()
        if (step + 1) % min(100, config.critic_steps) == 0 and val:
            raw = accelerator.unwrap_model(critic).eval()
            acc = float(np.mean(critic_predict(raw, bank, [c.grid for c in val]) == val_true))
            if acc > best:
                best, best_state = acc, {k: v.detach().clone() for k, v in raw.state_dict().items()}
            logger.info("critic step %d: loss %.3f val acc %.3f", step + 1, loss.item(), acc)
    critic = accelerator.unwrap_model(critic).to("cpu").eval()
    if best_state is not None:
        critic.load_state_dict(best_state)
    return critic, {"val_quadrant_accuracy": best}


def train_music(output: str | os.PathLike[str], config: MusicTrainConfig | None = None, data_root: str | None = None) -> dict:
    """Train the VQ-VAE, prior and critic; save the pipeline to ``output``; return the scores."""
    from accelerate import Accelerator

    from ..pipelines.pipeline_emo_music import EmoMusicPipeline

    config = config or MusicTrainConfig()
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    start = time.time()
    minutes = {}
    train = load_music_clips("train", data_root, limit=config.max_clips)
    val = load_music_clips("val", data_root, limit=config.max_clips)
    test = load_music_clips("test", data_root, limit=config.max_clips)
    logger.info("EMOPIA: %d train, %d val, %d test clips", len(train), len(val), len(test))
    bank = EmotionBank().eval()
    for p in bank.parameters():
        p.requires_grad_(False)

    t0 = time.time()
    vqvae = train_vqvae(train, config, accelerator)
    vq_scores = {"val": evaluate_vqvae(vqvae, val), "test": evaluate_vqvae(vqvae, test)}
    minutes["vqvae"] = (time.time() - t0) / 60
    logger.info("vqvae done (%.1f min): %s", minutes["vqvae"], vq_scores)

    t0 = time.time()
    sequences = encode_clips(vqvae, train, config.transpositions)
    prior = train_prior(sequences, bank, config, accelerator, vqvae.token_codebook_sizes)
    val_seq = encode_clips(vqvae, val, (0,))
    prior_scores = {"val_nll_conditioned": prior_nll(prior, val_seq, bank, True),
                    "val_nll_unconditional": prior_nll(prior, val_seq, bank, False)}
    minutes["prior"] = (time.time() - t0) / 60
    logger.info("prior done (%.1f min): %s", minutes["prior"], prior_scores)

    t0 = time.time()
    critic, critic_val = train_critic(train, val, bank, config, accelerator)
    test_true = np.array([QUADRANT_ORDER.index(c.quadrant) for c in test])
    critic_test = quadrant_scores(critic_predict(critic, bank, [c.grid for c in test]), test_true)
    minutes["critic"] = (time.time() - t0) / 60
    logger.info("critic done (%.1f min): val %s test %s", minutes["critic"], critic_val, critic_test)

    pipe = EmoMusicPipeline(vqvae=vqvae, prior=prior, emotion_bank=bank, music_critic=critic)
    out = Path(output)
    pipe.save_pretrained(str(out))
    minutes["total"] = (time.time() - start) / 60
    scores = {"vqvae": vq_scores, "prior": prior_scores, "critic": {**critic_val, "test": critic_test},
              "minutes": minutes, "config": asdict(config), "data": {"train": len(train), "val": len(val), "test": len(test)}}
    (out / "scores.json").write_text(json.dumps(scores, indent=2, sort_keys=True, default=list))
    return scores
