"""What every recipe shares: how its stages run (:class:`TrainRun`) and how it ends (:func:`finish_recipe`).

A recipe trains its stages through one :class:`TrainRun` (accelerator, checkpoint folder, resume), then
calls :func:`finish_recipe`: the pipeline folder (``save_pretrained``), ``scores.json`` and the model
card ``README.md``, both written atomically. The per-stage checkpoints live in a hidden folder beside the
output (``.<name>.train``) and are removed once the pipeline folder is complete.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..utils import atomic_output
from .loop import FitConfig, FitResult, fit

__all__ = ["KEPT_SECTION_MARK", "TrainRun", "finish_recipe", "folder_megabytes", "replace_component", "train_state_dir", "with_kept_sections"]

logger = logging.getLogger(__name__)


def train_state_dir(output: str | os.PathLike[str]) -> Path:
    """The checkpoint folder of a recipe writing to ``output``: ``<parent>/.<name>.train``."""
    output = Path(output)
    return output.parent / f".{output.name}.train"


@dataclass
class TrainRun:
    """How a recipe's stages run: one accelerator, one checkpoint folder (a subfolder per stage), resume.

    Args:
        checkpoint_dir (`Path`, *optional*): root of the stage checkpoints; `None` = no checkpoints.
        resume (`bool`, *optional*, defaults to `False`): continue every stage from its last checkpoint
            (finished stages load as done).
        checkpoint_every (`int`, *optional*): steps between checkpoints within a stage (each stage's
            last step is always saved).
        accelerator (`accelerate.Accelerator`, *optional*): built on first use (CPU when no GPU).
        minutes (`dict[str, float]`): wall time of every stage timed with :meth:`timed` (a resumed stage's
            earlier runs included).
    """

    checkpoint_dir: Path | None = None
    resume: bool = False
    checkpoint_every: int | None = None
    accelerator: Any = None
    minutes: dict[str, float] = field(default_factory=dict)
    _earlier_minutes: float = field(default=0.0, init=False, repr=False)  # training before resumes, all stages fitted so far

    def __post_init__(self) -> None:
        if self.accelerator is None:
            import torch
            from accelerate import Accelerator

            self.accelerator = Accelerator(cpu=not torch.cuda.is_available())

    @property
    def device(self):
        """The accelerator's device (where ``step_fn`` puts its batches)."""
        return self.accelerator.device

    def fit(self, stage: str, model, step_fn, config: FitConfig, **kwargs) -> FitResult:
        """:func:`~emogen.training.fit` for one stage, checkpointed under ``<checkpoint_dir>/<stage>``."""
        if self.checkpoint_every is not None:
            config = replace(config, checkpoint_every=self.checkpoint_every)
        folder = self.checkpoint_dir / stage if self.checkpoint_dir is not None else None
        result = fit(model, step_fn, config, accelerator=self.accelerator, checkpoint_dir=folder, resume=self.resume, **kwargs)
        self._earlier_minutes += result.earlier_seconds / 60
        return result

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Record the wall minutes of the block in :attr:`minutes` under ``stage``, plus the training minutes of
        the runs before a resume of the stages fitted in it (so a resumed recipe reports what its stages took)."""
        start = time.time()
        before = self._earlier_minutes
        yield
        self.minutes[stage] = (time.time() - start) / 60 + self._earlier_minutes - before


def folder_megabytes(folder: str | os.PathLike[str]) -> float:
    """Total size of the files under ``folder`` in MB."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    msg = f"scores.json cannot hold {type(value).__name__}"
    raise TypeError(msg)


def _finite(value: Any) -> Any:
    """NaN and infinities become `None` (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


#: A card section whose heading holds this is written by hand (e.g. benchmark results) and survives a retrain.
KEPT_SECTION_MARK = "not written by the recipe"


def with_kept_sections(card: str, previous: str) -> str:
    """``card`` with the hand-written sections of ``previous`` (``## `` headings holding
    :data:`KEPT_SECTION_MARK`) put back before its ``## Limits`` section, or at its end."""
    kept, keep = [], False
    for line in previous.splitlines(keepends=True):
        if line.startswith("## "):
            keep = KEPT_SECTION_MARK in line
        if keep:
            kept.append(line)
    if not kept:
        return card
    block = "".join(kept).rstrip("\n") + "\n\n"
    at = card.find("\n## Limits")
    if at < 0:
        return card.rstrip("\n") + "\n\n" + block
    return card[: at + 1] + block + card[at + 1 :]


def finish_recipe(pipe, output: str | os.PathLike[str], scores: dict, card: Callable[[Path, dict], str], run: TrainRun | None = None) -> Path:
    """End a recipe: save ``pipe`` to ``output``, then write ``scores.json`` and the model card atomically.

    Args:
        pipe (`EmogenPipeline`): the trained pipeline (``save_pretrained`` writes its diffusers layout).
        output (`str` or `os.PathLike`): the pipeline folder.
        scores (`dict`): everything measured; written as sorted, indented JSON.
        card (`Callable[[Path, dict], str]`): the model card's text from the folder and the scores.
        run (`TrainRun`, *optional*): the run whose stage checkpoints are removed now that the folder is complete.

    Returns:
        `Path`: the pipeline folder.
    """
    output = Path(output)
    pipe.save_pretrained(str(output))
    with atomic_output(output / "scores.json") as tmp:
        tmp.write_text(json.dumps(_finite(json.loads(json.dumps(scores, default=_json_default))), indent=2, sort_keys=True) + "\n")
    previous = (output / "README.md").read_text() if (output / "README.md").is_file() else ""
    with atomic_output(output / "README.md") as tmp:
        tmp.write_text(with_kept_sections(card(output, scores), previous))
    if run is not None and run.checkpoint_dir is not None and run.accelerator.is_main_process:
        shutil.rmtree(run.checkpoint_dir, ignore_errors=True)
    logger.info("saved %s", output)
    return output


def replace_component(output: str | os.PathLike[str], name: str, model) -> None:
    """Replace the pipeline folder's component ``output/name`` whole with ``model.save_pretrained``: written
    beside it, then swapped in, so an interrupted retrain never leaves a half-written component."""
    output = Path(output)
    tmp, old = output / f".{name}.tmp", output / f".{name}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    shutil.rmtree(old, ignore_errors=True)
    if (output / name).exists():
        os.replace(output / name, old)
    os.replace(tmp, output / name)
    shutil.rmtree(old, ignore_errors=True)
    index_path = output / "model_index.json"
    if index_path.is_file():  # a component the folder did not have yet (e.g. an optional one) joins its index
        index = json.loads(index_path.read_text())
        entry = [type(model).__module__, type(model).__name__]
        if index.get(name) != entry:
            index[name] = entry
            with atomic_output(index_path) as tmp_index:
                tmp_index.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    logger.info("replaced %s", output / name)
