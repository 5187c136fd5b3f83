"""The voice training recipe: feature cache -> speech encoder -> conversion denoiser -> pipeline folder.

``emogen train voice --output checkpoints/voice`` runs :func:`train_voice`, which reproduces the shipped
checkpoint (see its model card) on a 2-core CPU in well under an hour; the same code runs on GPUs through
accelerate.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..emotion import EmotionBank
from .dataset import build_cache
from .train_converter import ConverterTrainConfig, build_pairs, make_scheduler, train_converter
from .train_encoder import (
    EncoderTrainConfig,
    embed_clips,
    evaluate_encoder,
    pooled_raw_features,
    speaker_probe,
    train_encoder,
)

__all__ = ["VoiceTrainConfig", "train_voice", "write_model_card"]

logger = logging.getLogger(__name__)


@dataclass
class VoiceTrainConfig:
    """The whole recipe. Split by actor: train 01-16, validation 17-18, test 19-20."""

    cache: str = "runs/voice_cache/features.pkl"
    test_actors: tuple[int, ...] = (19, 20)
    encoder: EncoderTrainConfig = field(default_factory=EncoderTrainConfig)
    converter: ConverterTrainConfig = field(default_factory=ConverterTrainConfig)


def train_voice(output: str | os.PathLike[str], config: VoiceTrainConfig | None = None, data_root: str | None = None) -> dict:
    """Train both models, save the pipeline to ``output`` and return the scores (also in ``scores.json``)."""
    from accelerate import Accelerator
    from diffusers import DDIMScheduler

    from ..pipelines.pipeline_emo_voice import EmoVoicePipeline

    config = config or VoiceTrainConfig()
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    start = time.time()
    cache = build_cache(config.cache, root=data_root)
    logger.info("feature cache ready: %d clips (%.0f s)", len(cache), time.time() - start)
    items = list(cache.values())
    enc_cfg, conv_cfg = config.encoder, config.converter
    train = [c for c in items if c.clip.actor in enc_cfg.train_actors]
    val = [c for c in items if c.clip.actor in enc_cfg.val_actors]
    test = [c for c in items if c.clip.actor in config.test_actors]
    bank = EmotionBank()

    # 1. speech emotion encoder (the speech critic)
    t0 = time.time()
    encoder, val_scores = train_encoder(train, val, bank, enc_cfg, accelerator=accelerator)
    encoder = accelerator.unwrap_model(encoder).to("cpu")
    test_scores = evaluate_encoder(encoder, bank, test)
    probe_items = val + test  # speakers never seen by the encoder
    speakers = np.array([c.clip.actor for c in probe_items])
    emb = embed_clips(encoder, probe_items).numpy()
    probe = {
        "speaker_probe_embedding": speaker_probe(emb, speakers),
        "speaker_probe_raw_features": speaker_probe(pooled_raw_features(probe_items), speakers),
        "speaker_probe_chance": 1.0 / len(set(speakers.tolist())),
    }
    encoder_minutes = (time.time() - t0) / 60
    logger.info("encoder: val %s test %s probe %s", val_scores, test_scores, probe)

    # 2. conversion denoiser on DTW-aligned pairs of the training actors
    t1 = time.time()
    pairs = build_pairs([c for c in items if c.clip.actor in conv_cfg.train_actors], conv_cfg.normal_intensity, conv_cfg.denoiser_kwargs.get("num_modified_mcep", 13), conv_cfg.denoiser_kwargs.get("utterance_norm", False))
    logger.info("%d conversion pairs", len(pairs))
    denoiser, train_scheduler = train_converter(pairs, bank, conv_cfg, accelerator=accelerator)
    converter_minutes = (time.time() - t1) / 60

    # 3. the pipeline folder (diffusers layout) and the scores
    pipe = EmoVoicePipeline(
        denoiser=denoiser.to("cpu"),
        scheduler=DDIMScheduler.from_config(train_scheduler.config),
        emotion_bank=bank,
        speech_critic=encoder,
    )
    output = Path(output)
    pipe.save_pretrained(str(output))
    scores = {
        "encoder_validation": val_scores,
        "encoder_test": test_scores,
        **probe,
        "num_pairs": len(pairs),
        "rate_slopes": dict(zip(bank.categories, denoiser.config.rate_slopes)),
        "minutes": {"encoder": encoder_minutes, "converter": converter_minutes, "total": (time.time() - start) / 60},
        "config": json.loads(json.dumps(asdict(config), default=list)),
    }
    (output / "scores.json").write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
    write_model_card(output, scores)
    logger.info("saved %s (%.1f min)", output, scores["minutes"]["total"])
    return scores


def write_model_card(output: str | os.PathLike[str], scores: dict) -> Path:
    """Write ``README.md`` (the model card) beside the weights from the training scores."""
    output = Path(output)
    test, val = scores["encoder_test"], scores["encoder_validation"]
    size_mb = sum(p.stat().st_size for p in output.rglob("*") if p.is_file()) / 1e6
    minutes = scores["minutes"]
    slopes = ", ".join(f"{k} {math.exp(v):.2f}x" for k, v in scores["rate_slopes"].items() if v)
    card = f"""# emogen voice checkpoint

