"""`DDIMScheduler`: diffusers' DDIM sampler (Song et al., 2021) with the same config, files and results,
without importing diffusers (whose import alone costs more than a whole voice conversion; see
:mod:`emogen.modeling`).

It reads and writes ``scheduler_config.json`` as diffusers' ``DDIMScheduler`` does and follows its
``set_timesteps`` / ``scale_model_input`` / ``step`` / ``add_noise`` interface, so a pipeline can swap it for
any diffusers scheduler (``EmoVoicePipeline.from_pretrained(path, scheduler=DPMSolverMultistepScheduler...)``).
``tests/test_schedulers.py`` checks it step by step against diffusers' own class.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .modeling import BaseOutput, ConfigMixin, register_to_config

if TYPE_CHECKING:
    import torch

__all__ = ["DDIMScheduler", "DDIMSchedulerOutput"]


@dataclass
class DDIMSchedulerOutput(BaseOutput):
    """Output of :meth:`DDIMScheduler.step`.

    Args:
        prev_sample (`torch.Tensor`): the sample at the previous (less noisy) timestep.
        pred_original_sample (`torch.Tensor`): the model's estimate of the clean sample.
    """

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


def _cosine_betas(num_train_timesteps: int, max_beta: float = 0.999) -> list[float]:
    """The Glide cosine schedule (``squaredcos_cap_v2``), as diffusers' ``betas_for_alpha_bar``."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    return [min(1 - alpha_bar((i + 1) / num_train_timesteps) / alpha_bar(i / num_train_timesteps), max_beta)
            for i in range(num_train_timesteps)]


