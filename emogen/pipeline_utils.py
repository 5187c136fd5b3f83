"""Conventions shared by the emogen pipelines (diffusers-style, without importing diffusers).

- Every pipeline subclasses :class:`EmogenPipeline`, whose ``__init__`` only calls ``register_modules(...)``;
  an ``emotion_bank`` component turns emotion specs into :class:`~emogen.emotion.EmotionCondition`\\ s.
- ``save_pretrained`` / ``from_pretrained`` use diffusers' layout: ``model_index.json`` maps each component to
  ``[module, class]`` and each component lives in its own folder (``config.json`` + safetensors, or
  ``scheduler_config.json``), so diffusers reads these folders and emogen reads diffusers' (a component of a
  diffusers class is recorded as ``["diffusers", "ClassName"]`` and loads through diffusers).
- Every pipeline returns an :class:`EmogenPipelineOutput` dataclass with ``save(path)``, which writes
  atomically through :func:`~emogen.utils.atomic_output`.
- Shipped checkpoints live in ``emogen/checkpoints/<name>/`` and load offline.

Why not ``diffusers.DiffusionPipeline``: importing it costs about 2.5 s on a 2-core CPU (it loads
``torch._dynamo`` and every model family of diffusers), more than the work of a whole ``emogen music`` call;
these folders are local, so loading them needs no hub client.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoints_index import checkpoint_path, shipped_checkpoints
from .emotion.spec import EmotionSpec
from .errors import CheckpointNotFoundError
from .modeling import BaseOutput

if TYPE_CHECKING:
    import torch

    from .emotion import EmotionCondition

__all__ = ["EmogenPipeline", "EmogenPipelineOutput", "checkpoint_path", "load_critic", "shipped_checkpoints"]

#: Libraries recorded by their top-level name in ``model_index.json`` (as diffusers does).
_LIBRARIES = ("diffusers", "transformers")


@dataclass
class EmogenPipelineOutput(BaseOutput):
    """Base of pipeline outputs: subclasses add fields and implement :meth:`save`."""

    def save(self, path: str | os.PathLike[str]) -> Path:  # pragma: no cover - abstract
        """Write the output to ``path`` atomically (format from the suffix) and return the path."""
        raise NotImplementedError


def _library_of(component: Any) -> str:
    module = type(component).__module__
    top = module.split(".")[0]
    return top if top in _LIBRARIES else module


def _import_class(library: str, class_name: str, where: Path) -> type:
    try:
        return getattr(importlib.import_module(library), class_name)
    except (ImportError, AttributeError) as error:
        msg = f"{str(where)!r} names component class {library}.{class_name}, which cannot be imported ({error}); install the library that defines it or re-save the pipeline"
        raise CheckpointNotFoundError(msg) from None


class EmogenPipeline:
    """Base class of emogen pipelines: components, offline save/load, progress bars and emotion resolution.

    Subclasses declare ``_optional_components`` (may be ``None``) and ``model_cpu_offload_seq`` as class
    attributes and call ``self.register_modules(...)`` in ``__init__``.
    """

    _optional_components: list[str] = []
    model_cpu_offload_seq: str | None = None

    def __init__(self) -> None:
        self._component_names: list[str] = []
        self._progress_bar_config: dict[str, Any] = {}

    # ------------------------------------------------------------------ components
    def register_modules(self, **components: Any) -> None:
        """Attach components by name (models, schedulers, ``None`` for an absent optional component)."""
        for name, component in components.items():
            if component is None and name not in self._optional_components:
                msg = f"{type(self).__name__} needs the component {name!r}; only {self._optional_components} may be None"
                raise ValueError(msg)
            setattr(self, name, component)
            if name not in self._component_names:
                self._component_names.append(name)

    @property
    def components(self) -> dict[str, Any]:
        """The registered components by name, in registration order."""
        return {name: getattr(self, name) for name in self._component_names}

    def _modules(self) -> list[torch.nn.Module]:
        import torch

        return [c for c in self.components.values() if isinstance(c, torch.nn.Module)]

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> EmogenPipeline:
        """Move every model component to ``device`` (and floating weights to ``dtype``); returns ``self``."""
        for module in self._modules():
            module.to(device=device, dtype=dtype)
        return self

    @property
    def device(self) -> torch.device:
        """Device of the first model component (the CPU without one)."""
        import torch

        for module in self._modules():
            for tensor in list(module.parameters()) + list(module.buffers()):
                return tensor.device
        return torch.device("cpu")

    @property
    def _execution_device(self) -> torch.device:
        """Where inputs go (diffusers' name; no offload hooks, so the models' device)."""
        return self.device

    def maybe_free_model_hooks(self) -> None:
        """Release offload hooks after a call (diffusers' convention; emogen's models are small and keep none)."""

    # ------------------------------------------------------------------ progress
    def set_progress_bar_config(self, **kwargs: Any) -> None:
        """Options for the tqdm progress bars of ``__call__`` (``disable=True`` silences them)."""
        self._progress_bar_config = dict(kwargs)

    def progress_bar(self, iterable: Any = None, total: int | None = None):
        """A tqdm bar over ``iterable`` or of ``total`` steps, configured by :meth:`set_progress_bar_config`."""
        from tqdm.auto import tqdm

        if iterable is None and total is None:
            msg = "progress_bar needs an iterable or a total"
            raise ValueError(msg)
        return tqdm(iterable, total=total, **self._progress_bar_config)

    # ------------------------------------------------------------------ save / load
    def save_pretrained(self, save_directory: str | os.PathLike[str]) -> None:
        """Write ``model_index.json`` and one folder per component (configs stamped with ``_emogen_version``)."""
        from . import __version__
        from .utils.io import atomic_output

        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        index: dict[str, Any] = {"_class_name": type(self).__name__, "_emogen_version": __version__}
        for name, component in self.components.items():
            if component is None:
                index[name] = [None, None]
                continue
            index[name] = [_library_of(component), type(component).__name__]
            component.save_pretrained(folder / name)
            for config in (folder / name).glob("*config.json"):  # components of other libraries get the stamp too
                data = json.loads(config.read_text())
                if data.get("_emogen_version") != __version__:
                    data["_emogen_version"] = __version__
                    config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        with atomic_output(folder / "model_index.json") as tmp:
            tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], **components: Any) -> EmogenPipeline:
        """Load a pipeline folder written by :meth:`save_pretrained` (or by diffusers); ``components`` replace
        saved ones (e.g. ``scheduler=DPMSolverMultistepScheduler.from_config(...)``)."""
        folder = Path(pretrained_model_name_or_path)
        index_path = folder / "model_index.json"
        if not index_path.is_file():
            msg = f"{str(folder)!r} holds no model_index.json; give a pipeline folder written by save_pretrained or `emogen train`"
            raise CheckpointNotFoundError(msg)
        index = json.loads(index_path.read_text())
        loaded: dict[str, Any] = {}
        for name, entry in index.items():
            if name.startswith("_"):
                continue
            if name in components:
                loaded[name] = components.pop(name)
                continue
            library, class_name = entry
            if library is None:
                loaded[name] = None
                continue
            component_class = _import_class(library, class_name, index_path)
            loaded[name] = component_class.from_pretrained(str(folder), subfolder=name)
        loaded.update(components)
        return cls(**loaded)

    @classmethod
    def from_shipped(cls, name: str, **components: Any) -> EmogenPipeline:
        """Load the shipped checkpoint ``name`` (no network).

        Call it on the concrete pipeline class, e.g. ``EmoMusicPipeline.from_shipped("music")``.
        """
        return cls.from_pretrained(checkpoint_path(name), **components)

    # ------------------------------------------------------------------ emotion
    def encode_emotion(self, emotion: str | EmotionSpec | list[str | EmotionSpec], batch_size: int) -> EmotionCondition:
        """Turn one spec (repeated ``batch_size`` times) or one spec per sample into an EmotionCondition."""
        bank = self.emotion_bank
        if isinstance(emotion, list):
            if len(emotion) != batch_size:
                msg = f"got {len(emotion)} emotions for a batch of {batch_size}; pass one emotion or one per sample"
                raise ValueError(msg)
            condition = bank.condition_batch(emotion)
        else:
            condition = bank.condition(emotion, batch_size=batch_size)
        return condition.to(self._execution_device)


def load_critic(critic_class: type, name: str, subfolder: str, path: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """A pipeline's critic and its emotion bank, without the rest of the pipeline (``emogen recognize``).

    Args:
        critic_class (`type`): the critic's model class, e.g. ``SpeechEmotionEncoder``.
        name (`str`): the shipped checkpoint used when ``path`` is `None` (e.g. ``"voice"``).
        subfolder (`str`): the critic's component folder (e.g. ``"speech_critic"``).
        path (`str` or `os.PathLike`, *optional*): a pipeline folder to read instead.
    """
    from .emotion.bank import EmotionBank

    root = path if path is not None else checkpoint_path(name)
    critic = critic_class.from_pretrained(root, subfolder=subfolder)
    bank = EmotionBank.from_pretrained(root, subfolder="emotion_bank")
    return critic.eval(), bank.eval()
