"""Model base classes with diffusers' conventions, light enough to import in a command-line tool.

``ModelMixin``, ``ConfigMixin``, ``register_to_config`` and ``BaseOutput`` follow diffusers'
(``diffusers/models/modeling_utils.py``, ``diffusers/configuration_utils.py``, ``diffusers/utils/outputs.py``):

- the ``__init__`` signature is the config: ``@register_to_config`` records every argument (defaults included)
  in a frozen ``config`` readable by attribute or key;
- ``save_pretrained(folder)`` writes ``config.json`` (sorted, indented, stamped with ``_class_name`` and
  ``_emogen_version``) and ``diffusion_pytorch_model.safetensors``; ``from_pretrained(folder, subfolder=...)``
  reads them back, so the files are the ones diffusers writes and reads;
- forward passes return ``BaseOutput`` dataclasses readable by attribute, key or index.

Why not import them from diffusers: ``import diffusers`` imports ``torch._dynamo`` unconditionally
(``diffusers/utils/torch_utils.py``), which costs 1.0-1.5 s on a 2-core CPU, more than a whole 16-bar music
generation. emogen uses only local folders, so the part of diffusers it needs is this file; a test loads
emogen's files with diffusers' own classes to keep the two compatible.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
from collections import OrderedDict
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from .errors import CheckpointNotFoundError

__all__ = ["BaseOutput", "ConfigMixin", "FrozenConfig", "ModelMixin", "register_to_config"]

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
T = TypeVar("T")


class FrozenConfig(OrderedDict):
    """A read-only mapping whose keys are also attributes (diffusers' ``FrozenDict``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            msg = f"config is frozen: cannot set {name!r}; create a new object with the changed argument"
            raise AttributeError(msg)
        super().__setattr__(name, value)

    def __setitem__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            msg = f"config is frozen: cannot set {name!r}; create a new object with the changed argument"
            raise TypeError(msg)
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        msg = f"config is frozen: cannot delete {name!r}"
        raise TypeError(msg)

    def __reduce__(self):  # copy, deepcopy and pickle rebuild it whole instead of item by item
        return (type(self), (list(self.items()),))


def _jsonable(value: Any) -> Any:
    """Config values as JSON stores them (tuples become lists, paths strings)."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _emogen_version() -> str:
    from . import __version__

    return __version__


class ConfigMixin:
    """Gives a class a frozen ``config`` built from its ``__init__`` arguments, saved as sorted JSON.

    Subclasses decorate ``__init__`` with :func:`register_to_config`; ``config_name`` is the file name
    (``config.json`` for models, ``scheduler_config.json`` for schedulers); ``ignore_for_config`` lists
    arguments that are not stored.
    """

    config_name: str = "config.json"
    ignore_for_config: tuple[str, ...] = ()

    @property
    def config(self) -> FrozenConfig:
        """The arguments this object was built with (read-only, by attribute or key)."""
        return self.__dict__.get("_internal_dict", FrozenConfig())

    def register_to_config(self, **kwargs: Any) -> None:
        """Add ``kwargs`` to the config (what the decorator calls after ``__init__``)."""
        current = dict(self.__dict__.get("_internal_dict", {}))
        current.update(kwargs)
        self.__dict__["_internal_dict"] = FrozenConfig(current)

    def to_json_string(self) -> str:
        """The config as sorted, indented JSON with ``_class_name`` and ``_emogen_version``."""
        data = {k: _jsonable(v) for k, v in self.config.items()}
        data["_class_name"] = type(self).__name__
        data["_emogen_version"] = _emogen_version()
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save_config(self, save_directory: str | os.PathLike[str]) -> Path:
        """Write the config file into ``save_directory`` (created if needed) and return its path."""
        from .utils.io import atomic_output

        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(folder / self.config_name) as tmp:
            tmp.write_text(self.to_json_string())
        return folder / self.config_name

    @classmethod
    def load_config(cls, pretrained_model_name_or_path: str | os.PathLike[str], subfolder: str | None = None) -> dict[str, Any]:
        """Read the config file of a local folder (``subfolder`` inside it when given)."""
        folder = Path(pretrained_model_name_or_path)
        if subfolder:
            folder = folder / subfolder
        path = folder / cls.config_name
        if not path.is_file():
            msg = f"no {cls.config_name} in {str(folder)!r}; give a folder written by save_pretrained (emogen checkpoints are local folders)"
            raise CheckpointNotFoundError(msg)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as error:
            msg = f"{str(path)!r} is not a readable JSON config ({error}); re-save or re-train the model"
            raise CheckpointNotFoundError(msg) from None

    @classmethod
    def extract_init_dict(cls, config: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        """The ``__init__`` arguments found in ``config`` (private ``_`` keys and unknown keys dropped)."""
        parameters = inspect.signature(cls.__init__).parameters
        accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        known = {name for name in parameters if name != "self"}
        init = {}
        for key, value in {**dict(config), **overrides}.items():
            if key.startswith("_"):
                continue
            if key in known or accepts_any:
                init[key] = value
            else:
                logger.debug("%s ignores config entry %r", cls.__name__, key)
        return init

    @classmethod
    def from_config(cls: type[T], config: dict[str, Any] | None = None, **overrides: Any) -> T:
        """Build an object from a config mapping (e.g. another scheduler's ``config``), with overrides."""
        return cls(**cls.extract_init_dict(dict(config or {}), **overrides))  # type: ignore[attr-defined]


def register_to_config(init: Any) -> Any:
    """Decorator for ``__init__``: record every argument (defaults included) in ``self.config``.

    Positional and keyword arguments are bound to the signature, so ``config`` always holds the full set,
    in signature order; names in the class's ``ignore_for_config`` are left out.
    """
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: ConfigMixin, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = {}
        for name, value in list(bound.arguments.items())[1:]:
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                values.update(value)
            elif name not in getattr(self, "ignore_for_config", ()):
                values[name] = value
        init(self, *args, **kwargs)
        self.register_to_config(**values)

    return wrapper


def _build_model_mixin() -> type:
    import torch
    from torch import nn

    class ModelMixin(nn.Module):
        """``nn.Module`` with diffusers-style ``save_pretrained`` / ``from_pretrained`` (safetensors, local folders).

        Combine with :class:`ConfigMixin` and decorate ``__init__`` with :func:`register_to_config`.

        Example:
            >>> class Tiny(ModelMixin, ConfigMixin):
            ...     @register_to_config
            ...     def __init__(self, width: int = 4):
            ...         super().__init__()
            ...         self.linear = torch.nn.Linear(width, width)
            >>> Tiny(width=3).config.width
            3
        """

        #: dtype the floating weights are written in by :meth:`save_pretrained` (None = as they are).
        _storage_dtype: torch.dtype | None = None

        @property
        def device(self) -> torch.device:
            """Device of the first parameter or buffer (CPU for an empty module)."""
            for tensor in self._tensors():
                return tensor.device
            return torch.device("cpu")

        @property
        def dtype(self) -> torch.dtype:
            """Floating dtype of the first floating parameter or buffer (float32 for an empty module)."""
            for tensor in self._tensors():
                if tensor.is_floating_point():
                    return tensor.dtype
            return torch.float32

        def _tensors(self):
            yield from self.parameters()
            yield from self.buffers()

        def num_parameters(self) -> int:
            """Number of parameters."""
            return sum(p.numel() for p in self.parameters())

        def save_pretrained(self, save_directory: str | os.PathLike[str]) -> None:
            """Write ``config.json`` and ``diffusion_pytorch_model.safetensors`` into ``save_directory`` (floating
            weights in ``_storage_dtype`` when a model class sets one)."""
            from safetensors.torch import save_file

            from .utils.io import atomic_output

            folder = Path(save_directory)
            self.save_config(folder)  # type: ignore[attr-defined]
            dtype = self._storage_dtype  # e.g. float16 for a large model: loading casts back to the model's dtype
            state = {k: v.detach().to("cpu", dtype=dtype if dtype is not None and v.is_floating_point() else v.dtype).contiguous()
                     for k, v in self.state_dict().items()}
            with atomic_output(folder / WEIGHTS_NAME) as tmp:
                save_file(state, str(tmp), metadata={"format": "pt"})

        @classmethod
        def from_pretrained(
            cls,
            pretrained_model_name_or_path: str | os.PathLike[str],
            subfolder: str | None = None,
            torch_dtype: torch.dtype | None = None,
            **overrides: Any,
        ):
            """Load a model saved by :meth:`save_pretrained` (or by diffusers) from a local folder.

            Args:
                pretrained_model_name_or_path (`str` or `os.PathLike`): the folder.
                subfolder (`str`, *optional*): component folder inside it (e.g. ``"speech_critic"``).
                torch_dtype (`torch.dtype`, *optional*): cast floating weights to this dtype.
                overrides: config entries to replace.
            """
            from safetensors.torch import load_file

            config = cls.load_config(pretrained_model_name_or_path, subfolder)  # type: ignore[attr-defined]
            folder = Path(pretrained_model_name_or_path) / (subfolder or "")
            weights = folder / WEIGHTS_NAME
            if not weights.is_file():
                msg = f"no {WEIGHTS_NAME} in {str(folder)!r}; the checkpoint is incomplete: re-save or re-train it"
                raise CheckpointNotFoundError(msg)
            state = load_file(str(weights))
            model = cls.from_config(config, **overrides)  # type: ignore[attr-defined]
            try:
                missing, unexpected = model.load_state_dict(state, strict=False)
            except RuntimeError as error:  # shapes differ
                missing, unexpected = [" ".join(str(error).split())[:300]], []
            if missing or unexpected:
                msg = (f"{cls.__name__} weights in {str(weights)!r} do not fit the config: missing {sorted(missing)[:5]}, "
                       f"unexpected {sorted(unexpected)[:5]}; the checkpoint was written by another version: re-train it")
                raise CheckpointNotFoundError(msg)
            if torch_dtype is not None:
                model = model.to(torch_dtype)
            return model.eval()

    ModelMixin.__module__ = __name__
    ModelMixin.__qualname__ = "ModelMixin"
    return ModelMixin


def __getattr__(name: str) -> Any:
    # ModelMixin subclasses torch.nn.Module, so it is built on first use: importing emogen.modeling for
    # ConfigMixin or register_to_config (schedulers, configs) does not import torch.
    if name == "ModelMixin":
        cls = _build_model_mixin()
        globals()["ModelMixin"] = cls
        return cls
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


class BaseOutput(OrderedDict):
    """Base of output dataclasses: fields readable by attribute, key (``out["sample"]``) or index (``out[0]``).

    Fields set to ``None`` are skipped by keys and indices, as in diffusers.
    """

    def __post_init__(self) -> None:
        if not is_dataclass(self):  # pragma: no cover - misuse
            msg = f"{type(self).__name__} must be a @dataclass"
            raise TypeError(msg)
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                super().__setitem__(field.name, value)

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            return dict(self.items())[key]
        return self.to_tuple()[key]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.keys() and value is not None:
            super().__setitem__(name, value)
        super().__setattr__(name, value)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        super().__setattr__(key, value)

    def __reduce__(self):  # dataclass fields, not the dict items, rebuild the object
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))

    def to_tuple(self) -> tuple[Any, ...]:
        """The non-None fields as a tuple, in declaration order."""
        return tuple(self[k] for k in self.keys())
