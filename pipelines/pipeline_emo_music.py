"""`EmoMusicPipeline`: emotion-conditioned piano music (MIDI) with element-level control.

emotion spec -> shared :class:`~emogen.emotion.EmotionCondition` -> the code prior samples bar codes
(one per element: rhythm, pitch, duration, velocity) with classifier-free guidance, bar by bar -> the
element VQ-VAE decodes every bar in parallel into notes -> MIDI. With ``num_candidates > 1`` the music
critic (a symbolic emotion encoder into the shared space) keeps the candidate closest to the request.
With a ``reference`` piece, the elements not listed in ``transfer_elements`` keep the reference's codes
(teacher-forced in the prior) and only the listed ones are resampled for the new emotion.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from emogen.emotion import EmotionBank, EmotionCondition, EmotionSpec
from emogen.errors import InputError
from emogen.modules.guidance import CompositionalGuidance
from emogen.music.critic import MusicEmotionEncoder
from emogen.music.dataset import grid_key, grid_tensors, stack_grids
from emogen.music.features import ELEMENTS
from emogen.music.key_guide import KeyCodeGuide, format_key, parse_key
from emogen.music.prior import EmotionCodePrior
from emogen.music.register import fold_into_register
from emogen.music.representation import BarGrid, EventSequence, events_from_grid, events_to_midi, grid_from_events
from emogen.music.vqvae import ElementVQVAE
from emogen.pipeline_utils import EmogenPipeline, EmogenPipelineOutput
from emogen.utils import atomic_output, make_generators

__all__ = ["DEFAULT_GUIDANCE", "DEFAULT_KEY_GUIDANCE", "DEFAULT_NUM_CANDIDATES", "DEFAULT_TOP_K", "DEFAULT_TOP_K_WITH_KEY", "TOP_K_ELEMENTS", "EmoMusicPipeline", "MusicPipelineOutput", "MAX_BARS"]

#: Longest piece one call generates (bars); longer requests are refused with a clear error.
MAX_BARS = 512
#: The default weight of the step from neutral music to the emotion (``guidance_scale``, ``--guidance``). Val clips, 60
#: pieces a quadrant (``benchmarks/music_probe.py default guidance_scale=1.5 guidance_scale=1.25 guidance_scale=1
#: --per-quadrant 60``): guidance 2 / 1.5 / 1.25 / 1 gave 28 / 32 / 31 / 31 of 32 statistics within 25 % of real, a judge
#: accuracy of 0.871 / 0.871 / 0.829 / 0.833 and a realism classifier accuracy of 0.675 / 0.688 / 0.694 / 0.694; 2
#: exaggerates (silent half-seconds in happy and angry, bar repetition in sad), below 1.5 the emotion fades.
DEFAULT_GUIDANCE = 1.5
#: Without a key guide, pitch codes are drawn from the 20 likeliest of each column: with 32 codes a bar sampled one
#: by one, the long tail of unlikely pitch codes otherwise makes the music far more chromatic than EMOPIA's
#: (pitch-class entropy overlap 0.24 with all codes, 0.72 with the top 20; realism classifier 0.92 -> 0.83; measured
#: on the 32-code model; with today's 40 codes, top 10 instead of 20 lowered the judge's accuracy, 0.660 -> 0.635).
DEFAULT_TOP_K = 20
#: With a key guide, all codes: the guide's log-ratios already hold the pitch codes to the key, and truncating them as
#: well leaves the music too diatonic (val clips, 40 a quadrant: pitch-class entropy 2.12 with the top 20 against
#: 2.52 with all codes and 2.69 real; realism classifier 0.89 against 0.80).
DEFAULT_TOP_K_WITH_KEY = 0
#: The elements whose codes ``top_k`` truncates. Rhythm, duration and velocity codes are drawn from the full
#: distribution: truncating them favours their commonest codes, the emptiest bars, and the music came out
#: at 0.5-0.6 of real note density for Q1, Q3, Q4 (with them drawn in full: 0.74-0.91 on the validation clips).
TOP_K_ELEMENTS = ("pitch",)
#: The default weight of the key guide's log-ratios on the codes it steers (``key_guidance``, ``--key-guidance``).
DEFAULT_KEY_GUIDANCE = 1.0
#: Candidates per piece by default (``num_candidates``, ``--candidates``): the critic keeps the one whose reading is
#: closest to how it reads real music of the emotion (:meth:`~emogen.music.critic.MusicEmotionEncoder.reading_target`).
#: Benchmark (test split, 200 pieces a quadrant, with the realism head, before the register fold): the judge's accuracy 0.83 against 0.69 with one
#: candidate, realism 0.76 against 0.80, 28 against 29 of 32 statistics within 25 % of real; 0.59 s for 16 bars on one
#: thread against 0.38 s.
DEFAULT_NUM_CANDIDATES = 4
#: Weight of the critic's realism head (log-odds that a candidate is real music, not the prior's) in the rerank,
#: beside the squared distance of its reading to the target (``realism_weight``). Val clips, 60 pieces a quadrant, 4
#: candidates (``benchmarks/music_probe.py default realism_weight=0 realism_weight=0.1 --per-quadrant 60``): weight
#: 0 / 0.05 / 0.1 gave a realism classifier accuracy of 0.824 / 0.748 / 0.752, a judge accuracy of 0.829 / 0.858 / 0.842,
#: 32 / 29 / 29 statistics within 25 % (the misses: silent shares near 1 %) and stray notes in 45 / 33 / 33 % of pieces.
#: Test split (``benchmarks/music_emotion.py``, before the register fold): realism 0.755 against 0.808 without the head,
#: judge 0.831 against 0.861.
DEFAULT_REALISM_WEIGHT = 0.05
#: Notes more than this many semitones beyond a generated piece's 5th-95th pitch percentile are moved by octaves into
#: its register (``register_margin``, :func:`~emogen.music.register.fold_into_register`; ``None`` = off). Val clips, 60
#: pieces a quadrant, realism head refitted on folded pieces (``benchmarks/music_probe.py default register_margin=12
#: register_margin=none --per-quadrant 60``): margin 9 / 12 / off gave a realism classifier accuracy of 0.675 / 0.726 /
#: 0.766 and a judge accuracy of 0.871 / 0.875 / 0.862, 29 / 28 / 28 statistics within 25 %; generated pitch ranges
#: 0.94-1.02 / 1.02-1.10 / 1.08-1.18 of real. Margin 9 moves about 1 % of the notes, in 72 % of the pieces (it would
#: move 0.7 % of the notes in 46 % of the real val clips: real music also reaches that far, only less often).
#: Test split (``benchmarks/music_emotion.py``): realism 0.664 against 0.755 before the fold, judge 0.845 against 0.831.
DEFAULT_REGISTER_MARGIN = 9.0


@dataclass
class MusicPipelineOutput(EmogenPipelineOutput):
    """Output of :class:`EmoMusicPipeline`.

    Args:
        sequences (`list[EventSequence]`): the generated pieces as note events (one per batch item).
        codes (`torch.Tensor` of shape `(batch, bars, C)`): the element codes (the "tokens") of each piece,
            columns in the VQ-VAE's ``code_layout`` order.
        tempo (`float`): tempo written to the MIDI files (quarter notes per minute).
        critic_scores (`list[dict[str, float]]`): the music critic's reading of each piece (valence,
            arousal, probability of the target category, projected intensity), empty without a critic.
        key_names (`list[str]`): the key each piece was steered to (e.g. ``"A minor"``), empty without key guidance.
    """

    sequences: list[EventSequence]
    codes: torch.Tensor
    tempo: float
    critic_scores: list[dict[str, float]]
    key_names: list[str] = field(default_factory=list)

    def save(self, path: str | os.PathLike[str], index: int = 0) -> Path:
        """Write piece ``index`` atomically: ``.mid``/``.midi`` as MIDI, ``.wav`` as rendered piano audio."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in (".mid", ".midi"):
            with atomic_output(target) as tmp:
                events_to_midi(self.sequences[index], tmp, tempo=self.tempo)
        elif suffix == ".wav":
            from emogen.music.synth import render_wav

            with atomic_output(target) as tmp:
                render_wav(self.sequences[index], tmp, tempo=self.tempo)
        else:
            msg = f"output {str(target)!r}: music is written as .mid/.midi or .wav; change the suffix"
            raise InputError(msg)
        return target


