"""`EmotionCodePrior`: an emotion-conditioned autoregressive transformer over bar codes.

One token per bar (the sum of its code embeddings), a causal transformer over bars, and a small
autoregressive head inside each bar (the code columns in the VQ-VAE's layout order: rhythm, then pitch,
then duration, then velocity codes), so 16 bars take 16 transformer passes. The in-bar head either sees the
sum of the codes already chosen (``inner_layers=0``) or runs a small causal transformer over them
(``inner_layers > 0``, the "depth transformer" of RQ-Transformer), which can tell which codes sit in which
column and so keep the codes of one time slot consistent with each other. With ``copy_bars`` each head also
weighs the codes its column held in the bars before (a pointer to earlier bars, so that bars and parts of
bars can repeat as they do in music). The
emotion enters as the shared :class:`~emogen.emotion.EmotionCondition` embedding, projected by an
:class:`~emogen.modules.EmotionEmbedding` into a prefix token and added to every position; rows with
``mask == 0`` use its learned null vector instead (classifier-free guidance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..modeling import BaseOutput, ConfigMixin, ModelMixin, register_to_config
from ..modules.emotion_embedding import EmotionEmbedding

__all__ = ["EmotionCodePrior", "EmotionCodePriorOutput"]


def _upgrade_legacy_keys(state_dict: dict, prefix: str, *args, **kwargs) -> None:
    """Load-state-dict pre-hook: ``null_emotion`` (before :class:`~emogen.modules.EmotionEmbedding`) is
    now ``emotion_proj.null``."""
    if prefix + "null_emotion" in state_dict:
        state_dict[prefix + "emotion_proj.null"] = state_dict.pop(prefix + "null_emotion")


@dataclass
class EmotionCodePriorOutput(BaseOutput):
    """Logits of the prior: one `(B, T, K_e)` tensor per element, for bar codes given earlier bars."""

    logits: list[torch.Tensor]


class EmotionCodePrior(ModelMixin, ConfigMixin):
    """Causal transformer over bars of element codes, conditioned on an emotion embedding.

    Args:
        codebook_sizes (`list[int]`, *optional*, defaults to `[128, 256, 64, 64]`): vocabulary of each code
            column of a bar (the VQ-VAE's ``token_codebook_sizes``); the in-bar head predicts them in order.
        emotion_dim (`int`, *optional*, defaults to 16): size of the shared emotion embedding.
        d_model (`int`, *optional*, defaults to 192): transformer width.
        num_layers (`int`, *optional*, defaults to 4): transformer layers.
        num_heads (`int`, *optional*, defaults to 4): attention heads.
        max_bars (`int`, *optional*, defaults to 16): bars in the context window.
        dropout (`float`, *optional*, defaults to 0.1): dropout in training.
        tie_embeddings (`bool`, *optional*, defaults to `False`): one embedding table per code column, used
            for the bar tokens, for the in-bar head's inputs and (transposed) as its output layer, instead of
            three separate ones: a third of the parameters (measured with 32 codes a bar), and less to overfit.
        copy_bars (`int`, *optional*, defaults to 0): how many bars back the copy term reaches (0 = none). Each
            column's logits get, for every earlier bar ``d`` = 1..``copy_bars`` back, a weight (read from the
            column's head input) added to the code that column held ``d`` bars ago: music repeats bars and
            parts of bars, and a bar token that sums its codes' embeddings cannot say which codes to repeat.
        inner_layers (`int`, *optional*, defaults to 0): layers of the in-bar causal transformer over the bar's
            code columns (0 = the column heads read the bar state plus the sum of the earlier columns'
            embeddings). A sum cannot say which code sits in which column, so the three pitch codes of a slot
            were drawn without seeing each other clearly, and the decoder thins chords whose codes do not
            belong together.
    """

    #: About 9M parameters with 40 codes a bar: written in float16 (half the file; loading casts back to float32).
    _storage_dtype = torch.float16

    @register_to_config
    def __init__(
        self,
        codebook_sizes: list[int] = (128, 256, 64, 64),
        emotion_dim: int = 16,
        d_model: int = 192,
        num_layers: int = 4,
        num_heads: int = 4,
        max_bars: int = 16,
        dropout: float = 0.1,
        tie_embeddings: bool = False,
        copy_bars: int = 0,
        inner_layers: int = 0,
    ) -> None:
        super().__init__()
        sizes = list(codebook_sizes)
        d = d_model
        self.code_embeddings = nn.ModuleList([nn.Embedding(k, d) for k in sizes])
        if not tie_embeddings:
            self.inner_embeddings = nn.ModuleList([nn.Embedding(k, d) for k in sizes[:-1]])
        self.position = nn.Parameter(torch.zeros(max_bars + 1, d))
        nn.init.normal_(self.position, std=0.02)
        self.emotion_proj = EmotionEmbedding(emotion_dim, d, activation="gelu", null="learned")
        layer = nn.TransformerEncoderLayer(d, num_heads, 4 * d, dropout=dropout, activation="gelu", batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        if tie_embeddings:  # the output layer of column e is its embedding table, transposed, plus a bias
            self.heads = nn.ModuleList([nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.GELU()) for _ in sizes])
            self.head_biases = nn.ParameterList([nn.Parameter(torch.zeros(k)) for k in sizes])
        else:
            self.heads = nn.ModuleList([nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.GELU(), nn.Linear(d, k)) for k in sizes])
        if inner_layers > 0:  # input 0 is the bar state, input e > 0 the code of column e - 1, plus a column position
            self.inner_position = nn.Parameter(torch.zeros(len(sizes), d))
            nn.init.normal_(self.inner_position, std=0.02)
            inner = nn.TransformerEncoderLayer(d, num_heads, 2 * d, dropout=dropout, activation="gelu", batch_first=True, norm_first=True)
            self.inner = nn.TransformerEncoder(inner, inner_layers, enable_nested_tensor=False)
        if copy_bars > 0:  # zero-initialised: training starts from the plain prior
            self.copy_proj = nn.Linear(d, copy_bars)
            self.copy_bias = nn.Parameter(torch.zeros(len(sizes), copy_bars))
            nn.init.zeros_(self.copy_proj.weight)
            nn.init.zeros_(self.copy_proj.bias)
        self._register_load_state_dict_pre_hook(_upgrade_legacy_keys)

    def condition_vector(self, emotion: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`(B, d_model)` condition: projected embedding where ``mask`` is 1, the learned null vector where 0."""
        return self.emotion_proj(emotion, mask)

    def hidden(self, codes: torch.Tensor, emotion: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Transformer states `(B, T + 1, d)`: state ``t`` predicts bar ``t`` from bars ``< t``."""
        b, t = codes.shape[:2]
        if t + 1 > self.position.shape[0]:
            msg = f"EmotionCodePrior sees at most {self.position.shape[0] - 1} bars, got {t}"
            raise ValueError(msg)
        cond = self.condition_vector(emotion, mask)
        tokens = torch.zeros(b, t, self.config.d_model, dtype=self.dtype, device=codes.device)
        for i, table in enumerate(self.code_embeddings):
            tokens = tokens + table(codes[..., i])
        x = torch.cat([cond[:, None], tokens], dim=1) + self.position[None, : t + 1] + cond[:, None]
        causal = nn.Transformer.generate_square_subsequent_mask(t + 1, device=codes.device)
        return self.norm(self.transformer(x, mask=causal, is_causal=True))

    def element_logits(self, state: torch.Tensor, chosen: list[torch.Tensor], element: int,
                       history: torch.Tensor | None = None, cache: dict | None = None) -> torch.Tensor:
        """Logits `(B, K)` of ``element`` at states `(B, d)`, given the codes already chosen in the bar and
        the codes `(B, T, C)` of the bars before it (``history``, the same context as :meth:`hidden`; needed
        for the copy term when ``copy_bars`` > 0).

        ``cache``: an empty dict per bar, passed to every call of that bar (in column order, in eval mode),
        lets the in-bar transformer reuse the keys and values of the columns before instead of rereading
        them; the logits are the same.
        """
        tables = self.code_embeddings if self.config.tie_embeddings else self.inner_embeddings
        if self.config.inner_layers > 0 and cache is not None:
            done = cache.setdefault("positions", 0)
            for position in range(done, element + 1):
                x = state if position == 0 else tables[position - 1](chosen[position - 1])
                cache["last"] = self._inner_step(x + self.inner_position[position], cache.setdefault("keys_values", []))
            cache["positions"] = max(done, element + 1)
            h = cache["last"]
        elif self.config.inner_layers > 0:
            inputs = torch.stack([state, *(tables[i](code) for i, code in enumerate(chosen[:element]))], dim=1)
            h = self._inner(inputs)[:, -1]
        else:
            h = state
            for i, code in enumerate(chosen[:element]):
                h = h + tables[i](code)
        logits = self._head(element, h)
        if self.config.copy_bars > 0 and history is not None and history.shape[1]:
            logits = logits + self._copy_bonus(element, h[:, None], history[..., element], current=False)[:, 0]
        return logits

    def _inner_step(self, x: torch.Tensor, keys_values: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """The in-bar transformer's output `(B, d)` at one more position (input ``x`` with its column position
        added), attending to the positions before through ``keys_values`` (one `(B, H, t, d_head)` pair per
        layer, extended in place). The same computation as :meth:`_inner` without dropout."""
        b, d = x.shape
        for i, layer in enumerate(self.inner.layers):
            attn = layer.self_attn
            q, k, v = nn.functional.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias).view(b, 3, attn.num_heads, 1, -1).unbind(1)
            if i < len(keys_values):
                k, v = torch.cat([keys_values[i][0], k], dim=2), torch.cat([keys_values[i][1], v], dim=2)
                keys_values[i] = (k, v)
            else:
                keys_values.append((k, v))
            x = x + attn.out_proj(nn.functional.scaled_dot_product_attention(q, k, v).reshape(b, d))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
        return x

    def _inner(self, inputs: torch.Tensor) -> torch.Tensor:
        """In-bar transformer outputs `(N, E, d)` for inputs `(N, E, d)`: output ``e`` sees inputs ``<= e``."""
        e = inputs.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(e, device=inputs.device)
        return self.inner(inputs + self.inner_position[:e], mask=causal, is_causal=True)

    def _head(self, element: int, h: torch.Tensor) -> torch.Tensor:
        out = self.heads[element](h)
        if self.config.tie_embeddings:
            out = nn.functional.linear(out, self.code_embeddings[element].weight, self.head_biases[element])
        return out

    def _copy_bonus(self, element: int, h: torch.Tensor, column: torch.Tensor, current: bool) -> torch.Tensor:
        """Copy logits `(B, T', K)` for head inputs `(B, T', d)`: weight ``w_d`` on the code ``column`` `(B, T)`
        held ``d`` bars back. ``current``: the inputs belong to the bars of ``column`` (teacher forcing, T' = T);
        otherwise to the one bar after them (sampling, T' = 1)."""
        weights = self.copy_proj(h) + self.copy_bias[element]  # (B, T', D)
        b, steps = h.shape[:2]
        bonus = torch.zeros(b, steps, self.config.codebook_sizes[element], dtype=weights.dtype, device=weights.device)
        t = column.shape[1]
        if not current:  # the next bar (index t) gets the code of bar t - d, d = 1..n, in one scatter
            n = min(self.config.copy_bars, t)
            return bonus.scatter_add_(-1, column[:, t - n :].flip(1)[:, None], weights[:, :, :n])
        for d in range(1, min(self.config.copy_bars, t - 1) + 1):  # bar i (i >= d) gets the code of bar i - d
            bonus[:, d:].scatter_add_(-1, column[:, : t - d, None], weights[:, d:, d - 1 : d])
        return bonus

    def forward(
        self, codes: torch.Tensor, emotion: torch.Tensor, mask: torch.Tensor, return_dict: bool = True
    ) -> EmotionCodePriorOutput | tuple:
        """Teacher-forced logits for `(B, T, C)` codes: column ``e`` of bar ``t`` sees bars ``< t`` and
        columns ``< e`` of bar ``t``."""
        states = self.hidden(codes, emotion, mask)[:, :-1]
        # the in-bar inputs of every column at once: the in-bar transformer's outputs, or the state plus the running
        # sum of the earlier columns' embeddings
        tables = self.code_embeddings[:-1] if self.config.tie_embeddings else self.inner_embeddings
        embedded = [table(codes[..., i]) for i, table in enumerate(tables)]
        if self.config.inner_layers > 0:
            b, t = states.shape[:2]
            outputs = self._inner(torch.stack([states, *embedded], dim=2).flatten(0, 1)).view(b, t, len(embedded) + 1, -1)
            inputs = list(outputs.unbind(2))
        else:
            inputs = [states, *(states + prefix for prefix in torch.stack(embedded).cumsum(0))]
        logits = [self._head(e, h) for e, h in enumerate(inputs)]
        if self.config.copy_bars > 0:
            logits = [out + self._copy_bonus(e, h, codes[..., e], current=True) for e, (out, h) in enumerate(zip(logits, inputs))]
        if not return_dict:
            return (logits,)
        return EmotionCodePriorOutput(logits=logits)
