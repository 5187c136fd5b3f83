"""``emogen info``: versions, the device emogen would use, and which checkpoints are present."""

from __future__ import annotations

import json
import platform

import typer

from pathlib import Path
from typing import Annotated

from emogen import __version__
from emogen.checkpoints_index import shipped_checkpoints

from ._apps import app
from ._common import DeviceOpt, examples_epilog, handle_errors

EXAMPLES = ["emogen info", "emogen info --check-device", "emogen info --check-device --device cpu"]
_LIBRARIES = ("torch", "accelerate", "numpy", "pyworld", "soundfile", "av", "midirenderer", "opencv-python-headless", "dlib-bin", "typer")


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


def _probe_device() -> str:
    """What ``--device auto`` will most likely pick, found without importing torch (instant)."""
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir() and any(gpus.iterdir()):
        return "cuda (an NVIDIA driver is loaded; --check-device confirms that torch can use it)"
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return "mps (Apple silicon; --check-device confirms that torch can use it)"
    return "cpu (no GPU driver found)"


@app.command("info", epilog=examples_epilog(EXAMPLES))
@handle_errors
def info(
    device: DeviceOpt = "auto",
    check_device: Annotated[bool, typer.Option("--check-device", help="Load torch and resolve --device auto for real (a second or two; a named --device is always checked).")] = False,
) -> None:
    """Print emogen's version, the libraries it runs on, the compute device and the shipped checkpoints."""
    typer.echo(f"emogen {__version__} (Python {platform.python_version()}, {platform.system()} {platform.machine()})")
    for name, found in _library_versions().items():
        typer.echo(f"  {name:<22} {found}")
    if check_device or device != "auto":  # a named device is checked for real
        import torch

        from emogen.utils import resolve_device

        resolved = resolve_device(device)
        detail = torch.cuda.get_device_name(resolved) if resolved.type == "cuda" else f"{torch.get_num_threads()} threads"
        typer.echo(f"device: {resolved} ({detail})")
    else:
        typer.echo(f"device: {_probe_device()}")
    checkpoints = shipped_checkpoints()
    typer.echo("checkpoints:" + ("" if checkpoints else " none shipped"))
    for name, path in checkpoints.items():
        typer.echo(f"  {name:<11} {_checkpoint_summary(path)}  [{path}]")
