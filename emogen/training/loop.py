"""`fit()`: the one training loop every recipe runs (AdamW, OneCycle, clipping, EMA, checkpoints, resume).

A recipe states its data, model, loss and hyper-parameters as a ``step_fn(step, generator)`` that
returns a dict of tensors holding ``"loss"`` (any other 0-d entries are logged beside it), and a
:class:`FitConfig`. The loop owns everything else:

- AdamW over the trainable parameters, a OneCycle learning-rate schedule (or a constant rate),
  ``accelerator.backward``, optional gradient-norm clipping, optional EMA of the weights;
- seeding: one ``torch.Generator`` seeded with ``config.seed`` is handed to ``step_fn`` for every batch
  draw and every noise sample, and ``accelerate.utils.set_seed`` seeds the framework RNG once for layers
  that use it (dropout); the caller's global torch RNG state is restored when ``fit`` returns;
- a progress bar with the running loss (off on other processes and when ``EMOGEN_QUIET`` is set) and a
  log line every ``log_every`` steps with the window means of every scalar;
- validation every ``validate_every`` steps, keeping the best-scoring weights (higher is better);
- atomic checkpoints (``accelerator.save_state`` into a temporary folder, then a rename) every
  ``checkpoint_every`` steps and at the end, and ``resume=True`` to continue from the last one: the
  model, optimizer and schedule, the data generator, the EMA, the best weights, the history and any
  extra ``stateful`` objects come back, so an interrupted run ends with the same weights as an
  uninterrupted one; a finished run resumes as done.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["FitConfig", "FitResult", "GeneratorState", "Stateful", "fit", "latest_checkpoint", "seeded_init"]

logger = logging.getLogger(__name__)

#: Checkpoint folders are ``step-0001000``; a folder is only ever complete (written under a temporary name).
CHECKPOINT_PREFIX = "step-"
_TMP_PREFIX = ".tmp-"
#: The loop's own state inside a checkpoint folder, beside what ``accelerator.save_state`` writes.
LOOP_STATE_FILE = "fit_state.pt"


class Stateful(Protocol):
    """Anything with ``state_dict()`` / ``load_state_dict()`` that a checkpoint must carry (samplers, counters)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


class GeneratorState:
    """Adapts a ``torch.Generator`` (e.g. an :class:`~emogen.emotion.EmotionDropout`'s) to :class:`Stateful`."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def state_dict(self) -> dict[str, Any]:
        """The generator's state."""
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator's state."""
        self.generator.set_state(state["state"])


