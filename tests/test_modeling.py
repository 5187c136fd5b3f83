"""emogen.modeling keeps diffusers' conventions and files: config by signature, frozen config, save/load
round trips, BaseOutput access, and folders that diffusers' own classes read (and the other way round)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from emogen.errors import CheckpointNotFoundError
from emogen.modeling import BaseOutput, ConfigMixin, ModelMixin, register_to_config


class Square(ModelMixin, ConfigMixin):
    """A two-layer model with a buffer, for the round trips."""

    @register_to_config
    def __init__(self, width: int = 4, scales: tuple[float, ...] = (1.0, 2.0), name: str = "square") -> None:
        super().__init__()
        self.first = nn.Linear(width, width)
        self.second = nn.Linear(width, 1)
        self.register_buffer("offset", torch.zeros(width))


@dataclass
class SquareOutput(BaseOutput):
    sample: torch.Tensor
    extra: torch.Tensor | None = None


def test_config_holds_every_argument_and_is_frozen():
    model = Square(3, name="x")
    assert dict(model.config) == {"width": 3, "scales": (1.0, 2.0), "name": "x"}
    assert model.config.width == 3 and model.config["name"] == "x"
    with pytest.raises(AttributeError):
        model.config.width = 5
    with pytest.raises(TypeError):
        model.config["width"] = 5


def test_models_deepcopy_and_pickle_with_their_config():
    import copy
    import pickle

    model = Square(3, name="x")
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone.config == model.config and clone.config.width == 3
        torch.testing.assert_close(clone.first.weight, model.first.weight)


def test_save_and_load_round_trip(tmp_path):
    model = Square(5)
    with torch.no_grad():
        model.offset += 1.5
    model.save_pretrained(tmp_path / "square")
    config = json.loads((tmp_path / "square" / "config.json").read_text())
    assert config["_class_name"] == "Square" and config["scales"] == [1.0, 2.0] and "_emogen_version" in config
    loaded = Square.from_pretrained(tmp_path, subfolder="square")
    assert not loaded.training
    assert loaded.config.width == 5
    for name, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name]), name


def test_loading_a_folder_that_does_not_fit_fails_clearly(tmp_path):
    Square(5).save_pretrained(tmp_path)
    with pytest.raises(CheckpointNotFoundError, match="do not fit"):
        Square.from_pretrained(tmp_path, width=6)
    with pytest.raises(CheckpointNotFoundError, match="no config.json"):
        Square.from_pretrained(tmp_path / "missing")


def test_base_output_reads_by_attribute_key_and_index():
    out = SquareOutput(sample=torch.ones(2))
    assert out.sample is out["sample"] is out[0]
    assert out.to_tuple() == (out.sample,)
    assert len(out) == 1  # None fields are skipped, as in diffusers


def test_diffusers_reads_emogen_files_and_emogen_reads_diffusers_files(tmp_path):
    from diffusers.configuration_utils import ConfigMixin as DConfigMixin
    from diffusers.configuration_utils import register_to_config as d_register
    from diffusers.models.modeling_utils import ModelMixin as DModelMixin

    class DSquare(DModelMixin, DConfigMixin):
        @d_register
        def __init__(self, width: int = 4, scales: tuple[float, ...] = (1.0, 2.0), name: str = "square") -> None:
            super().__init__()
            self.first = nn.Linear(width, width)
            self.second = nn.Linear(width, 1)
            self.register_buffer("offset", torch.zeros(width))

    ours = Square(3)
    ours.save_pretrained(tmp_path / "ours")
    theirs = DSquare.from_pretrained(tmp_path / "ours")
    assert theirs.config.width == 3
    torch.testing.assert_close(theirs.first.weight, ours.first.weight)

    DSquare(6).save_pretrained(tmp_path / "theirs")
    back = Square.from_pretrained(tmp_path / "theirs")
    assert back.config.width == 6


def test_importing_emogen_and_the_cli_loads_neither_torch_nor_diffusers(tmp_path):
    code = (
        "import sys, emogen, emogen.emotion, emogen.modeling, emogen.pipeline_utils, emogen.cli.main;"
        "from emogen.emotion import EmotionSpec; EmotionSpec.parse('happy:0.5');"
        "print(sorted(m for m in ('torch', 'diffusers', 'numpy', 'accelerate') if m in sys.modules))"
    )
    # run outside the checkout, so the installed package is imported (not the source folder beside it)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert result.stdout.strip() == "[]"
