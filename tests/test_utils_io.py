"""Atomic output files, early writability checks, device resolution and generator checks."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from emogen.errors import InputError
from emogen.utils import atomic_output, check_writable, make_generators, randn_tensor, resolve_device

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

# ----------------------------------------------------------------------------- atomic_output


def test_atomic_output_writes_on_success(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_output(target) as tmp:
        assert tmp != target
        assert tmp.parent == target.parent
        assert tmp.suffix == ".txt"
        tmp.write_text("done")
        assert not target.exists()  # nothing at the target until the block succeeds
    assert target.read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_output_replaces_an_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_output_leaves_nothing_on_exception(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_the_old_file_on_exception(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_output_creates_parent_folders(tmp_path):
    target = tmp_path / "a" / "b" / "c" / "out.mid"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"MThd")
    assert target.read_bytes() == b"MThd"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.mid"]


def test_atomic_output_suffix_override(tmp_path):
    with atomic_output(tmp_path / "out", suffix=".wav") as tmp:
        assert tmp.suffix == ".wav"
        tmp.write_bytes(b"RIFF")
    assert (tmp_path / "out").read_bytes() == b"RIFF"


def test_atomic_output_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_output("rel.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "rel.txt").read_text() == "x"


def test_atomic_output_refuses_a_folder_target(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        with atomic_output(tmp_path):
            pass  # pragma: no cover
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "out.txt") as tmp:
            tmp.write_text("x")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    plain = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    assert plain == 0o644
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == plain


# ----------------------------------------------------------------------------- check_writable


def test_check_writable_accepts_new_and_existing_files(tmp_path):
    assert check_writable(tmp_path / "new.mid") == tmp_path / "new.mid"
    assert check_writable(tmp_path / "not" / "yet" / "there.mid") == tmp_path / "not" / "yet" / "there.mid"
    assert not (tmp_path / "not").exists()  # checking creates nothing
    (tmp_path / "old.mid").write_bytes(b"")
    assert check_writable(str(tmp_path / "old.mid")) == tmp_path / "old.mid"


def test_check_writable_rejects_a_folder(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        check_writable(tmp_path)


def test_check_writable_rejects_a_path_under_a_file(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="not writable"):
        check_writable(tmp_path / "file.txt" / "out.mid")
    with pytest.raises(InputError):
        with atomic_output(tmp_path / "file.txt" / "sub" / "out.mid"):
            pass  # pragma: no cover


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root ignores folder permissions")
def test_check_writable_rejects_a_read_only_folder(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="not writable"):
            check_writable(folder / "out.mid")
        with pytest.raises(InputError, match="not writable"):
            check_writable(folder / "sub" / "out.mid")
    finally:
        folder.chmod(0o755)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


# ----------------------------------------------------------------------------- resolve_device


def test_resolve_auto():
    device = resolve_device("auto")
    assert isinstance(device, torch.device)
    if torch.cuda.is_available():
        assert device.type == "cuda"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        assert device.type == "mps"
    else:
        assert device.type == "cpu"
    assert resolve_device() == device


@pytest.mark.parametrize("name", ["cpu", " CPU ", "Cpu"])
def test_resolve_cpu(name):
    assert resolve_device(name) == torch.device("cpu")


def test_resolve_passes_devices_through():
    device = torch.device("cpu")
    assert resolve_device(device) is device


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("name", ["cuda", "cuda:1", "CUDA:0"])
def test_resolve_cuda_without_cuda_raises(name):
    with pytest.raises(InputError, match="CUDA"):
        resolve_device(name)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS is available here")
def test_resolve_mps_without_mps_raises():
    with pytest.raises(InputError, match="MPS"):
        resolve_device("mps")


@pytest.mark.parametrize("name", ["garbage", "gpu", "cuda:x", "", "cpu cpu"])
def test_resolve_garbage_raises(name):
    with pytest.raises(InputError, match="is not a device"):
        resolve_device(name)


# ----------------------------------------------------------------------------- generators


def test_make_generators_checks_list_length():
    single = torch.Generator()
    assert make_generators(single, 3) is single
    assert make_generators(None, 3) is None
    pair = [torch.Generator(), torch.Generator()]
    assert make_generators(pair, 2) is pair
    with pytest.raises(ValueError, match="2 generators for a batch of 3"):
        make_generators(pair, 3)


def test_randn_tensor_is_reproducible_per_generator():
    a = randn_tensor((2, 4), generator=torch.Generator().manual_seed(0))
    b = randn_tensor((2, 4), generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    rows = randn_tensor((2, 4), generator=[torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)])
    assert torch.equal(rows[0], randn_tensor((1, 4), generator=torch.Generator().manual_seed(0))[0])


def test_atomic_output_turns_an_unwritable_folder_into_an_input_error(tmp_path, monkeypatch):
    import pathlib

    from emogen.errors import InputError
    from emogen.utils import atomic_output

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    with pytest.raises(InputError, match="cannot write output"):
        with atomic_output(tmp_path / "new" / "out.txt") as tmp:
            tmp.write_text("never")
    assert not (tmp_path / "new").exists()
