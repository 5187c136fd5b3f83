"""A tiny, randomly initialised :class:`EmoMusicPipeline` for fast tests and examples (no training, no data).

Its music is noise: use it to exercise the pipeline's plumbing, never as a model.
"""

from __future__ import annotations

import torch

from emogen.emotion import EmotionBank
from emogen.music.critic import MusicEmotionEncoder
from emogen.music.prior import EmotionCodePrior
from emogen.music.vqvae import ElementVQVAE
from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

__all__ = ["build_tiny_music_pipeline"]


def build_tiny_music_pipeline(seed: int = 0, max_bars: int = 4) -> EmoMusicPipeline:
    """Small components whose weights come from a seeded generator (nothing seeds globally)."""
    bank = EmotionBank()
    sizes = [8, 8, 8, 8]
    vqvae = ElementVQVAE(codebook_sizes=sizes, latent_dim=4, hidden_dim=16)
    prior = EmotionCodePrior(codebook_sizes=sizes, emotion_dim=bank.config.embedding_dim, d_model=32, num_layers=1, num_heads=2, max_bars=max_bars)
    critic = MusicEmotionEncoder(emotion_dim=bank.config.embedding_dim, hidden_dim=16)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in (vqvae, prior, critic):
            for parameter in module.parameters():
                parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
        vqvae.onset_head[-1].bias.sub_(3.0)  # a few notes per bar, as real music
    pipe = EmoMusicPipeline(vqvae=vqvae, prior=prior, emotion_bank=bank, music_critic=critic)
    for module in (bank, vqvae, prior, critic):
        module.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe.to("cpu")