@dataclass
class FitConfig:
    """Hyper-parameters of one :func:`fit` run.

    Args:
        steps (`int`): optimisation steps.
        lr (`float`): AdamW learning rate (the OneCycle peak when ``pct_start`` is set).
        weight_decay (`float`, *optional*, defaults to 0.0): AdamW weight decay.
        max_grad_norm (`float`, *optional*): clip the gradient norm to this value; `None` = no clipping.
        pct_start (`float`, *optional*): OneCycle warm-up fraction; `None` = constant learning rate.
        ema_decay (`float`, *optional*): keep an exponential moving average of the weights with this
            decay and copy it into the model at the end (validation scores the EMA weights); `None` = off.
        log_every (`int`, *optional*, defaults to 100): steps between log lines (window means).
        checkpoint_every (`int`, *optional*): steps between checkpoints (when a checkpoint folder is
            given; the last step is always saved there).
        seed (`int`, *optional*, defaults to 0): seed of the data generator and of the framework RNG.
        desc (`str`, *optional*, defaults to ``"train"``): name in the progress bar and the logs.
    """

    steps: int
    lr: float
    weight_decay: float = 0.0
    max_grad_norm: float | None = None
    pct_start: float | None = None
    ema_decay: float | None = None
    log_every: int = 100
    checkpoint_every: int | None = None
    seed: int = 0
    desc: str = "train"

    def __post_init__(self) -> None:
        if self.steps < 1:
            msg = f"FitConfig.steps must be >= 1, got {self.steps}"
            raise ValueError(msg)
        if not self.lr > 0:
            msg = f"FitConfig.lr must be > 0, got {self.lr}"
            raise ValueError(msg)
        if self.pct_start is not None and not 0.0 < self.pct_start < 1.0:
            msg = f"FitConfig.pct_start must be in (0, 1) or None for a constant rate, got {self.pct_start}"
            raise ValueError(msg)
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            msg = f"FitConfig.ema_decay must be in (0, 1) or None, got {self.ema_decay}"
            raise ValueError(msg)
        for name in ("log_every", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                msg = f"FitConfig.{name} must be >= 1, got {value}"
                raise ValueError(msg)


@dataclass
class FitResult:
    """What a :func:`fit` run did.

    Args:
        steps (`int`): steps done (``config.steps``).
        best_score (`float`, *optional*): best validation score (`None` without ``validate``).
        best_step (`int`, *optional*): the step (1-based) whose weights were kept.
        history (`list[dict]`): one row per log point: ``step``, the window mean of every scalar output,
            ``lr`` and ``seconds`` of training since the start (earlier runs of a resumed one included).
        trace (`dict[str, list[float]]`): every scalar output at every step.
        validation (`list[tuple[int, float]]`): (step, score) of every validation.
        resumed_from (`int`, *optional*): the checkpoint step this run continued from.
        earlier_seconds (`float`): seconds of training the runs before a resume spent (0 without one).
    """

    steps: int
    best_score: float | None = None
    best_step: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    trace: dict[str, list[float]] = field(default_factory=dict)
    validation: list[tuple[int, float]] = field(default_factory=list)
    resumed_from: int | None = None
    earlier_seconds: float = 0.0


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build models inside this block for a seeded default initialisation without global side effects.

    The CPU RNG is forked: seeded for the block, restored afterwards, so layers keep their own
    initialisation schemes and nothing outside the block sees the seed.

    Example:
        >>> from torch import nn
        >>> with seeded_init(0):
        ...     a = nn.Linear(2, 2)
        >>> with seeded_init(0):
        ...     b = nn.Linear(2, 2)
        >>> bool((a.weight == b.weight).all())
        True
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def latest_checkpoint(checkpoint_dir: str | os.PathLike[str]) -> Path | None:
    """The most advanced complete checkpoint folder in ``checkpoint_dir`` (`None` when there is none)."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return None
    done = [p for p in folder.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and (p / LOOP_STATE_FILE).is_file()]
    return max(done, key=_checkpoint_step, default=None)


def _checkpoint_step(path: Path) -> int:
    return int(path.name[len(CHECKPOINT_PREFIX) :])


def _quiet_from_env() -> bool:
    return os.environ.get("EMOGEN_QUIET", "").strip().lower() not in ("", "0", "false", "no")


def _scalars(outputs: dict[str, Any]) -> dict[str, float]:
    import torch

    out = {}
    for name, value in outputs.items():
        if isinstance(value, torch.Tensor):
            if value.dim() == 0 and not value.is_complex():
                out[name] = float(value.detach())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


@dataclass
class _LoopState:
    """Everything of the loop itself that a checkpoint carries (besides model, optimizer and schedule)."""

    step: int = 0
    best_score: float | None = None
    best_step: int | None = None
    best_state: dict[str, Any] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    trace: dict[str, list[float]] = field(default_factory=dict)
    validation: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0  # of training up to ``step``, over every run (checkpoints of older versions: 0)
    window: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def record(self, scalars: dict[str, float]) -> None:
        """Add one step's scalar outputs to the trace and to the current log window."""
        for name, value in scalars.items():
            self.trace.setdefault(name, []).append(value)
            self.window.setdefault(name, []).append(value)

    def close_window(self, lr: float, seconds: float) -> dict[str, float]:
        """Append the window means (plus ``lr`` and ``seconds``) to the history and start a new window."""
        row = {"step": float(self.step), **{k: sum(v) / len(v) for k, v in self.window.items()}, "lr": lr, "seconds": seconds}
        self.history.append(row)
        self.window = {}
        return row

    def score(self, value: float, weights: nn.Module) -> bool:
        """Record a validation score; keep a CPU copy of ``weights`` when it is the best so far."""
        self.validation.append((self.step, value))
        if self.best_score is not None and value <= self.best_score:
            return False
        self.best_score, self.best_step, self.best_state = value, self.step, _cpu_state(weights)
        return True

    def saved(self) -> dict[str, Any]:
        """What a checkpoint keeps (the open log window is not kept: logs restart at a checkpoint)."""
        return {k: v for k, v in asdict(self).items() if k != "window"}


def fit(
    model: nn.Module,
    step_fn: Callable[[int, torch.Generator], dict[str, torch.Tensor]],
    config: FitConfig,
    *,
    accelerator=None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    validate: Callable[[], float] | None = None,
    validate_every: int | None = None,
    on_step: Callable[[int, dict[str, torch.Tensor]], None] | None = None,
    parameters: Iterable[torch.nn.Parameter] | None = None,
    stateful: Sequence[Stateful] = (),
    quiet: bool | None = None,
) -> FitResult:
    """Train ``model`` with ``step_fn`` for ``config.steps`` steps.

    Args:
        model (`nn.Module`): everything that trains (several modules, e.g. an encoder and an adversarial
            head, go in one ``nn.ModuleDict``). It is prepared by the accelerator in place (moved to its
            device) and left in eval mode, holding the final weights: the EMA's when ``ema_decay`` is set,
            the best-scoring ones when ``validate`` is given.
        step_fn (`Callable[[int, torch.Generator], dict[str, Tensor]]`): builds one batch with the given
            generator (the only source of data randomness), runs the model and returns ``{"loss": ...}``
            plus any other 0-d tensors to log. Step numbers are 0-based. It calls the model objects
            directly: on one device ``prepare`` moves them in place; several processes (DDP) would need
            the prepared wrapper instead.
        config (`FitConfig`): the hyper-parameters.
        accelerator (`accelerate.Accelerator`, *optional*): device placement and backward; a new one by
            default. What ``fit`` prepares is released at the end, so one accelerator can run several stages.
        checkpoint_dir (`str` or `os.PathLike`, *optional*): folder of this run's checkpoints.
        resume (`bool`, *optional*, defaults to `False`): continue from the last checkpoint in
            ``checkpoint_dir`` (start afresh when there is none); without it old checkpoints are removed.
        validate (`Callable[[], float]`, *optional*): scores the current weights (higher is better).
        validate_every (`int`, *optional*): steps between validations (defaults to ``log_every``); the
            last step is always validated.
        on_step (`Callable[[int, dict], None]`, *optional*): called after every optimiser step with the
            step number and ``step_fn``'s outputs.
        parameters (`Iterable[nn.Parameter]`, *optional*): what AdamW updates (defaults to every
            parameter of ``model`` that requires grad).
        stateful (`Sequence[Stateful]`, *optional*): extra objects a checkpoint saves and restores
            (samplers, counters, other generators).
        quiet (`bool`, *optional*): hide the progress bar (defaults to ``$EMOGEN_QUIET``).

    Returns:
        `FitResult`: the best score and step, the logged history and the per-step trace.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Linear(3, 1)
        >>> x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1)); y = x.sum(1, keepdim=True)
        >>> def step(i, gen):
        ...     idx = torch.randint(0, 64, (16,), generator=gen)
        ...     return {"loss": ((model(x[idx]) - y[idx]) ** 2).mean()}
        >>> result = fit(model, step, FitConfig(steps=200, lr=0.05, log_every=200), quiet=True)
        >>> result.trace["loss"][-1] < 0.01
        True
    """
    import torch
    from accelerate import Accelerator

    own = accelerator is None
    if own:
        accelerator = Accelerator(cpu=not torch.cuda.is_available())
    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda_devices):
        try:
            return _fit(
                model, step_fn, config, accelerator, checkpoint_dir, resume, validate, validate_every, on_step,
                parameters, stateful, _quiet_from_env() if quiet is None else quiet,
            )
        finally:
            if not own:  # the caller's accelerator runs the next stage: forget what this one prepared
                accelerator.free_memory()