Emotional voice conversion (`EmoVoicePipeline`) and the speech emotion encoder (`speech_critic`), trained
by emogen from scratch on a CPU. Diffusers layout: `model_index.json`, `denoiser/`
(`VoiceConversionDenoiser`), `scheduler/` (DDIM, v-prediction, cosine schedule), `emotion_bank/` (the
shared `EmotionBank`, fixed), `speech_critic/` (`SpeechEmotionEncoder`). Total size {size_mb:.1f} MB.

## Data
RAVDESS speech (Livingstone & Russo, 2018), actors 01-20, 16 kHz, **CC BY-NC-SA 4.0**: these weights
inherit that licence (non-commercial, share-alike). Speaker-independent split by actor: train 01-16,
validation 17-18, test 19-20.

## Command
```
emogen train voice --output checkpoints/voice    # 1 CPU thread, seed 0
```
Time on the 2-core development CPU (shared): encoder {minutes['encoder']:.1f} min, converter
{minutes['converter']:.1f} min, total {minutes['total']:.1f} min (plus about 2 min for the WORLD feature cache on
first use).

## Speech emotion encoder (speech critic)
Log-mel + normalised log-F0 + voicing -> residual 1-D CNN -> mean/std pooling -> 16-d point of the shared
space. Loss: cross-entropy over the bank's Gaussian log-likelihoods, MSE of the bank's VAD read-out to the
directional target, MSE of the projected intensity to 1.0 (strong) / 0.6 (normal), and a gradient-reversal
speaker classifier.

| split | 8-class accuracy | UAR | projected intensity strong / normal |
|---|---|---|---|
| validation (17-18) | {val['accuracy']:.3f} | {val['uar']:.3f} | {val['intensity_strong']:.2f} / {val['intensity_normal']:.2f} |
| test (19-20) | {test['accuracy']:.3f} | {test['uar']:.3f} | {test['intensity_strong']:.2f} / {test['intensity_normal']:.2f} |

Linear speaker-ID probe (5-fold logistic regression over the {1 / scores['speaker_probe_chance']:.0f} unseen actors 17-20,
chance {scores['speaker_probe_chance']:.2f}): on the embedding {scores['speaker_probe_embedding']:.3f}, on the
pooled raw input features {scores['speaker_probe_raw_features']:.3f} (lower = less identity in the embedding).

## Converter
WORLD (dio + stonemask, 5 ms) features; the denoiser (8 residual FiLM blocks, 128 channels) predicts 20 ms
deltas of log-F0, energy (c0) and the mel-cepstrum c1-c12 from the source features (log-F0 and
mel-cepstrum mean-normalised per utterance, so no speaker identity goes in) and the target embedding (category at 1.0 for strong, 0.6
for normal, neutral pairs at 0), trained on {scores['num_pairs']} DTW-aligned neutral -> emotion pairs of the
same actor and statement, with 10% emotion dropout for classifier-free guidance. Higher cepstra, and
so the speaker's spectral identity, are kept. Sampling: DDIM, 10 steps, guidance 2.0, initial-noise
temperature 0.5 (chosen on the validation actors 17-18). Duration factors at intensity 1 from the training pairs:
{slopes}.

## Limits
Acted English speech of 20 North-American actors, two sentences; other languages, spontaneous speech and
noisy recordings are out of domain. Analysis and synthesis run at 16 kHz (the output is resampled back to
the input's rate, so content above 8 kHz is lost). Contempt has no RAVDESS data: its direction is
extrapolated from the bank.
"""
    path = output / "README.md"
    path.write_text(card)
    return path
