"""Data readers: RAVDESS names and parallel pairs, EMOPIA splits, GRID alignments, MEAD names, EMOGEN_DATA.

Tests on synthetic names and folders always run; tests on the real data use the ``data_root`` fixture
(tests/conftest.py), which skips with a reason when the data folder is absent.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from emogen.data import (
    QUADRANT_EMOTIONS,
    QUADRANT_VA,
    RAVDESS_EMOTIONS,
    data_root,
    dataset_dir,
    load_emopia,
    load_grid,
    load_mead,
    load_ravdess,
    parallel_pairs,
    parse_mead_name,
    parse_ravdess_name,
    read_align,
)
from emogen.data.grid import GRID_TIME_UNITS_PER_SECOND
from emogen.data.ravdess import RAVDESS_STATEMENTS
from emogen.emotion import CATEGORIES
from emogen.errors import DataNotFoundError
from emogen.testing import write_fake_ravdess

# ----------------------------------------------------------------------------- RAVDESS names (no data)


def test_parse_ravdess_name():
    clip = parse_ravdess_name("/x/Actor_12/03-01-05-02-01-02-12.flac")
    assert clip.path == Path("/x/Actor_12/03-01-05-02-01-02-12.flac")
    assert clip.emotion == "angry"
    assert clip.intensity == "strong"
    assert clip.statement == 1
    assert clip.repetition == 2
    assert clip.actor == 12
    assert clip.is_male is False


def test_parse_ravdess_name_male_normal():
    clip = parse_ravdess_name("03-01-08-01-02-01-07.flac")
    assert (clip.emotion, clip.intensity, clip.statement, clip.repetition, clip.actor) == ("surprised", "normal", 2, 1, 7)
    assert clip.is_male is True


@pytest.mark.parametrize(("code", "category"), sorted(RAVDESS_EMOTIONS.items()))
def test_every_ravdess_emotion_code(code, category):
    assert category in CATEGORIES
    assert parse_ravdess_name(f"03-01-{code:02d}-01-01-01-01.flac").emotion == category


@pytest.mark.parametrize(
    "name",
    [
        "not-a-ravdess-name.flac",
        "03-01-09-01-01-01-01.flac",  # emotion 09 does not exist
        "03-01-00-01-01-01-01.flac",
        "03-01-05-03-01-01-01.flac",  # intensity 03 does not exist
        "03-01-05-02-01-01.flac",  # six fields
        "03-01-05-02-01-01-12-01.flac",  # eight fields
        "03-01-05-02-01-01-xx.flac",
        "",
    ],
)
def test_parse_ravdess_name_rejects_bad_names(name):
    with pytest.raises(ValueError, match="not a RAVDESS name"):
        parse_ravdess_name(name)


@pytest.mark.parametrize("name", ["03-01-05-02-03-01-12.flac", "03-01-05-02-01-03-12.flac"])
def test_parse_ravdess_name_rejects_unknown_statement_or_repetition(name):
    with pytest.raises(ValueError, match="not a RAVDESS name"):
        parse_ravdess_name(name)


def test_load_ravdess_and_pairs_on_a_synthetic_tree(tmp_path):
    root = write_fake_ravdess(tmp_path, range(1, 4))
    clips = load_ravdess(root)
    assert len(clips) == 3 * 60
    assert [c.path for c in clips] == sorted(c.path for c in clips)
    pairs = parallel_pairs(clips)
    assert len(pairs) == 3 * 56  # every non-neutral clip finds its neutral source
    assert load_ravdess(root, actors={2}) == [c for c in clips if c.actor == 2]


def test_parallel_pairs_skips_clips_without_a_neutral_source():
    clips = [
        parse_ravdess_name("03-01-01-01-01-01-01.flac"),
        parse_ravdess_name("03-01-05-02-01-01-01.flac"),
        parse_ravdess_name("03-01-05-02-02-01-01.flac"),  # statement 2 has no neutral clip here
        parse_ravdess_name("03-01-05-02-01-01-02.flac"),  # actor 2 has no neutral clip here
    ]
    pairs = parallel_pairs(clips)
    assert pairs == [(clips[0], clips[1])]


def test_load_ravdess_on_an_empty_folder_raises(tmp_path):
    (tmp_path / "ravdess-speech").mkdir()
    with pytest.raises(DataNotFoundError, match="no RAVDESS"):
        load_ravdess(tmp_path)


# ----------------------------------------------------------------------------- RAVDESS (data)


@pytest.fixture(scope="module")
def ravdess(data_root):
    return load_ravdess(data_root)


def test_load_ravdess(ravdess):
    assert len(ravdess) == 1200
    assert {c.actor for c in ravdess} == set(range(1, 21))
    per_actor = collections.Counter(c.actor for c in ravdess)
    assert set(per_actor.values()) == {60}
    assert {c.emotion for c in ravdess} == set(RAVDESS_EMOTIONS.values())
    assert all(c.path.is_file() and c.path.suffix == ".flac" for c in ravdess)
    assert all(c.statement in RAVDESS_STATEMENTS and c.repetition in (1, 2) for c in ravdess)
    assert all(c.intensity == "normal" for c in ravdess if c.emotion == "neutral")
    assert all(c.path.parent.name == f"Actor_{c.actor:02d}" for c in ravdess)


def test_ravdess_parallel_pairs(ravdess):
    pairs = parallel_pairs(ravdess)
    assert len(pairs) == sum(1 for c in ravdess if c.emotion != "neutral")
    for source, target in pairs:
        assert source.emotion == "neutral"
        assert target.emotion != "neutral"
        assert (source.actor, source.statement, source.repetition) == (target.actor, target.statement, target.repetition)
    assert len({target.path for _, target in pairs}) == len(pairs)


def test_load_ravdess_actor_subset(data_root):
    clips = load_ravdess(data_root, actors={19, 20})
    assert len(clips) == 120
    assert {c.actor for c in clips} == {19, 20}


def test_load_ravdess_finds_the_data_without_a_root(ravdess, data_root, monkeypatch):
    monkeypatch.setenv("EMOGEN_DATA", str(data_root))
    assert [c.path for c in load_ravdess()] == [c.path for c in ravdess]


# ----------------------------------------------------------------------------- EMOPIA


def _fake_emopia(root: Path) -> Path:
    folder = root / "emopia"
    (folder / "midis").mkdir(parents=True)
    names = {"train": ["Q1_songA_0", "Q1_songA_1", "Q2_so_ng_B_0"], "val": ["Q3_songC_0"], "test": ["Q4_songD_0"]}
    for split, clips in names.items():
        (folder / f"{split}.csv").write_text("fname,label\n" + "".join(f"{n},{n[:2]}\n" for n in clips))
        for name in clips:
            (folder / "midis" / f"{name}.mid").touch()
    (folder / "midis" / "Q1_unsplit_0.mid").touch()  # in no split file: ignored
    return root


def test_load_emopia_on_a_synthetic_tree(tmp_path):
    root = _fake_emopia(tmp_path)
    clips = load_emopia(root)
    assert sorted(c.name for c in clips) == ["Q1_songA_0", "Q1_songA_1", "Q2_so_ng_B_0", "Q3_songC_0", "Q4_songD_0"]
    by_name = {c.name: c for c in clips}
    assert by_name["Q2_so_ng_B_0"].song == "so_ng_B"
    assert by_name["Q2_so_ng_B_0"].quadrant == "Q2"
    assert by_name["Q3_songC_0"].split == "val"
    assert [c.name for c in load_emopia(root, split="test")] == ["Q4_songD_0"]
    with pytest.raises(ValueError, match="train, val or test"):
        load_emopia(root, split="validation")


def test_load_emopia_without_split_files_raises(tmp_path):
    root = _fake_emopia(tmp_path)
    (root / "emopia" / "val.csv").unlink()
    with pytest.raises(DataNotFoundError, match="val.csv"):
        load_emopia(root)


def test_quadrant_tables():
    assert set(QUADRANT_VA) == set(QUADRANT_EMOTIONS) == {"Q1", "Q2", "Q3", "Q4"}
    assert all(e in CATEGORIES for e in QUADRANT_EMOTIONS.values())


@pytest.fixture(scope="module")
def emopia(data_root):
    return load_emopia(data_root)


def test_load_emopia_splits_add_up(emopia, data_root):
    splits = {name: load_emopia(data_root, split=name) for name in ("train", "val", "test")}
    assert all(splits.values())
    assert sum(len(clips) for clips in splits.values()) == len(emopia)
    for name, clips in splits.items():
        assert all(c.split == name for c in clips)
    listed = sum(len((data_root / "emopia" / f"{name}.csv").read_text().strip().splitlines()) - 1 for name in splits)
    assert len(emopia) == listed


def test_emopia_quadrants_and_files(emopia):
    assert {c.quadrant for c in emopia} == {"Q1", "Q2", "Q3", "Q4"}
    assert all(c.path.is_file() and c.path.name.startswith(c.quadrant + "_") for c in emopia)


def test_emopia_no_song_crosses_splits(emopia):
    splits_of_song = collections.defaultdict(set)
    for clip in emopia:
        splits_of_song[clip.song].add(clip.split)
    assert splits_of_song
    crossing = {song: splits for song, splits in splits_of_song.items() if len(splits) > 1}
    assert crossing == {}


# ----------------------------------------------------------------------------- GRID


def test_read_align_on_a_synthetic_file(tmp_path):
    path = tmp_path / "clip.align"
    path.write_text("0 23750 sil\n23750 29500 bin\n\n29500 34000 blue\nbroken line\n34000 50000 sil\n")
    words = read_align(path)
    assert [w.word for w in words] == ["sil", "bin", "blue", "sil"]
    assert words[1].start == pytest.approx(23750 / GRID_TIME_UNITS_PER_SECOND)
    assert words[1].end == pytest.approx(1.18)
    assert words[3].end == pytest.approx(2.0)


def test_grid_transcript_skips_pauses(tmp_path):
    from emogen.data import GridClip

    path = tmp_path / "clip.align"
    path.write_text("0 100 sil\n100 200 bin\n200 250 sp\n250 400 blue\n400 500 sil\n")
    assert GridClip(video=tmp_path / "clip.mp4", words=read_align(path)).transcript == "bin blue"


def test_load_grid_without_alignments_raises(tmp_path):
    (tmp_path / "grid-s1" / "video").mkdir(parents=True)
    (tmp_path / "grid-s1" / "video" / "bbaf2n.mp4").touch()
    with pytest.raises(DataNotFoundError, match="no GRID clips"):
        load_grid(tmp_path)


def test_load_grid(data_root):
    clips = load_grid(data_root)
    assert len(clips) == 1000
    for clip in clips:
        assert clip.video.suffix == ".mp4"
        assert clip.transcript.strip()
        assert len(clip.transcript.split()) >= 1
        starts = [w.start for w in clip.words]
        ends = [w.end for w in clip.words]
        assert all(s < e for s, e in zip(starts, ends))
        assert all(a < b for a, b in zip(starts, starts[1:]))
        assert all(e <= s for e, s in zip(ends, starts[1:]))
        assert 0.0 <= starts[0] and ends[-1] <= 10.0


# ----------------------------------------------------------------------------- MEAD


def test_parse_mead_name():
    clip = parse_mead_name("/x/W009_front_surprised_level3_001.mp4")
    assert (clip.identity, clip.emotion, clip.level) == ("W009", "surprised", 3)
    assert parse_mead_name("M030_front_disgust_level1_002.mp4").emotion == "disgusted"


@pytest.mark.parametrize("name", ["M030_front_bored_level3_001.mp4", "M030_front_angry_3_001.mp4", "M030_angry.mp4"])
def test_parse_mead_name_rejects_bad_names(name):
    with pytest.raises(ValueError, match="not a MEAD name"):
        parse_mead_name(name)


def test_load_mead(data_root):
    clips = load_mead(data_root)
    assert len(clips) == 24
    assert {c.identity for c in clips} == {"M030", "W009", "W011"}
    for identity in ("M030", "W009", "W011"):
        emotions = [c.emotion for c in clips if c.identity == identity]
        assert len(emotions) == len(set(emotions)) == 8
    assert all(c.level == (1 if c.emotion == "neutral" else 3) for c in clips)
    assert all(c.emotion in CATEGORIES for c in clips)


# ----------------------------------------------------------------------------- EMOGEN_DATA


def test_missing_emogen_data_folder_raises_naming_the_variable(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv("EMOGEN_DATA", str(missing))
    with pytest.raises(DataNotFoundError, match="EMOGEN_DATA") as info:
        data_root()
    assert str(missing) in str(info.value)
    assert data_root(required=False) is None
    for loader in (load_ravdess, load_emopia, load_grid, load_mead):
        with pytest.raises(DataNotFoundError, match="EMOGEN_DATA"):
            loader()


def test_emogen_data_without_a_data_set_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOGEN_DATA", str(tmp_path))
    assert data_root() == tmp_path
    with pytest.raises(DataNotFoundError, match=r"'ravdess-speech'.*EMOGEN_DATA"):
        load_ravdess()
    with pytest.raises(DataNotFoundError, match="'emopia'"):
        dataset_dir("emopia")


def test_emogen_data_points_the_readers_at_another_folder(tmp_path, monkeypatch):
    write_fake_ravdess(tmp_path, range(5, 6))
    monkeypatch.setenv("EMOGEN_DATA", str(tmp_path))
    clips = load_ravdess()
    assert len(clips) == 60
    assert {c.actor for c in clips} == {5}
