"""``emogen info``: versions, the device emogen would use, and which checkpoints are present."""

from __future__ import annotations

import json
import platform

import typer

from emogen import __version__
from emogen.pipeline_utils import shipped_checkpoints
from emogen.utils import resolve_device

from ._apps import app
from ._common import DeviceOpt, examples_epilog, handle_errors

EXAMPLES = ["emogen info", "emogen info --device cpu"]
_LIBRARIES = ("torch", "diffusers", "accelerate", "numpy", "pyworld", "miditok", "soundfile", "typer")


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _checkpoint_summary(path) -> str:
    index = json.loads((path / "model_index.json").read_text())
    size_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    card = "model card" if (path / "README.md").is_file() else "NO model card"
    return f"{index.get('_class_name', '?')}, {size_mb:.1f} MB, {card}"


@app.command("info", epilog=examples_epilog(EXAMPLES))
@handle_errors
def info(device: DeviceOpt = "auto") -> None:
    """Print emogen's version, the libraries it runs on, the compute device and the shipped checkpoints."""
    import torch

    typer.echo(f"emogen {__version__} (Python {platform.python_version()}, {platform.system()} {platform.machine()})")
    for name, found in _library_versions().items():
        typer.echo(f"  {name:<11} {found}")
    resolved = resolve_device(device)
    detail = torch.cuda.get_device_name(resolved) if resolved.type == "cuda" else f"{torch.get_num_threads()} threads"
    typer.echo(f"device: {resolved} ({detail})")
    checkpoints = shipped_checkpoints()
    typer.echo("checkpoints:" + ("" if checkpoints else " none shipped"))
    for name, path in checkpoints.items():
        typer.echo(f"  {name:<11} {_checkpoint_summary(path)}  [{path}]")
