"""`EmoVoicePipeline`: emotional voice conversion with a continuous intensity knob.

WORLD analysis of the source (log-F0, energy, mel-cepstrum, aperiodicity) -> a conditional 1-D diffusion
denoiser predicts the change of log-F0, energy and low-order mel-cepstrum toward the target emotion,
conditioned on the target emotion at intensity 1 (the end of the bank's direction from neutral); the
asked intensity scales that change (``angry:0.5`` makes half of ``angry:1``'s change of the F0 level, the
energy and the envelope, and moves the F0 range half-way, so intensity steps are even) -> speaking-rate change by time-scaling the WORLD frames -> WORLD resynthesis, which keeps the
speaker's own spectral identity. Above 16 kHz the envelope and aperiodicity are analysed again at the
input's rate and the model's change is carried over to them (:mod:`emogen.voice.fullband`), so a 44.1 or
48 kHz recording keeps its band above 8 kHz. Long recordings are processed in chunks cut at pauses. The speech
emotion encoder (``speech_critic``) scores what was generated.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emogen.emotion import EmotionBank, EmotionCondition, EmotionSpec
from emogen.errors import InputError
from emogen.modules.guidance import CompositionalGuidance
from emogen.pipeline_utils import EmogenPipeline, EmogenPipelineOutput
from emogen.schedulers import DDIMScheduler
from emogen.utils import atomic_output, make_generators, randn_tensor
from emogen.voice.audio import MODEL_SAMPLE_RATE, check_audio, resample, save_audio, split_at_pauses, to_mono, trim_silence
from emogen.voice.denoiser import POOL, VoiceConversionDenoiser, condition_features
from emogen.voice.encoder import SpeechEmotionEncoder
from emogen.voice.fullband import analyze_full_band, envelope_log_gain, extend_log_gain, synthesize_full_band
from emogen.voice.recognize import embed_audio
from emogen.voice.world import analyze, continuous_log_f0, decode_envelope, scale_log_f0_change, synthesize

__all__ = ["EmoVoicePipeline", "VoicePipelineOutput"]

#: Longest span converted in one go (seconds); longer input is cut at pauses.
CHUNK_SECONDS = 20.0


@dataclass
class VoicePipelineOutput(EmogenPipelineOutput):
    """Output of :class:`EmoVoicePipeline`.

    Args:
        audios (`list[np.ndarray]`): converted mono float32 signals, one per input, at ``sample_rate``.
        sample_rate (`int`): sample rate of the outputs (the input's rate unless another was asked for).
        critic_scores (`list[dict[str, float]]`): per output, the speech critic's probability of the
            target's dominant category (over the critic's own categories, when it is one of them) and the
            intensity it projects along the target direction.
    """

    audios: list[np.ndarray]
    sample_rate: int
    critic_scores: list[dict[str, float]]

    def save(self, path: str | os.PathLike[str], index: int = 0) -> Path:
        """Write output ``index`` to ``path`` atomically (format from the suffix: wav, flac, ogg)."""
        with atomic_output(path) as tmp:
            save_audio(tmp, self.audios[index], self.sample_rate)
        return Path(path)


class EmoVoicePipeline(EmogenPipeline):
    """Convert speech to an emotion at an intensity, keeping the speaker and the words.

    Args:
        denoiser ([`~emogen.voice.VoiceConversionDenoiser`]): the conditional feature-delta denoiser.
        scheduler ([`~emogen.schedulers.DDIMScheduler`]): the sampler (emogen's DDIM by default; any diffusers
            scheduler with the same interface works).
        emotion_bank ([`~emogen.emotion.EmotionBank`]): the shared emotion space.
        speech_critic ([`~emogen.voice.SpeechEmotionEncoder`], *optional*): speech emotion encoder that
            scores the outputs.

    Example:
        >>> import torch
        >>> from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline
        >>> pipe = EmoVoicePipeline.from_shipped("voice")  # doctest: +SKIP
        >>> out = pipe(audio, 16000, emotion="angry:0.8", generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
        >>> out.save("angry.wav")  # doctest: +SKIP
    """

    _optional_components = ["speech_critic"]
    model_cpu_offload_seq = "denoiser"

    def __init__(
        self,
        denoiser: VoiceConversionDenoiser,
        scheduler: DDIMScheduler,
        emotion_bank: EmotionBank,
        speech_critic: SpeechEmotionEncoder | None = None,
    ) -> None:
        super().__init__()
        self.register_modules(denoiser=denoiser, scheduler=scheduler, emotion_bank=emotion_bank, speech_critic=speech_critic)

    # ------------------------------------------------------------------ helpers
    def check_inputs(self, audios: list[np.ndarray], sample_rate: int, num_inference_steps: int, guidance_scale: float, rate: float | None) -> list[np.ndarray]:
        """Validate the call arguments; returns the audios as float32 arrays."""
        if not isinstance(num_inference_steps, int) or not 1 <= num_inference_steps <= self.scheduler.config.num_train_timesteps:
            msg = f"num_inference_steps must be an integer in [1, {self.scheduler.config.num_train_timesteps}], got {num_inference_steps!r}"
            raise InputError(msg)
        if not math.isfinite(guidance_scale) or guidance_scale < 0:
            msg = f"guidance_scale must be a finite number >= 0, got {guidance_scale!r}; 1 means no guidance"
            raise InputError(msg)
        if rate is not None and not (0.25 <= rate <= 4.0):
            msg = f"rate {rate!r} is outside [0.25, 4]; it multiplies the duration (1.2 = 20% slower)"
            raise InputError(msg)
        return [check_audio(a, sample_rate, name=f"audio {n}") for n, a in enumerate(audios)]

    def _sample_deltas(self, cond: torch.Tensor, emotion, num_inference_steps: int, guidance_scale: float, temperature: float, generator, progress) -> torch.Tensor:
        """The denoising loop for one chunk: returns de-normalised deltas `(1, out_channels, frames)`."""
        denoiser = self.denoiser
        device = self._execution_device
        guidance = CompositionalGuidance([guidance_scale])  # one condition: the emotion
        passes = guidance.num_passes
        # 4. timesteps
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        # 5. latents
        latents = randn_tensor((1, denoiser.out_channels, cond.shape[-1]), generator=generator, device=device, dtype=cond.dtype)
        latents = latents * self.scheduler.init_noise_sigma * temperature
        stacked = EmotionCondition.cat([emotion if guidance.present(0, level) else emotion.null_like() for level in guidance.levels])
        cond_in = cond.repeat(passes, 1, 1) if passes > 1 else cond
        # 6. denoising loop
        for t in self.scheduler.timesteps:
            model_in = self.scheduler.scale_model_input(torch.cat([latents] * passes) if passes > 1 else latents, t)
            pred = guidance.combine_stacked(denoiser(model_in, t, cond_in, stacked.embedding, stacked.mask).sample)
            latents = self.scheduler.step(pred, t, latents, generator=generator).prev_sample
            progress.update()
        return latents * denoiser.delta_std[None, :, None]

    def _convert_chunk(self, audio: np.ndarray, sample_rate: int, emotion, strength: float, log_rate: float, num_inference_steps: int, guidance_scale: float, temperature: float, generator, progress) -> np.ndarray:
        """Convert one mono chunk at ``sample_rate`` (16 kHz or more); returns the converted signal at that rate.

        Leading and trailing silence is kept as it is (the models saw speech with 0.2 s of context).
        """
        start, end = trim_silence(audio, sample_rate, pad_seconds=0.2)
        if end - start < int(0.1 * sample_rate):
            progress.update(num_inference_steps)
            return audio
        speech = self._convert_speech(audio[start:end], sample_rate, emotion, strength, log_rate, num_inference_steps, guidance_scale, temperature, generator, progress)
        return np.concatenate([audio[:start], speech, audio[end:]]).astype(np.float32)

    def _convert_speech(self, audio: np.ndarray, sample_rate: int, emotion, strength: float, log_rate: float, num_inference_steps: int, guidance_scale: float, temperature: float, generator, progress) -> np.ndarray:
        """WORLD analysis, denoising, feature edit, rate change and resynthesis of a stretch of speech.

        ``emotion`` is the target at intensity 1; the model's feature change is scaled by ``strength`` (the
        asked intensity; 0 leaves the features as they are and skips the denoiser).

        The model works on the 16 kHz analysis; above 16 kHz its change is carried over to a full-band
        analysis at ``sample_rate`` (same F0 and frames), which is what gets resynthesised.
        """
        audio16 = resample(audio, sample_rate, MODEL_SAMPLE_RATE)
        world = analyze(audio16, MODEL_SAMPLE_RATE)
        device = self._execution_device
        cond = torch.from_numpy(condition_features(world, self.denoiser.config.utterance_norm).T[None]).to(device)
        cond = self.denoiser.normalize_condition(cond)
        if strength > 0:
            deltas = self._sample_deltas(cond, emotion, num_inference_steps, guidance_scale, temperature, generator, progress)
            deltas = deltas[0].float().cpu().numpy().T  # (model frames, channels), the full change
        else:
            progress.update(num_inference_steps)
            deltas = np.zeros((cond.shape[-1], self.denoiser.out_channels))
        # model frames (20 ms) -> WORLD frames (5 ms) by linear interpolation
        pos = (np.arange(world.num_frames) + 0.5) / POOL - 0.5
        grid = np.arange(deltas.shape[0])
        up = np.stack([np.interp(pos, grid, deltas[:, c]) for c in range(deltas.shape[1])], axis=1)
        source_f0 = world.f0
        # the level and shape of F0 move by the intensity, its range evenly (see scale_log_f0_change)
        lf0 = scale_log_f0_change(continuous_log_f0(source_f0), up[:, 0], world.voiced, strength)
        f0 = np.where(world.voiced, np.exp(lf0), 0.0)
        envelope_change = strength * up[:, 1:]  # coded-envelope coefficients: they scale with the intensity
        factor = float(np.exp(log_rate))
        if sample_rate == MODEL_SAMPLE_RATE:
            k = self.denoiser.config.num_modified_mcep
            world.f0 = f0
            world.mcep = world.mcep.copy()
            world.mcep[:, :k] += envelope_change
            return _fit_length(synthesize(world.time_scale(factor)), round(len(audio) * factor))
        full = analyze_full_band(audio, sample_rate, source_f0, world.frame_period)
        gain16 = envelope_log_gain(envelope_change, MODEL_SAMPLE_RATE)
        gain = extend_log_gain(gain16, decode_envelope(world), MODEL_SAMPLE_RATE, sample_rate, full.sp.shape[1])
        full.sp = full.sp * np.exp(gain)
        full.f0 = f0
        return _fit_length(synthesize_full_band(full.time_scale(factor)), round(len(audio) * factor))

    # -------------------------------------------------------------------- call
    @torch.no_grad()
    def __call__(
        self,
        audio: np.ndarray | list[np.ndarray],
        sample_rate: int,
        emotion: str | EmotionSpec = "angry:0.8",
        num_inference_steps: int = 10,
        guidance_scale: float = 2.0,
        rate: float | None = None,
        temperature: float = 0.5,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_sample_rate: int | None = None,
        return_dict: bool = True,
    ) -> VoicePipelineOutput | tuple:
        """Convert speech to ``emotion``.

        Args:
            audio (`np.ndarray` or `list[np.ndarray]`): mono `(samples,)` or multichannel `(samples, channels)`
                float audio, or a list of such (one output each).
            sample_rate (`int`): sample rate of ``audio``. Up to 16 kHz the conversion runs at 16 kHz; above, it
                analyses and resynthesises at the input's rate, so the band above 8 kHz is kept.
            emotion (`str` or `EmotionSpec`, *optional*, defaults to ``"angry:0.8"``): target emotion and
                intensity, e.g. ``"sad:0.5"`` or ``"happy:0.6+surprised:0.3"``.
            num_inference_steps (`int`, *optional*, defaults to 10): denoising steps.
            guidance_scale (`float`, *optional*, defaults to 2.0): classifier-free guidance on the emotion
                (2.0 and temperature 0.5 were chosen on the validation actors 17-18).
            rate (`float`, *optional*): duration factor (1.2 = 20% slower); default from the emotion.
            temperature (`float`, *optional*, defaults to 0.5): scale of the initial noise; below 1 gives
                more typical, less varied prosody (0 is the deterministic DDIM path from the mean).
            generator (`torch.Generator` or `list[torch.Generator]`, *optional*): randomness, one per input.
            output_sample_rate (`int`, *optional*): sample rate of the outputs; defaults to ``sample_rate``. The
                conversion runs at the lower of the two (16 kHz at least), then resamples.
            return_dict (`bool`, *optional*, defaults to `True`): return a :class:`VoicePipelineOutput`.
        """
        # 1. resolve emotion and check inputs
        spec = EmotionSpec.parse(emotion)
        audios = audio if isinstance(audio, list) else [audio]
        audios = self.check_inputs(audios, sample_rate, num_inference_steps, guidance_scale, rate)
        if not 0.0 <= temperature <= 2.0:
            msg = f"temperature must be in [0, 2], got {temperature!r}"
            raise InputError(msg)
        if output_sample_rate is not None and (not isinstance(output_sample_rate, int) or not 8000 <= output_sample_rate <= 192000):
            msg = f"output_sample_rate must be an integer number of Hz in [8000, 192000], got {output_sample_rate!r}; omit it to keep the input's rate"
            raise InputError(msg)
        # 2. call parameters
        batch_size = len(audios)
        out_rate = output_sample_rate or sample_rate
        work_rate = max(MODEL_SAMPLE_RATE, min(sample_rate, out_rate))  # full band where both sides have it
        generator = make_generators(generator, batch_size)
        # 3. encode the emotion at intensity 1 (the end of its direction from neutral) and the asked intensity,
        # which scales the model's change (even steps: half the intensity, half the change of every feature,
        # and the F0 range half-way),
        # and the speaking rate (its log linear in the asked intensity)
        asked = self.encode_emotion(spec, batch_size=1)
        condition = asked.at_full_intensity(self.encode_emotion("neutral", batch_size=1))
        strength = float(asked.intensity[0])
        log_rate = math.log(rate) if rate is not None else float(self.denoiser.log_rate(asked.weights)[0])
        # 4-6. per input and chunk: WORLD analysis, timesteps, latents, denoising loop, resynthesis
        monos = [resample(to_mono(a), sample_rate, work_rate) for a in audios]
        spans = [split_at_pauses(a, work_rate, CHUNK_SECONDS) for a in monos]
        outputs = []
        with self.progress_bar(total=num_inference_steps * sum(len(s) for s in spans)) as progress:
            for n, (signal, chunks) in enumerate(zip(monos, spans)):
                gen = generator[n] if isinstance(generator, list) else generator
                pieces = [
                    self._convert_chunk(signal[a:b], work_rate, condition, strength, log_rate, num_inference_steps, guidance_scale, temperature, gen, progress)
                    for a, b in chunks
                ]
                outputs.append(np.concatenate(pieces))
        # 7. post-process: to the output rate, no clipping
        results, scores = [], []
        for converted in outputs:
            peak = float(np.max(np.abs(converted))) if converted.size else 0.0
            if peak > 0.99:
                converted = converted * (0.99 / peak)
            scores.append(self._critic_scores(resample(converted, work_rate, MODEL_SAMPLE_RATE), spec))
            results.append(resample(converted, work_rate, out_rate).astype(np.float32))
        # 8. offload and return
        self.maybe_free_model_hooks()
        if not return_dict:
            return (results, out_rate, scores)
        return VoicePipelineOutput(audios=results, sample_rate=out_rate, critic_scores=scores)

    def _critic_scores(self, audio16: np.ndarray, spec: EmotionSpec) -> dict[str, float]:
        """The speech critic's view of a converted 16 kHz signal (empty without a critic)."""
        if self.speech_critic is None or spec.kind != "categorical":
            return {}
        embedding = embed_audio(self.speech_critic, audio16[: int(CHUNK_SECONDS * MODEL_SAMPLE_RATE)], MODEL_SAMPLE_RATE)
        target = spec.dominant or "neutral"
        categories = list(self.speech_critic.config.categories)
        scores = {}
        if target in categories:  # the critic reads out only the categories it was trained on
            probs = self.speech_critic.posterior(embedding, self.emotion_bank)[0]  # calibrated on validation speakers
            scores[f"p_{target}"] = float(probs[categories.index(target)])
        if spec.total_intensity > 0 and target != "neutral":
            scores["intensity"] = float(self.emotion_bank.project_intensity(embedding, spec)[0])
        return scores


def _fit_length(signal: np.ndarray, length: int) -> np.ndarray:
    """``signal`` cut or zero-padded to ``length`` samples (WORLD resynthesises whole 5 ms frames; the duration
    must be exactly the input's times the rate, so that ``rate=1`` keeps the timing sample for sample)."""
    if len(signal) >= length:
        return signal[:length]
    return np.concatenate([signal, np.zeros(length - len(signal), dtype=signal.dtype)])
