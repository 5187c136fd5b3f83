"""Keyed caches (emogen.utils.cache) and the voice feature cache built on them."""

from __future__ import annotations

import os

import pytest

from emogen.testing import write_fake_ravdess
from emogen.utils.cache import cache_key, cache_path, load_or_build


@pytest.fixture
def files(tmp_path):
    paths = [tmp_path / "a.bin", tmp_path / "b.bin"]
    for n, path in enumerate(paths):
        path.write_bytes(b"x" * (n + 1))
    return paths


def test_key_is_stable_and_config_order_free(files):
    key = cache_key(files, {"rate": 16000, "hop": 0.01}, "1")
    assert key == cache_key(files, {"hop": 0.01, "rate": 16000}, "1")
    assert len(key) == 64 and int(key, 16) >= 0


def test_key_follows_contents_config_version_and_file_list_not_mtime(files):
    key = cache_key(files, {"rate": 16000}, "1")
    assert cache_key(files, {"rate": 22050}, "1") != key
    assert cache_key(files, {"rate": 16000}, "2") != key
    assert cache_key(files[:1], {"rate": 16000}, "1") != key

    stat = files[0].stat()
    os.utime(files[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cache_key(files, {"rate": 16000}, "1") == key, "a fresh copy of the same data (new mtime) reuses the cache"

    mtime = files[0].stat().st_mtime_ns
    files[0].write_bytes(b"y")  # same size and mtime, other contents
    os.utime(files[0], ns=(mtime, mtime))
    assert cache_key(files, {"rate": 16000}, "1") != key


def test_same_inputs_reuse_the_file(tmp_path, files):
    calls = []

    def build():
        calls.append(1)
        return {"features": [1, 2, 3]}

    key = cache_key(files, {"rate": 16000}, "1")
    first = load_or_build(tmp_path / "cache", "feats", key, build)
    second = load_or_build(tmp_path / "cache", "feats", key, build)
    assert first == second == {"features": [1, 2, 3]}
    assert len(calls) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"feats-{key[:16]}.pkl"]
    assert cache_path(tmp_path / "cache", "feats", key).is_file()

    other = cache_key(files, {"rate": 22050}, "1")
    load_or_build(tmp_path / "cache", "feats", other, build)
    assert len(calls) == 2


def test_failing_build_leaves_no_file(tmp_path, files):
    def fail():
        raise RuntimeError("analysis failed")

    with pytest.raises(RuntimeError, match="analysis failed"):
        load_or_build(tmp_path / "cache", "feats", cache_key(files, {}, "1"), fail)
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []


def test_failing_write_leaves_no_file(tmp_path, files):
    with pytest.raises(Exception):
        load_or_build(tmp_path / "cache", "feats", cache_key(files, {}, "1"), lambda: (lambda: None))  # unpicklable
    assert list((tmp_path / "cache").iterdir()) == []


def test_voice_feature_cache_is_keyed_by_clips_and_config(tmp_path, monkeypatch):
    from emogen.voice import dataset

    root = write_fake_ravdess(tmp_path / "data", range(1, 3))
    analysed = []

    def fake_features(clip):
        analysed.append(clip.path.name)
        return dataset.ClipFeatures(clip=clip, world=None, encoder=None, seconds=1.0)

    monkeypatch.setattr(dataset, "clip_features", fake_features)
    cache_dir = tmp_path / "cache"
    cache = dataset.build_cache(cache_dir, root)
    assert len(cache) == len(analysed) == 120
    assert dataset.build_cache(cache_dir, root).keys() == cache.keys()
    assert len(analysed) == 120  # reused

    assert len(dataset.build_cache(cache_dir, root, actors={1})) == 60  # another clip list, another file
    assert len(list(cache_dir.iterdir())) == 2

    clip = next((root / "ravdess-speech" / "Actor_01").glob("*.flac"))
    clip.write_bytes(b"changed")
    analysed.clear()
    dataset.build_cache(cache_dir, root)
    assert len(analysed) == 120

    monkeypatch.setattr(dataset, "TRIM_PAD_SECONDS", 0.3)
    analysed.clear()
    dataset.build_cache(cache_dir, root)
    assert len(analysed) == 120
    assert len(list(cache_dir.iterdir())) == 4
