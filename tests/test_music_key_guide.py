"""The music key guide: key names, the per-code key classifier counted from data, the key drawn for an emotion,
and the pipeline steering its pitch codes to the key (tiny models, and the shipped model where it matters)."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from emogen.cli.main import app
from emogen.errors import InputError
from emogen.music.key_guide import KEY_NAMES, NUM_KEYS, KeyCodeGuide, format_key, parse_key
from emogen.testing import build_tiny_music_pipeline

A_MINOR = 21


def test_key_names_round_trip_and_aliases():
    assert [parse_key(format_key(k)) for k in range(NUM_KEYS)] == list(range(NUM_KEYS))
    assert len(set(KEY_NAMES)) == NUM_KEYS
    assert parse_key("Am") == parse_key("a minor") == parse_key(" A  min ") == A_MINOR
    assert parse_key("C#m") == parse_key("Db minor") == 13
    assert parse_key("Bb") == parse_key("A# major") == 10
    assert parse_key("B#") == 0 and parse_key("Cb") == 11
    for bad in ("H minor", "", "C dorian", "C##"):
        with pytest.raises(ValueError, match="unknown key"):
            parse_key(bad)


def _counts() -> torch.Tensor:
    """Two columns of 4 codes: code 1 only ever in A minor bars, code 2 only in C major, codes 0 and 3 everywhere."""
    counts = torch.zeros(2, 4, NUM_KEYS)
    counts[:, 0] = 10.0
    counts[:, 3] = 10.0
    counts[:, 1, A_MINOR] = 50.0
    counts[:, 2, 0] = 50.0
    return counts


def test_log_ratios_favour_the_keys_a_code_was_seen_in():
    guide = KeyCodeGuide.from_counts([5, 6], _counts(), [0.2, 0.7, 0.6, 0.3, 0.45], smoothing=1.0)
    assert guide.guides(5) and guide.guides(6) and not guide.guides(4)
    in_a_minor, in_c_major = guide.bonus(5, torch.tensor([A_MINOR]))[0], guide.bonus(5, torch.tensor([0]))[0]
    assert in_a_minor[1] > 2.0 and in_c_major[1] < -2.0  # code 1 says A minor
    assert in_c_major[2] > 2.0 and in_a_minor[2] < -2.0  # code 2 says C major
    assert in_a_minor[1] > in_a_minor[0] > in_a_minor[2]  # a code seen under every key says less either way
    everywhere = guide.bonus(5, torch.arange(1, 12))[:, 0]  # keys no code singles out: all alike for code 0
    assert float(everywhere.std()) < 1e-4
    strong = KeyCodeGuide.from_counts([5, 6], _counts(), [0.5] * 5, smoothing=1000.0)
    assert strong.bonus(5, torch.tensor([A_MINOR]))[0, 1] < in_a_minor[1]  # smoothing pulls toward "no information"


def test_guide_save_load_round_trip(tmp_path):
    guide = KeyCodeGuide.from_counts([5, 6], _counts(), [0.2, 0.7, 0.6, 0.3, 0.45])
    guide.save_pretrained(tmp_path / "key_guide")
    loaded = KeyCodeGuide.from_pretrained(tmp_path / "key_guide")
    assert list(loaded.config.columns) == [5, 6] and list(loaded.config.minor_share) == pytest.approx([0.2, 0.7, 0.6, 0.3, 0.45])
    assert torch.allclose(loaded.log_ratio, guide.log_ratio, atol=1e-2)  # stored in float16
    assert loaded.guides(6) and not loaded.guides(0)


def test_minor_probability_moves_from_all_music_to_the_quadrant_with_intensity():
    guide = KeyCodeGuide(columns=[0], codebook_size=2, minor_share=[0.2, 0.8, 0.6, 0.3, 0.45])
    v = torch.tensor([0.5, -0.5, -0.5, 0.5, -0.5, -0.5])
    a = torch.tensor([0.5, 0.5, -0.5, -0.5, 0.5, 0.5])
    p = guide.minor_probability(v, a, torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 0.5]))
    assert p.tolist() == pytest.approx([0.2, 0.8, 0.6, 0.3, 0.45, 0.625])


def test_drawn_keys_follow_the_minor_share_and_the_generators():
    guide = KeyCodeGuide(columns=[0], codebook_size=2, minor_share=[0.0, 1.0, 0.5, 0.0, 0.5])
    n = 400
    angry = guide.draw_keys(torch.full((n,), -0.5), torch.full((n,), 0.5), torch.ones(n), torch.Generator().manual_seed(0))
    happy = guide.draw_keys(torch.full((n,), 0.5), torch.full((n,), 0.5), torch.ones(n), torch.Generator().manual_seed(0))
    assert bool((angry >= 12).all()) and bool((happy < 12).all())
    assert len(set((angry % 12).tolist())) == 12  # every tonic turns up
    gens = lambda: [torch.Generator().manual_seed(s) for s in (1, 2, 3)]  # noqa: E731
    args = (torch.zeros(3), torch.zeros(3), torch.full((3,), 0.5))
    assert torch.equal(guide.draw_keys(*args, gens()), guide.draw_keys(*args, gens()))


def _steering_pipeline():
    """The tiny pipeline with a guide that makes code 3 of every pitch column overwhelming in A minor only."""
    pipe = build_tiny_music_pipeline()
    columns = pipe.vqvae.element_columns("pitch")
    guide = KeyCodeGuide(columns=columns, codebook_size=pipe.vqvae.token_codebook_sizes[columns[0]], minor_share=[0.5] * 5)
    guide.log_ratio[:, 3, A_MINOR] = 50.0
    pipe.register_modules(key_guide=guide.eval())
    return pipe, columns


def test_pipeline_steers_the_pitch_codes_to_the_chosen_key():
    pipe, columns = _steering_pipeline()
    out = pipe("sad:0.8", num_bars=3, batch_size=2, key="A minor", generator=torch.Generator().manual_seed(0))
    assert out.key_names == ["A minor", "A minor"]
    assert bool((out.codes[..., columns] == 3).all())
    other = pipe("sad:0.8", num_bars=3, batch_size=2, key="C major", generator=torch.Generator().manual_seed(0))
    assert other.key_names == ["C major", "C major"] and not bool((other.codes[..., columns] == 3).all())
    off = pipe("sad:0.8", num_bars=3, key_guidance=0.0, generator=torch.Generator().manual_seed(0))
    assert off.key_names == []


def test_pipeline_draws_a_key_for_each_piece_and_refuses_bad_keys():
    pipe, _ = _steering_pipeline()
    gens = [torch.Generator().manual_seed(s) for s in range(8)]
    out = pipe("angry:1", num_bars=2, batch_size=8, generator=gens)
    assert len(out.key_names) == 8 and set(out.key_names) <= set(KEY_NAMES) and len(set(out.key_names)) > 1
    with pytest.raises(InputError, match="unknown key"):
        pipe("sad:0.5", num_bars=2, key="H minor")
    with pytest.raises(InputError, match="key guidance 0"):
        pipe("sad:0.5", num_bars=2, key="A minor", key_guidance=0.0)
    with pytest.raises(InputError, match="key guidance must be"):
        pipe("sad:0.5", num_bars=2, key_guidance=-1.0)
    plain = build_tiny_music_pipeline()
    with pytest.raises(InputError, match="no key guide"):
        plain("sad:0.5", num_bars=2, key="A minor")
    assert plain("sad:0.5", num_bars=2).key_names == []


def test_transfer_keeps_the_reference_tonic():
    from emogen.music.features import clip_keys
    from emogen.music.representation import BarGrid

    pipe, _ = _steering_pipeline()
    onsets = torch.zeros(2, 16, 88, dtype=torch.bool)
    for step in range(0, 16, 4):  # a D major arpeggio: D4, F#4, A4 (key index = MIDI - 21)
        onsets[:, step, [62 - 21, 66 - 21, 69 - 21]] = True
    durations = torch.full((2, 16, 88), 3, dtype=torch.int8)
    reference = BarGrid(onsets.numpy(), durations.numpy(), torch.full((2, 16, 88), 8, dtype=torch.int8).numpy())
    assert int(clip_keys(onsets[None], durations[None].long())[0]) == 2  # D major
    out = pipe("sad:1", reference=reference, transfer_elements=["pitch"], batch_size=6,
               generator=[torch.Generator().manual_seed(s) for s in range(6)])
    assert {name.split()[0] for name in out.key_names} == {"D"}


def test_cli_refuses_an_unknown_key_with_one_line(tmp_path):
    out = tmp_path / "x.mid"
    result = CliRunner().invoke(app, ["music", "--emotion", "sad:0.8", "--key", "H minor", "-o", str(out)])
    assert result.exit_code == 2
    assert "unknown key 'H minor'" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()
    result = CliRunner().invoke(app, ["music", "--key", "A minor", "--key-guidance", "0", "-o", str(out)])
    assert result.exit_code == 2 and "--key-guidance 0" in result.output


def test_shipped_model_writes_angry_music_in_minor_more_often_than_happy():
    """The shipped model's property this guide exists for: EMOPIA's angry clips are mostly minor, its happy ones
    mostly major, and so is the music (without the guide the model wrote about a quarter in minor for both)."""
    from emogen.music.stats import note_array, piece_statistics
    from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline

    pipe = EmoMusicPipeline.from_shipped("music")
    pipe.set_progress_bar_config(disable=True)
    if pipe.key_guide is None:
        pytest.skip("the shipped music checkpoint has no key guide")

    def minor_share(emotion: str, **kwargs) -> float:
        out = pipe(emotion, num_bars=8, batch_size=12, generator=[torch.Generator().manual_seed(s) for s in range(12)], **kwargs)
        modes = [piece_statistics(note_array(s, tempo=120.0))["mode"] for s in out.sequences]
        return sum(m < 0 for m in modes) / len(modes)

    angry, happy = minor_share("angry:1"), minor_share("happy:1")
    assert angry >= happy + 0.3, (angry, happy)
    assert minor_share("happy:1", key="E minor") >= 0.6