def _uniform(shape: tuple[int, ...], generator: torch.Generator | list[torch.Generator] | None) -> torch.Tensor:
    """Uniform draws on the CPU, one generator per row when a list is given."""
    if isinstance(generator, list):
        return torch.stack([torch.rand(shape[1:], generator=g) for g in generator])
    return torch.rand(shape, generator=generator)


class EmoMusicPipeline(EmogenPipeline):
    """Generate piano music in an emotion at an intensity, or change the emotion of chosen elements of a piece.

    Args:
        vqvae ([`~emogen.music.ElementVQVAE`]): bar VQ-VAE with one codebook per element.
        prior ([`~emogen.music.EmotionCodePrior`]): emotion-conditioned transformer over bar codes.
        emotion_bank ([`~emogen.emotion.EmotionBank`]): the shared emotion space.
        music_critic ([`~emogen.music.MusicEmotionEncoder`], *optional*): reranks candidates and scores outputs.
        key_guide ([`~emogen.music.key_guide.KeyCodeGuide`], *optional*): draws each piece's key for the emotion and
            steers the pitch codes to it.

    Example:
        >>> import torch
        >>> from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline
        >>> pipe = EmoMusicPipeline.from_shipped("music")  # doctest: +SKIP
        >>> out = pipe("happy:0.7", num_bars=16, generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
        >>> out.save("happy.mid")  # doctest: +SKIP
    """

    _optional_components = ["music_critic", "key_guide"]
    model_cpu_offload_seq = "prior->vqvae"

    def __init__(
        self,
        vqvae: ElementVQVAE,
        prior: EmotionCodePrior,
        emotion_bank: EmotionBank,
        music_critic: MusicEmotionEncoder | None = None,
        key_guide: KeyCodeGuide | None = None,
    ) -> None:
        super().__init__()
        self.register_modules(vqvae=vqvae, prior=prior, emotion_bank=emotion_bank, music_critic=music_critic, key_guide=key_guide)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def check_inputs(num_bars: int, batch_size: int, num_candidates: int, guidance_scale: float, temperature: float,
                     tempo: float | None, transfer_elements: list[str] | None, onset_sharpness: float = 1.0,
                     key_guidance: float = 0.0) -> None:
        """Validate the call arguments, raising :class:`~emogen.errors.InputError` with the fix."""
        if not isinstance(num_bars, int) or not 1 <= num_bars <= MAX_BARS:
            msg = f"bars must be an integer in [1, {MAX_BARS}], got {num_bars!r}"
            raise InputError(msg)
        if not isinstance(batch_size, int) or batch_size < 1:
            msg = f"batch_size must be a positive integer, got {batch_size!r}"
            raise InputError(msg)
        if not isinstance(num_candidates, int) or not 1 <= num_candidates <= 64:
            msg = f"candidates must be an integer in [1, 64], got {num_candidates!r}"
            raise InputError(msg)
        if not math.isfinite(guidance_scale) or not 0 <= guidance_scale <= 20:
            msg = f"guidance must be a number in [0, 20], got {guidance_scale!r}; 1 means no guidance"
            raise InputError(msg)
        if not math.isfinite(temperature) or not 0.05 <= temperature <= 3:
            msg = f"temperature must be in [0.05, 3], got {temperature!r}"
            raise InputError(msg)
        if not math.isfinite(onset_sharpness) or not 0.1 <= onset_sharpness <= 10:
            msg = f"onset_sharpness must be in [0.1, 10], got {onset_sharpness!r}"
            raise InputError(msg)
        if not math.isfinite(key_guidance) or not 0 <= key_guidance <= 10:
            msg = f"key guidance must be a number in [0, 10], got {key_guidance!r}; 0 turns it off"
            raise InputError(msg)
        if tempo is not None and (not math.isfinite(tempo) or not 20 <= tempo <= 300):
            msg = f"tempo must be between 20 and 300 quarter notes per minute, got {tempo!r}"
            raise InputError(msg)
        for name in transfer_elements or []:
            if name not in ELEMENTS:
                msg = f"element {name!r} is not one of {', '.join(ELEMENTS)}; e.g. --elements pitch,velocity"
                raise InputError(msg)

    def encode_reference(self, reference: EventSequence | BarGrid) -> torch.Tensor:
        """Element codes `(bars, C)` of a piece, in the VQ-VAE's ``code_layout`` order (for element transfer)."""
        grid = reference if isinstance(reference, BarGrid) else grid_from_events(reference)
        if grid.num_bars == 0 or not grid.onsets.any():
            msg = "the reference piece has no notes on the piano range (MIDI 21-108); give a piece with notes"
            raise InputError(msg)
        device = self._execution_device
        return self.vqvae.encode(*(x.to(device) for x in grid_tensors(grid)))

    def _sample_code(self, logits: torch.Tensor, temperature: float, top_k: int, generator) -> torch.Tensor:
        logits = logits.float().cpu() / temperature
        if 0 < top_k < logits.shape[-1]:
            kth = logits.topk(top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        u = _uniform(tuple(logits.shape), generator).clamp(1e-9, 1 - 1e-9)
        return (logits - torch.log(-torch.log(u))).argmax(-1)

    def _critic_scores(self, grids: list[BarGrid], condition: EmotionCondition, spec: EmotionSpec,
                       realism_weight: float = DEFAULT_REALISM_WEIGHT) -> tuple[list[dict[str, float]], torch.Tensor]:
        """Critic readings per piece and a rerank score: minus the squared distance of the critic's valence/arousal to
        the reading the request should have (:meth:`~emogen.music.critic.MusicEmotionEncoder.reading_target`), plus
        ``realism_weight`` times the critic's realism log-odds when it has a realism head; a piece the critic reads
        as out of its domain ranks below every piece it can read."""
        if self.music_critic is None:
            return [{} for _ in grids], torch.zeros(len(grids))
        device = self._execution_device
        o, d, v, m = (x.to(device) for x in stack_grids(grids))
        output = self.music_critic(o, d, v, m)
        emb = output.embedding
        bank = self.emotion_bank
        categories = list(self.music_critic.config.categories)
        probs = self.music_critic.posterior(emb, bank)  # calibrated
        vad = bank.anchor_mix(probs, categories)  # the critic learned quadrants, not VAD: the anchors weighted by its posterior
        placed = bank.embed_probabilities(probs, categories)  # graded as the critic's readings are (MusicEmotionEncoder.place)
        target = spec.dominant if spec.kind == "categorical" else None
        scores = []
        for i in range(len(grids)):
            s = {"valence": float(vad[i, 0]), "arousal": float(vad[i, 1])}
            if output.realism is not None:
                s["realism"] = float(torch.sigmoid(output.realism[i]))  # the critic's probability that it is real music
            for name, p in zip(categories, probs[i].tolist()):
                s[f"p_{name}"] = p
            if target and target != "neutral":
                s["intensity"] = float(bank.project_intensity(placed[i : i + 1], spec)[0])
            scores.append(s)
        target = self.music_critic.reading_target(spec, condition.vad[0, :2], bank).to(vad.device)
        rank = -((vad[:, :2] - target) ** 2).sum(-1)
        if output.realism is not None and realism_weight:
            rank = rank + float(realism_weight) * output.realism.to(rank.device).float()
        if output.in_domain is not None:
            rank = torch.where(output.in_domain.to(rank.device), rank, rank - 100.0)  # VA distances are at most 8
        return scores, rank.cpu()

    # -------------------------------------------------------------------- call
    @torch.no_grad()
    def __call__(
        self,
        emotion: str | EmotionSpec = "happy:0.7",
        num_bars: int = 16,
        batch_size: int = 1,
        num_candidates: int = DEFAULT_NUM_CANDIDATES,
        guidance_scale: float = DEFAULT_GUIDANCE,
        temperature: float = 1.0,
        top_k: int | None = None,
        onset_sharpness: float = 1.5,
        intensity_guidance: float = 1.0,
        realism_weight: float = DEFAULT_REALISM_WEIGHT,
        register_margin: float | None = DEFAULT_REGISTER_MARGIN,
        key_guidance: float = DEFAULT_KEY_GUIDANCE,
        key: str | None = None,
        tempo: float | None = None,
        reference: EventSequence | BarGrid | None = None,
        transfer_elements: list[str] | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        return_dict: bool = True,
    ) -> MusicPipelineOutput | tuple:
        """Generate ``batch_size`` pieces of ``num_bars`` bars in ``emotion``.

        Args:
            emotion (`str` or `EmotionSpec`, *optional*, defaults to ``"happy:0.7"``): e.g. ``"sad:0.8"``,
                ``"happy:0.6+surprised:0.3"`` or ``"va:0.5,-0.2"``; intensity 0 is EMOPIA's average music.
            num_bars (`int`, *optional*, defaults to 16): bars of 16 sixteenths (2 s each at 120 bpm).
            batch_size (`int`, *optional*, defaults to 1): pieces to return.
            num_candidates (`int`, *optional*, defaults to 4): candidates per piece; the critic keeps the one whose
                reading is closest to the request (1 = no reranking, about 30 % faster).
            guidance_scale (`float`, *optional*, defaults to 1.5): weight of the step from neutral music to the
                emotion at intensity 1, on each code's log-probabilities: ``log p = log p(neutral) + g * a**p *
                (log p(emotion) - log p(neutral))`` for intensity ``a`` (1 = the prior's own music for the emotion,
                larger values exaggerate it, 0 = neutral music whatever the emotion).
            temperature (`float`, *optional*, defaults to 1.0): sampling temperature of codes and notes.
            top_k (`int`, *optional*): keep the k likeliest codes of each pitch column (0 = all; the other elements'
                codes are always drawn from their full distribution, see ``TOP_K_ELEMENTS``). Defaults to all codes
                when the key guide steers the pitch codes, else to the 20 likeliest.
            onset_sharpness (`float`, *optional*, defaults to 1.5): how strongly each bar's notes go to the
                decoder's likeliest cells (1 = plain sampling; the number of notes is unchanged).
            intensity_guidance (`float`, *optional*, defaults to 1.0): the power ``p`` above: 1 = the weight grows
                linearly with the intensity; larger values hold low intensities closer to neutral music.
            realism_weight (`float`, *optional*, defaults to 0.05): weight of the critic's realism head in the rerank
                (its log-odds that a candidate is real music, beside the squared distance of the reading to its target;
                0 = the reading alone; no effect without a realism head or with one candidate).
            register_margin (`float`, *optional*, defaults to 9): notes more than this many semitones beyond the
                piece's 5th-95th pitch percentile are moved by whole octaves into its register, before the critic
                reads the candidates (``None`` = off; with a reference, only when the pitch is regenerated).
            key_guidance (`float`, *optional*, defaults to 1.0): weight of the key guide's log-ratios on the pitch
                codes (0 = off; no effect without a ``key_guide``).
            key (`str`, *optional*): the key to write in, e.g. ``"A minor"`` or ``"F#"``; by default each piece's key
                is drawn for the emotion (a uniform tonic, minor as often as in the emotion's quadrant of EMOPIA, or
                with a reference, the reference's tonic). Needs a ``key_guide``.
            tempo (`float`, *optional*): tempo of the written MIDI; defaults to the data's 120 bpm (or the
                reference's tempo).
            reference (`EventSequence` or `BarGrid`, *optional*): a piece whose elements are kept except
                ``transfer_elements`` (element transfer); ``num_bars`` then follows the reference.
            transfer_elements (`list[str]`, *optional*): elements to regenerate for the new emotion, from
                ``rhythm``, ``pitch``, ``duration``, ``velocity`` (default with a reference: pitch, velocity).
            generator (`torch.Generator` or `list[torch.Generator]`, *optional*): randomness; a list needs one
                generator per piece.
            return_dict (`bool`, *optional*, defaults to `True`): return a :class:`MusicPipelineOutput`.
        """
        # 1. resolve the emotion and check inputs
        spec = EmotionSpec.parse(emotion)
        if reference is not None:
            transfer_elements = list(transfer_elements or ["pitch", "velocity"])
            ref_grid = reference if isinstance(reference, BarGrid) else grid_from_events(reference)
            num_bars = min(max(ref_grid.num_bars, 1), MAX_BARS)
        self.check_inputs(num_bars, batch_size, num_candidates, guidance_scale, temperature, tempo, transfer_elements, onset_sharpness,
                          key_guidance)
        if not math.isfinite(realism_weight) or realism_weight < 0:
            raise InputError(f"realism weight must be a finite number >= 0, got {realism_weight!r}")
        if register_margin is not None and (not math.isfinite(register_margin) or register_margin < 0):
            raise InputError(f"register margin must be a number of semitones >= 0, got {register_margin!r}; None turns it off")
        fixed_key = None
        if key is not None:
            if self.key_guide is None:
                raise InputError("this music checkpoint has no key guide, so it cannot write in a chosen key; leave out the key")
            if key_guidance == 0:
                raise InputError(f"key {key!r} is written through the key guide, which key guidance 0 turns off; raise the key guidance")
            try:
                fixed_key = parse_key(key)
            except ValueError as err:
                raise InputError(str(err)) from None
        # 2. call parameters
        generator = make_generators(generator, batch_size)
        if isinstance(generator, list):  # one generator per piece drives all its candidates
            generator = [g for g in generator for _ in range(num_candidates)]
        device = self._execution_device
        total = batch_size * num_candidates
        # 3. encode the emotion (and the reference's codes): intensity weighs the step from neutral music to the
        # emotion's full-intensity music in log-probability, so it acts evenly (the prior learned intensity 1 only)
        condition = self.encode_emotion(spec, batch_size=total)
        neutral = self.encode_emotion("neutral", batch_size=total)
        full = condition.at_full_intensity(neutral)
        ramp = condition.intensity.float().cpu().clamp(0, 1)[:, None] ** float(intensity_guidance)
        guidance = CompositionalGuidance([float(guidance_scale) * ramp])  # on the log-probabilities of each code
        passes = guidance.num_passes
        stacked = EmotionCondition.cat([full if guidance.present(0, level) else neutral for level in guidance.levels])
        emb, mask = stacked.embedding, stacked.mask
        forced = None
        if reference is not None:
            forced = self.encode_reference(ref_grid)[:num_bars]
            keep = [i for i, (e, _) in enumerate(self.vqvae.code_layout) if e not in transfer_elements]
        keys = self._piece_keys(condition, generator, fixed_key, ref_grid if reference is not None else None, key_guidance, total)
        if top_k is None:
            top_k = DEFAULT_TOP_K_WITH_KEY if keys is not None else DEFAULT_TOP_K
        # each guided column's weighted log-ratios for the pieces' keys: the same in every bar
        key_bonus = {} if keys is None else {e: key_guidance * self.key_guide.bonus(e, keys).to(device)
                                             for e in range(len(self.vqvae.code_layout)) if self.key_guide.guides(e)}
        # 4. prepare the code buffer; 5. the sampling loop over bars (the prior's steps)
        window = self.prior.config.max_bars
        columns = len(self.vqvae.code_layout)
        column_top_k = [top_k if element in TOP_K_ELEMENTS else 0 for element, _ in self.vqvae.code_layout]
        codes = torch.zeros(total, 0, columns, dtype=torch.long, device=device)
        for bar in self.progress_bar(range(num_bars)):
            context = codes[:, -window:] if codes.shape[1] else codes
            ctx = torch.cat([context] * passes) if passes > 1 else context
            state = self.prior.hidden(ctx, emb, mask)[:, -1]
            chosen: list[torch.Tensor] = []
            chosen_passes: list[torch.Tensor] = []  # the same codes repeated for every guidance pass
            cache: dict = {}  # the in-bar transformer's keys and values of this bar's columns so far
            for e in range(columns):
                if forced is not None and e in keep:
                    code = forced[bar, e].expand(total)
                else:
                    logits = self.prior.element_logits(state, chosen_passes, e, history=ctx, cache=cache)
                    if guidance.do_guidance:
                        logits = guidance.combine_stacked(logits.float().log_softmax(-1))
                    if e in key_bonus:
                        logits = logits.float() + key_bonus[e]
                    code = self._sample_code(logits, temperature, column_top_k[e], generator).to(device)
                chosen.append(code)
                chosen_passes.append(torch.cat([code] * passes) if passes > 1 else code)
            codes = torch.cat([codes, torch.stack(chosen, -1)[:, None]], dim=1)
        # 6. decode all bars in parallel
        if isinstance(generator, list):
            onsets, durations, velocities = self._sample_bars_per_piece(codes, generator, temperature, onset_sharpness)
        else:
            onsets, durations, velocities = self.vqvae.sample_bars(codes.flatten(0, 1), generator, temperature, onset_sharpness)
        shape = (total, num_bars, *onsets.shape[1:])
        out_tempo = float(tempo) if tempo is not None else (float(ref_grid.tempo) if reference is not None else 120.0)
        grids = [BarGrid(onsets.view(shape)[i].cpu().numpy(), durations.view(shape)[i].cpu().numpy().astype(np.int8),
                         velocities.view(shape)[i].cpu().numpy().astype(np.int8), out_tempo) for i in range(total)]
        if register_margin is not None and (reference is None or "pitch" in transfer_elements):
            grids = [fold_into_register(g, register_margin) for g in grids]
        # 7. critic: score every candidate, keep the best per piece
        scores, rank = self._critic_scores(grids, condition, spec, realism_weight)
        best = rank.view(batch_size, num_candidates).argmax(-1) + torch.arange(batch_size) * num_candidates
        best = best.tolist()
        sequences = [events_from_grid(grids[i]) for i in best]
        # 8. offload and return
        self.maybe_free_model_hooks()
        out_codes = codes[best].cpu()
        out_scores = [scores[i] for i in best]
        out_keys = [format_key(keys[i]) for i in best] if keys is not None else []
        if not return_dict:
            return (sequences, out_codes, out_tempo, out_scores, out_keys)
        return MusicPipelineOutput(sequences=sequences, codes=out_codes, tempo=out_tempo, critic_scores=out_scores, key_names=out_keys)

    def _piece_keys(self, condition: EmotionCondition, generator, fixed_key: int | None, reference: BarGrid | None,
                    key_guidance: float, total: int) -> torch.Tensor | None:
        """`(total,)` key of each piece (``None`` without key guidance): ``fixed_key``, or drawn for the emotion by the
        key guide (with a ``reference``, on the reference's tonic)."""
        if self.key_guide is None or key_guidance == 0:
            return None
        if fixed_key is not None:
            return torch.full((total,), fixed_key, dtype=torch.long)
        vad = condition.vad.float().cpu()
        keys = self.key_guide.draw_keys(vad[:, 0], vad[:, 1], condition.intensity, generator)
        if reference is not None:
            keys = 12 * (keys // 12) + grid_key(reference) % 12
        return keys

    def _sample_bars_per_piece(self, codes: torch.Tensor, generators: list[torch.Generator], temperature: float, sharpness: float):
        """Decode each piece's bars with its own generator (when a list of generators is given)."""
        parts = [self.vqvae.sample_bars(codes[i], g, temperature, sharpness) for i, g in enumerate(generators)]
        return tuple(torch.cat([p[k] for p in parts]) for k in range(3))
