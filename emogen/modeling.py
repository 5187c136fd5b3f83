"""Model base classes with diffusers' conventions (``ModelMixin``, ``ConfigMixin``, ``register_to_config``,
``BaseOutput``). TEMPORARY: re-exported from diffusers while emogen's light, file-compatible versions are
written; import them from here, never from diffusers directly."""

from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput

__all__ = ["BaseOutput", "ConfigMixin", "ModelMixin", "register_to_config"]