def _fit(model, step_fn, config, accelerator, checkpoint_dir, resume, validate, validate_every, on_step, parameters,
         stateful, quiet) -> FitResult:
    import torch
    from accelerate.utils import set_seed
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    set_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    params = [p for p in (parameters if parameters is not None else model.parameters()) if p.requires_grad]
    if not params:
        msg = f"{config.desc}: nothing to train (no parameter requires grad)"
        raise ValueError(msg)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    schedule = None
    if config.pct_start is not None:
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.steps, pct_start=config.pct_start)
        wrapped, optimizer, schedule = accelerator.prepare(model, optimizer, schedule)
    else:
        wrapped, optimizer = accelerator.prepare(model, optimizer)
    raw = accelerator.unwrap_model(wrapped)
    ema = AveragedModel(raw, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay)) if config.ema_decay is not None else None
    extra = list(stateful) + [GeneratorState(generator)]
    state = _LoopState()

    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    last = latest_checkpoint(folder) if folder is not None and resume else None
    if folder is not None and last is None and accelerator.is_main_process:
        _remove_checkpoints(folder)
    if last is not None:
        state = _load_checkpoint(accelerator, last, config, ema, extra)
        logger.info("%s: resumed from %s (step %d/%d)", config.desc, last, state.step, config.steps)
    resumed_from = state.step if last is not None else None
    earlier_seconds = state.seconds

    validate_every = validate_every or config.log_every
    running: float | None = None
    start_time = time.time()
    with logging_redirect_tqdm():
        bar = tqdm(total=config.steps, initial=state.step, desc=config.desc, dynamic_ncols=True,
                   disable=quiet or not accelerator.is_local_main_process)
        wrapped.train()
        for step in range(state.step, config.steps):
            # 1. one optimisation step
            outputs = step_fn(step, generator)
            optimizer.zero_grad()
            accelerator.backward(outputs["loss"])
            if config.max_grad_norm is not None:
                accelerator.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            if ema is not None:
                ema.update_parameters(raw)
            state.step = step + 1
            state.seconds = earlier_seconds + time.time() - start_time
            # 2. bookkeeping: trace, progress bar, callback, log line
            scalars = _scalars(outputs)
            if not math.isfinite(scalars["loss"]):
                msg = f"{config.desc}: the loss is {scalars['loss']} at step {state.step}; lower the learning rate or clip gradients"
                raise FloatingPointError(msg)
            state.record(scalars)
            running = scalars["loss"] if running is None else 0.98 * running + 0.02 * scalars["loss"]
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4g}", refresh=False)
            if on_step is not None:
                on_step(step, outputs)
            last_step = state.step == config.steps
            if state.step == 1 or state.step % config.log_every == 0 or last_step:
                row = state.close_window(float(optimizer.param_groups[0]["lr"]), state.seconds)
                logger.info("%s step %d/%d: %s", config.desc, state.step, config.steps,
                            " ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("step", "seconds")))
            # 3. validation (best weights kept) and checkpoint
            if validate is not None and (state.step % validate_every == 0 or last_step):
                state.score(_score(validate, raw, ema), ema.module if ema is not None else raw)
                logger.info("%s step %d: validation %.4f (best %.4f at step %d)", config.desc, state.step,
                            state.validation[-1][1], state.best_score, state.best_step)
                wrapped.train()
            if folder is not None and (last_step or (config.checkpoint_every and state.step % config.checkpoint_every == 0)):
                _save_checkpoint(accelerator, folder, state, ema, extra, config)
        bar.close()

    if ema is not None:
        raw.load_state_dict(ema.module.state_dict())
    if state.best_state is not None:
        raw.load_state_dict(state.best_state)
    raw.eval()
    return FitResult(steps=config.steps, best_score=state.best_score, best_step=state.best_step, history=state.history,
                     trace=state.trace, validation=state.validation, resumed_from=resumed_from, earlier_seconds=earlier_seconds)


def _score(validate: Callable[[], float], raw: nn.Module, ema) -> float:
    """Run ``validate`` on the weights the run would deliver (the EMA's when there is one)."""
    import torch

    if ema is None:
        with torch.no_grad():
            return float(validate())
    current = _cpu_state(raw)
    raw.load_state_dict(ema.module.state_dict())
    try:
        with torch.no_grad():
            return float(validate())
    finally:
        raw.load_state_dict(current)


def _remove_checkpoints(folder: Path) -> None:
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_dir() and path.name.startswith((CHECKPOINT_PREFIX, _TMP_PREFIX)):
            shutil.rmtree(path)


def _save_checkpoint(accelerator, folder: Path, state: _LoopState, ema, extra: list, config: FitConfig) -> Path:
    """``accelerator.save_state`` plus the loop state into a temporary folder, renamed when complete."""
    import torch

    name = f"{CHECKPOINT_PREFIX}{state.step:07d}"
    tmp, final = folder / f"{_TMP_PREFIX}{name}", folder / name
    if accelerator.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        loop = {**state.saved(), "ema": ema.state_dict() if ema is not None else None,
                "stateful": [obj.state_dict() for obj in extra], "config": asdict(config)}
        torch.save(loop, tmp / LOOP_STATE_FILE)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in folder.glob(f"{CHECKPOINT_PREFIX}*"):
            if old != final and old.is_dir():
                shutil.rmtree(old)
        logger.info("%s: checkpoint %s", config.desc, final)
    accelerator.wait_for_everyone()
    return final


def _load_checkpoint(accelerator, path: Path, config: FitConfig, ema, extra: list) -> _LoopState:
    import torch

    loop = torch.load(path / LOOP_STATE_FILE, map_location="cpu", weights_only=False)
    saved = loop.pop("config")
    changed = {k: (saved.get(k), v) for k, v in asdict(config).items() if k != "checkpoint_every" and saved.get(k) != v}
    if changed:
        msg = f"{config.desc}: cannot resume {path}: its config differs in {changed} (saved, now); start without --resume"
        raise ValueError(msg)
    accelerator.load_state(str(path))
    if ema is not None:
        ema.load_state_dict(loop["ema"])
    if len(loop["stateful"]) != len(extra):
        msg = f"{config.desc}: cannot resume {path}: it holds {len(loop['stateful'])} stateful objects, the run has {len(extra)}"
        raise ValueError(msg)
    for obj, saved_state in zip(extra, loop["stateful"]):
        obj.load_state_dict(saved_state)
    loop.pop("ema")
    loop.pop("stateful")
    loop["validation"] = [tuple(v) for v in loop["validation"]]
    return _LoopState(**loop)
