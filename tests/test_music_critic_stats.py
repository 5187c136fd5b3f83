"""Realism statistics, the realism classifier, the sweep measure, the critic's descriptor branch and ``--only critic``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emogen.cli.main import app
from emogen.music.critic import MusicEmotionEncoder
from emogen.music.dataset import stack_grids
from emogen.music.features import DESCRIPTOR_PARTS, DESCRIPTOR_SIZE, clip_descriptor, sounding_roll
from emogen.music.metrics import realism_accuracy, sweep_shape
from emogen.utils.sweep import even_sweep
from emogen.music.representation import BarGrid
from emogen.music.stats import CLIP_STATISTIC_NAMES, NoteArray, bar_repetition, clip_statistics, key_clarity, silent_share


def notes(start, end, pitch, velocity=80.0) -> NoteArray:
    start, end, pitch = (np.asarray(x, dtype=np.float64) for x in (start, end, pitch))
    return NoteArray(start, end, pitch, np.full(len(pitch), float(velocity)))


def test_key_clarity_scale_beats_cluster():
    scale = notes(np.arange(8) * 0.5, np.arange(8) * 0.5 + 0.4, [60, 62, 64, 65, 67, 69, 71, 72])
    cluster = notes(np.zeros(12), np.full(12, 2.0), np.arange(60, 72))
    assert key_clarity(scale) > 0.85
    assert key_clarity(scale) > key_clarity(cluster)


def test_clip_statistics_of_a_known_sequence():
    # bar 0 (0-2 s): a C major chord at 0, bar 1 (2-4 s): the same chord at 2 s; nothing sounds from 0.5 to 2 s
    seq = notes([0, 0, 0, 2, 2, 2], [0.4] * 3 + [2.4] * 3, [60, 64, 67] * 2, velocity=64)
    stats = clip_statistics(seq)
    assert set(stats) == set(CLIP_STATISTIC_NAMES)
    assert stats["notes_per_second"] == pytest.approx(6 / 2.4)
    assert stats["silent_share"] == pytest.approx(3 / 5)  # windows 0.5, 1.0, 1.5 of [0, 2.4) are silent
    assert silent_share(seq, window=1.0) == pytest.approx(1 / 3)
    assert stats["pitch_range"] == 7 and stats["pitch_mean"] == pytest.approx(191 / 3)
    assert stats["velocity_mean"] == 64 and stats["polyphony"] == pytest.approx(3.0)
    assert stats["bar_repetition"] == pytest.approx(1.0)
    moved = notes([0, 0, 0, 2.125, 2.125, 2.125], [0.4] * 3 + [2.4] * 3, [60, 64, 67] * 2)
    assert bar_repetition(moved) == 0.0


def test_realism_classifier_is_chance_on_one_distribution():
    rng = np.random.default_rng(0)
    same = realism_accuracy(rng.normal(size=(150, 6)), rng.normal(size=(150, 6)), repeats=2)
    apart = realism_accuracy(rng.normal(size=(150, 6)), rng.normal(size=(150, 6)) + 1.5, repeats=2)
    assert abs(same - 0.5) < 0.1
    assert apart > 0.9


def test_sweep_shape():
    levels = np.array([0, 0.25, 0.5, 0.75, 1])
    even = sweep_shape(levels, levels * 2)
    assert even["rho"] == pytest.approx(1.0) and even["largest_step"] == pytest.approx(0.25)
    jump = sweep_shape(levels, [0, 0, 0, 0, 1])
    assert jump["largest_step"] == pytest.approx(1.0)
    assert sweep_shape(levels, [3, 3, 3, 3, 3]) == {"rho": 0.0, "largest_step": 0.0}


def test_even_sweep_counts_one_swapped_pair_as_monotone():
    """Five levels with one neighbouring pair swapped have a Spearman of exactly 0.9 (computed as 0.8999...)."""
    levels = np.array([0, 0.25, 0.5, 0.75, 1])
    swapped = sweep_shape(levels, [4.689, 4.590, 4.707, 4.857, 5.019])
    assert swapped["rho"] < 0.9 and even_sweep(swapped)
    assert even_sweep(sweep_shape(levels, [5, 4, 3, 2, 1])) and not even_sweep(sweep_shape(levels, [5, 4, 3, 2, 1]), signed=True)
    assert not even_sweep(sweep_shape(levels, [0, 0.1, 0.2, 0.3, 2.0]))  # one step carries most of the change


def random_grid(bars: int, seed: int, density: float = 0.03) -> BarGrid:
    rng = np.random.default_rng(seed)
    onsets = rng.random((bars, 16, 88)) < density
    onsets[..., :20] = False  # leave room to transpose down and up without losing notes
    onsets[..., 68:] = False
    durations = rng.integers(0, 10, onsets.shape).astype(np.int8) * onsets
    velocities = rng.integers(0, 16, onsets.shape).astype(np.int8) * onsets
    return BarGrid(onsets, durations, velocities)


def test_descriptor_shape_padding_and_transposition():
    grids = [random_grid(6, 0), random_grid(3, 1)]
    o, d, v, m = stack_grids(grids)
    batch = clip_descriptor(o, d, v, m)
    assert batch.shape == (2, DESCRIPTOR_SIZE) and torch.isfinite(batch).all()
    alone = clip_descriptor(*stack_grids([grids[1]]))
    assert torch.allclose(batch[1], alone[0], atol=1e-5)  # padded bars are invisible
    shifted = clip_descriptor(*stack_grids([grids[0].transpose(5)]))
    sizes = list(DESCRIPTOR_PARTS.values())
    invariant = sum(sizes[: list(DESCRIPTOR_PARTS).index("register")])  # key .. triads do not move with the key
    assert torch.allclose(batch[0, :invariant], shifted[0, :invariant], atol=1e-5)


def test_sounding_roll_holds_notes_for_their_duration():
    o = torch.zeros(1, 1, 16, 88, dtype=torch.bool)
    d = torch.zeros(1, 1, 16, 88, dtype=torch.long)
    o[0, 0, 2, 40] = True
    d[0, 0, 2, 40] = 3  # class 3 = 4 sixteenths
    roll = sounding_roll(o, d)[0, :, 40]
    assert roll.tolist() == [0, 0, 1, 1, 1, 1] + [0] * 10


def test_critic_with_descriptor_round_trips(tmp_path):
    critic = MusicEmotionEncoder(hidden_dim=8, descriptor_hidden=8)
    critic.set_descriptor_statistics(torch.randn(20, DESCRIPTOR_SIZE) * 2 + 1)
    critic.eval()
    o, d, v, m = stack_grids([random_grid(4, 2), random_grid(2, 3)])
    before = critic(o, d, v, m).embedding
    critic.save_pretrained(tmp_path / "critic")
    loaded = MusicEmotionEncoder.from_pretrained(tmp_path / "critic").eval()
    assert loaded.config.descriptor_hidden == 8
    assert torch.allclose(loaded.descriptor_scale, critic.descriptor_scale)
    assert torch.allclose(loaded(o, d, v, m).embedding, before, atol=1e-6)
    plain = MusicEmotionEncoder(hidden_dim=8)  # the first critic's layout: no descriptor branch
    assert plain.descriptor is None
    with pytest.raises(ValueError, match="descriptor_hidden"):
        plain.set_descriptor_statistics(torch.zeros(2, DESCRIPTOR_SIZE))


def test_only_option_parses(tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(app, ["train", "music", "--help"]).output
    assert "--only" in help_text
    bad = runner.invoke(app, ["train", "music", "--only", "vqvae", "--output", str(tmp_path / "m")])
    assert bad.exit_code == 2
    missing = runner.invoke(app, ["train", "music", "--only", "critic", "--output", str(tmp_path / "none")])
    assert missing.exit_code == 2
    assert "model_index.json" in missing.output


def test_copy_index_longest_run_matches_exhaustive_search():
    """The doubling-then-bisection search finds the same longest copied run as trying every length."""
    import random

    from emogen.music.metrics import CopyIndex

    rng = random.Random(0)
    training = [[(rng.randint(0, 3), rng.randint(60, 64)) for _ in range(120)] for _ in range(8)]
    index = CopyIndex(training)

    def exhaustive(generated):
        return max([n for n in range(1, len(generated) + 1)
                    if CopyIndex.grams(generated, n) & set().union(*(CopyIndex.grams(t, n) for t in training))], default=0)

    for k in range(20):
        generated = [(rng.randint(0, 3), rng.randint(60, 64)) for _ in range(rng.randint(0, 30))]
        if k % 2 and len(generated) > 5:
            generated[2:2] = training[k % 8][40:52]  # a copied run of 12 notes
        assert index.longest_run(generated) == exhaustive(generated)


def test_linear_critic_reads_only_the_descriptor_and_round_trips(tmp_path):
    critic = MusicEmotionEncoder(linear=True)
    assert not hasattr(critic, "bar") and critic.out.in_features == DESCRIPTOR_SIZE
    critic.set_descriptor_statistics(torch.randn(20, DESCRIPTOR_SIZE) * 2 + 1)
    torch.nn.init.normal_(critic.out.weight)
    critic.eval()
    o, d, v, m = stack_grids([random_grid(4, 2), random_grid(2, 3)])
    embedding = critic(o, d, v, m).embedding
    expected = critic.out((clip_descriptor(o, d, v, m) - critic.descriptor_mean) / critic.descriptor_scale)
    assert embedding.shape == (2, 16) and torch.allclose(embedding, expected, atol=1e-6)
    critic.save_pretrained(tmp_path / "critic")
    loaded = MusicEmotionEncoder.from_pretrained(tmp_path / "critic").eval()
    assert loaded.config.linear
    assert torch.allclose(loaded(o, d, v, m).embedding, embedding, atol=1e-6)


def test_train_linear_critic_separates_loud_dense_from_soft_sparse_music():
    """Q1/Q2 clips loud and dense, Q3/Q4 soft and sparse: the fit reads arousal on held-out clips, returns the
    critic with the best val accuracy and reports one history row per L2 weight."""
    from emogen.data.emopia import QUADRANTS
    from emogen.emotion import EmotionBank
    from emogen.music.dataset import MusicClip
    from emogen.music.evaluation import critic_predict
    from emogen.training.music import MusicTrainConfig, train_linear_critic

    def clip(i: int, quadrant: str) -> MusicClip:
        high = quadrant in ("Q1", "Q2")
        grid = random_grid(4, i, density=0.05 if high else 0.01)
        grid.velocities[grid.onsets] = 14 if high else 3
        return MusicClip(name=f"{quadrant}_{i}", quadrant=quadrant, split="train", grid=grid)

    train = [clip(i, QUADRANTS[i % 4]) for i in range(40)]
    val = [clip(100 + i, QUADRANTS[i % 4]) for i in range(16)]
    config = MusicTrainConfig(critic_l2=(0.1, 1.0), critic_linear_steps=150)
    bank = EmotionBank().eval().requires_grad_(False)
    critic, result = train_linear_critic(train, val, bank, config)
    assert critic.config.linear and [row["l2"] for row in result.history] == [0.1, 1.0]
    assert result.best_score == max(row["val_accuracy"] for row in result.history)
    predicted = critic_predict(critic, bank, [c.grid for c in val])
    assert np.mean(predicted == np.array([QUADRANTS.index(c.quadrant) for c in val])) == pytest.approx(result.best_score)
    aroused = np.isin(predicted, [0, 1])
    truth = np.array([c.quadrant in ("Q1", "Q2") for c in val])
    assert (aroused == truth).mean() >= 0.9


def test_music_critic_grades_intensity_by_its_placed_posterior():
    """A sure reading is graded near 1 along its category, an unsure one (the neutral point) well below, as the
    projection of its placed posterior."""
    from emogen.emotion import EmotionBank

    bank, critic = EmotionBank().requires_grad_(False), MusicEmotionEncoder(linear=True)
    sure, unsure = critic.read(bank.means[[bank.category_index("sad"), 0]], bank)
    assert sure.category == "sad" and sure.probabilities["sad"] > 0.99 and sure.intensity > 0.95
    assert max(unsure.probabilities.values()) < 0.7 and unsure.intensity < sure.intensity - 0.2
    placed = critic.place(bank.means[[0]], bank)
    assert unsure.intensity == pytest.approx(float(bank.project_intensity(placed, unsure.category)[0]), abs=1e-6)


def test_linear_critic_flags_pieces_beyond_its_training_range(tmp_path):
    """Descriptors within the training clips' range (plus the margin) are in domain; a lone note is not, and its
    reading is flagged uncertain and out of domain (and says why in its table)."""
    from emogen.emotion import EmotionBank

    critic = MusicEmotionEncoder(linear=True).eval()
    grids = [random_grid(4, seed) for seed in range(30)]
    o, d, v, m = stack_grids(grids)
    critic.set_descriptor_statistics(clip_descriptor(o, d, v, m))
    assert critic(o, d, v, m).in_domain.all()
    lone = random_grid(4, 99, density=0.0)
    lone.onsets[0, 0, 40], lone.durations[0, 0, 40], lone.velocities[0, 0, 40] = True, 3, 8
    out = critic(*stack_grids([lone, grids[0]]))
    assert out.in_domain.tolist() == [False, True]
    bank = EmotionBank().requires_grad_(False)
    odd, usual = critic.read(out.embedding, bank, out.in_domain)
    assert odd.out_of_domain and odd.uncertain and odd.label == "uncertain"
    assert "unlike the critic's training data" in odd.format_table() and odd.to_dict()["out_of_domain"] is True
    assert not usual.out_of_domain
    critic.save_pretrained(tmp_path / "critic")
    loaded = MusicEmotionEncoder.from_pretrained(tmp_path / "critic").eval()
    assert torch.equal(loaded(*stack_grids([lone, grids[0]])).in_domain, out.in_domain)


def test_reading_target_moves_from_average_music_to_the_categorys_typical_reading(tmp_path):
    """Intensity 0 aims at the training clips' average reading, 1 at the category's, mixtures add their steps; other
    requests go through the per-axis line from the anchors to the typical readings; the readings round-trip."""
    from emogen.emotion import EmotionBank, EmotionSpec

    bank, critic = EmotionBank().requires_grad_(False), MusicEmotionEncoder(linear=True)
    requested = torch.tensor([0.3, -0.2])
    assert torch.equal(critic.reading_target(EmotionSpec.parse("sad:1"), requested, bank), requested)  # nothing stored yet
    typical = torch.tensor([[0.4, 0.3], [-0.2, 0.4], [-0.1, -0.2], [0.3, -0.3], [0.1, 0.05]])
    critic.set_typical_readings(typical)
    target = lambda text: critic.reading_target(EmotionSpec.parse(text), requested, bank)  # noqa: E731
    assert torch.allclose(target("sad:1"), typical[2]) and torch.allclose(target("sad:0"), typical[4])
    assert torch.allclose(target("sad:0.5"), (typical[2] + typical[4]) / 2)
    assert torch.allclose(target("happy:0.5+calm:0.5"), typical[4] + 0.5 * (typical[0] - typical[4]) + 0.5 * (typical[3] - typical[4]))
    # when the typical readings are the anchors themselves, the line is the identity: a va request is its own target
    names = list(critic.config.categories) + ["neutral"]
    critic.set_typical_readings(bank.anchor_vad[[bank.category_index(n) for n in names], :2])
    assert torch.allclose(critic.reading_target(EmotionSpec.parse("va:0.3,-0.2"), requested, bank), requested, atol=1e-5)
    critic.save_pretrained(tmp_path / "critic")
    assert MusicEmotionEncoder.from_pretrained(tmp_path / "critic").config.typical_readings == critic.config.typical_readings
    with pytest.raises(ValueError, match="one row per category"):
        critic.set_typical_readings(torch.zeros(4, 2))


def test_recipe_stores_how_the_critic_reads_each_quadrants_training_clips():
    """The typical readings are the mean (valence, arousal) of the calibrated readings per quadrant, then of all clips."""
    from emogen.data.emopia import QUADRANTS
    from emogen.emotion import EmotionBank
    from emogen.music.dataset import MusicClip
    from emogen.music.evaluation import critic_probabilities
    from emogen.training.music import set_music_critic_typical_readings

    bank, critic = EmotionBank().eval().requires_grad_(False), MusicEmotionEncoder(linear=True).eval()
    train = [MusicClip(name=f"c{i}", quadrant=QUADRANTS[i % 4], split="train", grid=random_grid(3, i, density=0.01 + 0.01 * (i % 4)))
             for i in range(12)]
    critic.set_descriptor_statistics(torch.randn(20, DESCRIPTOR_SIZE))
    torch.nn.init.normal_(critic.out.weight, std=0.1)
    rows = np.array(set_music_critic_typical_readings(critic, bank, train))
    va = bank.anchor_mix(torch.from_numpy(critic_probabilities(critic, bank, [c.grid for c in train])).float(),
                         list(critic.config.categories))[:, :2].numpy()
    assert rows.shape == (5, 2)
    assert np.allclose(rows[1], va[1::4].mean(0), atol=1e-5) and np.allclose(rows[4], va.mean(0), atol=1e-5)