def _rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Rescale betas to zero terminal SNR (Lin et al., 2023, algorithm 1)."""
    import torch

    alphas_bar_sqrt = torch.cumprod(1.0 - betas, dim=0).sqrt()
    first, last = alphas_bar_sqrt[0].clone(), alphas_bar_sqrt[-1].clone()
    alphas_bar_sqrt = (alphas_bar_sqrt - last) * first / (first - last)
    alphas_bar = alphas_bar_sqrt**2
    alphas = torch.cat([alphas_bar[0:1], alphas_bar[1:] / alphas_bar[:-1]])
    return 1 - alphas


class DDIMScheduler(ConfigMixin):
    """Denoising diffusion implicit models sampler, configured exactly like diffusers' ``DDIMScheduler``.

    Args:
        num_train_timesteps (`int`, defaults to 1000): diffusion steps the model was trained with.
        beta_start (`float`, defaults to 0.0001), beta_end (`float`, defaults to 0.02): ends of the linear schedules.
        beta_schedule (`str`, defaults to ``"linear"``): ``linear``, ``scaled_linear`` or ``squaredcos_cap_v2``.
        trained_betas (`list[float]`, *optional*): explicit betas instead of a schedule.
        clip_sample (`bool`, defaults to `True`): clip the predicted clean sample to ``clip_sample_range``.
        set_alpha_to_one (`bool`, defaults to `True`): use alpha 1 after the last step.
        steps_offset (`int`, defaults to 0): added to every timestep with ``leading`` spacing.
        prediction_type (`str`, defaults to ``"epsilon"``): what the model predicts: ``epsilon``, ``sample`` or
            ``v_prediction``.
        thresholding (`bool`, defaults to `False`): dynamic thresholding (not supported here: use diffusers').
        dynamic_thresholding_ratio, sample_max_value: kept for config compatibility.
        clip_sample_range (`float`, defaults to 1.0): clipping range.
        timestep_spacing (`str`, defaults to ``"leading"``): ``leading``, ``trailing`` or ``linspace``.
        rescale_betas_zero_snr (`bool`, defaults to `False`): rescale to zero terminal SNR.

    Example:
        >>> scheduler = DDIMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
        >>> scheduler.set_timesteps(10)
        >>> scheduler.timesteps.tolist()[:3]
        [900, 800, 700]
    """

    config_name = "scheduler_config.json"

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_start: float = 0.0001,
        beta_end: float = 0.02,
        beta_schedule: str = "linear",
        trained_betas: list[float] | None = None,
        clip_sample: bool = True,
        set_alpha_to_one: bool = True,
        steps_offset: int = 0,
        prediction_type: Literal["epsilon", "sample", "v_prediction"] = "epsilon",
        thresholding: bool = False,
        dynamic_thresholding_ratio: float = 0.995,
        clip_sample_range: float = 1.0,
        sample_max_value: float = 1.0,
        timestep_spacing: Literal["leading", "trailing", "linspace"] = "leading",
        rescale_betas_zero_snr: bool = False,
    ) -> None:
        import torch

        if thresholding:
            msg = "emogen's DDIMScheduler does not implement dynamic thresholding; pass diffusers.DDIMScheduler as scheduler="
            raise NotImplementedError(msg)
        if prediction_type not in ("epsilon", "sample", "v_prediction"):
            msg = f"prediction_type must be epsilon, sample or v_prediction, got {prediction_type!r}"
            raise ValueError(msg)
        if trained_betas is not None:
            betas = torch.tensor(list(trained_betas), dtype=torch.float32)
        elif beta_schedule == "linear":
            betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
        elif beta_schedule == "scaled_linear":
            betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2
        elif beta_schedule == "squaredcos_cap_v2":
            betas = torch.tensor(_cosine_betas(num_train_timesteps), dtype=torch.float32)
        else:
            msg = f"beta_schedule {beta_schedule!r} is not one of linear, scaled_linear, squaredcos_cap_v2"
            raise ValueError(msg)
        if rescale_betas_zero_snr:
            betas = _rescale_zero_terminal_snr(betas)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.final_alpha_cumprod = torch.tensor(1.0) if set_alpha_to_one else self.alphas_cumprod[0]
        self.init_noise_sigma = 1.0
        self.num_inference_steps: int | None = None
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)

    # ------------------------------------------------------------------ save / load
    def save_pretrained(self, save_directory: str | os.PathLike[str]) -> None:
        """Write ``scheduler_config.json`` into ``save_directory``."""
        self.save_config(save_directory)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], subfolder: str | None = None, **overrides: Any) -> DDIMScheduler:
        """Read ``scheduler_config.json`` from a local folder (``subfolder`` inside it when given)."""
        return cls.from_config(cls.load_config(Path(pretrained_model_name_or_path), subfolder), **overrides)

    # ------------------------------------------------------------------ sampling
    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        """Choose the ``num_inference_steps`` timesteps of the sampling chain (largest first)."""
        import numpy as np
        import torch

        total = self.config.num_train_timesteps
        if not 1 <= num_inference_steps <= total:
            msg = f"num_inference_steps must be in [1, {total}], got {num_inference_steps}"
            raise ValueError(msg)
        self.num_inference_steps = num_inference_steps
        spacing = self.config.timestep_spacing
        if spacing == "linspace":
            steps = np.linspace(0, total - 1, num_inference_steps).round()[::-1].copy().astype(np.int64)
        elif spacing == "leading":
            ratio = total // num_inference_steps
            steps = (np.arange(0, num_inference_steps) * ratio).round()[::-1].copy().astype(np.int64)
            steps += self.config.steps_offset
        elif spacing == "trailing":
            steps = np.round(np.arange(total, 0, -total / num_inference_steps)).astype(np.int64) - 1
        else:
            msg = f"timestep_spacing {spacing!r} is not one of leading, trailing, linspace"
            raise ValueError(msg)
        self.timesteps = torch.from_numpy(steps).to(device)

    def scale_model_input(self, sample: torch.Tensor, timestep: int | None = None) -> torch.Tensor:
        """DDIM needs no input scaling: returns ``sample``."""
        return sample

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int | torch.Tensor,
        sample: torch.Tensor,
        eta: float = 0.0,
        use_clipped_model_output: bool = False,
        generator: torch.Generator | None = None,
        variance_noise: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> DDIMSchedulerOutput | tuple[torch.Tensor, torch.Tensor]:
        """One DDIM update from ``timestep`` to the previous timestep (formula 12 of the DDIM paper)."""
        if self.num_inference_steps is None:
            msg = "call set_timesteps(num_inference_steps) before step()"
            raise ValueError(msg)
        t = int(timestep)
        prev_t = t - self.config.num_train_timesteps // self.num_inference_steps
        alpha_t = self.alphas_cumprod[t]
        alpha_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        beta_t = 1 - alpha_t
        kind = self.config.prediction_type
        if kind == "epsilon":
            x0 = (sample - beta_t**0.5 * model_output) / alpha_t**0.5
            eps = model_output
        elif kind == "sample":
            x0 = model_output
            eps = (sample - alpha_t**0.5 * x0) / beta_t**0.5
        else:  # v_prediction
            x0 = alpha_t**0.5 * sample - beta_t**0.5 * model_output
            eps = alpha_t**0.5 * model_output + beta_t**0.5 * sample
        if self.config.clip_sample:
            x0 = x0.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)
        variance = ((1 - alpha_prev) / beta_t) * (1 - alpha_t / alpha_prev)
        std = eta * variance**0.5
        if use_clipped_model_output:
            eps = (sample - alpha_t**0.5 * x0) / beta_t**0.5
        prev = alpha_prev**0.5 * x0 + (1 - alpha_prev - std**2) ** 0.5 * eps
        if eta > 0:
            if variance_noise is not None and generator is not None:
                msg = "pass either generator or variance_noise to step(), not both"
                raise ValueError(msg)
            if variance_noise is None:
                from .utils.torch_utils import randn_tensor

                variance_noise = randn_tensor(model_output.shape, generator=generator, device=model_output.device, dtype=model_output.dtype)
            prev = prev + std * variance_noise
        if not return_dict:
            return (prev, x0)
        return DDIMSchedulerOutput(prev_sample=prev, pred_original_sample=x0)

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """Forward diffusion: ``sqrt(a_t) x0 + sqrt(1 - a_t) noise`` for each sample's timestep."""
        alphas = self.alphas_cumprod.to(device=original_samples.device, dtype=original_samples.dtype)[timesteps.to(original_samples.device)]
        shape = (-1,) + (1,) * (original_samples.dim() - 1)
        return alphas.sqrt().reshape(shape) * original_samples + (1 - alphas).sqrt().reshape(shape) * noise

    def __len__(self) -> int:
        return self.config.num_train_timesteps
