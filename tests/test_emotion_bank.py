"""EmotionBank (directional intensity, mixtures, VAD read-back, scoring, save/load), EmotionCondition and
EmotionDropout."""

from __future__ import annotations

import json

import pytest
import torch

from emogen.emotion import CATEGORIES, VAD_ANCHORS, EmotionBank, EmotionCondition, EmotionDropout, EmotionSpec
from emogen.errors import EmotionSpecError

NON_NEUTRAL = [c for c in CATEGORIES if c != "neutral"]
INTENSITIES = [i / 10 for i in range(11)]


@pytest.fixture(scope="module")
def bank() -> EmotionBank:
    return EmotionBank().eval()


@pytest.fixture(scope="module")
def perturbed_bank() -> EmotionBank:
    """A bank whose parameters are no longer the initial layout (as after training)."""
    bank = EmotionBank(embedding_dim=20)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in bank.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))
    return bank.eval()


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5) -> bool:
    return torch.allclose(a.detach(), b.detach(), atol=atol, rtol=0)


# ----------------------------------------------------------------------------- conditions from specs


@pytest.mark.parametrize("spec", ["happy:0", "neutral", "neutral:0.4", "surprised:0+happy:0"])
def test_zero_intensity_and_neutral_give_the_neutral_mean(bank, perturbed_bank, spec):
    for b in (bank, perturbed_bank):
        condition = b.condition(spec)
        assert _close(condition.embedding[0], b.means[0])
        assert condition.intensity.tolist() == [0.0]
        assert condition.weights[0, 0].item() == pytest.approx(1.0)


@pytest.mark.parametrize("category", NON_NEUTRAL)
def test_projected_intensity_is_monotonic_and_equals_the_request(bank, perturbed_bank, category):
    for b in (bank, perturbed_bank):
        embeddings = torch.cat([b.condition(f"{category}:{a}").embedding for a in INTENSITIES])
        projected = b.project_intensity(embeddings, category).detach()
        assert projected.shape == (len(INTENSITIES),)
        assert torch.all(projected[1:] > projected[:-1])
        assert projected.tolist() == pytest.approx(INTENSITIES, abs=1e-5)


@pytest.mark.parametrize("category", NON_NEUTRAL)
def test_intensity_one_reaches_the_category_mean(bank, category):
    condition = bank.condition(category)
    assert _close(condition.embedding[0], bank.means[bank.category_index(category)])
    assert condition.intensity.item() == pytest.approx(1.0)


def test_mixture_directions_add(bank, perturbed_bank):
    for b in (bank, perturbed_bank):
        d = b.directions.detach()
        expected = b.means[0] + 0.6 * d[b.category_index("happy")] + 0.3 * d[b.category_index("surprised")]
        condition = b.condition("happy:0.6+surprised:0.3")
        assert _close(condition.embedding[0], expected)
        assert condition.intensity.item() == pytest.approx(0.9)
        # projecting on the mixture's own direction gives back its total intensity
        total = b.project_intensity(condition.embedding, "happy:0.6+surprised:0.3")
        assert total.item() == pytest.approx(0.9, abs=1e-5)


def test_directions_row_zero_is_zero(bank):
    assert torch.count_nonzero(bank.directions[0]) == 0
    assert bank.directions.shape == (len(CATEGORIES), bank.config.embedding_dim)


@pytest.mark.parametrize(
    "spec",
    ["happy", "happy:0.7", "happy:0.6+surprised:0.3", "happy:0.9+sad:0.9", "neutral", "happy:0", "va:0.5,-0.2", "vad:-0.3,0.8,0.2", "va:0,0"],
)
def test_weights_are_a_distribution(bank, spec):
    weights = bank.condition(spec).weights
    assert weights.shape == (1, len(CATEGORIES))
    assert torch.all(weights >= 0)
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_weights_of_a_single_category(bank):
    weights = bank.condition("happy:0.7").weights[0]
    assert weights[bank.category_index("happy")].item() == pytest.approx(0.7)
    assert weights[0].item() == pytest.approx(0.3)


@pytest.mark.parametrize("category", CATEGORIES)
def test_vad_at_full_intensity_is_the_anchor(bank, category):
    anchor = torch.tensor(VAD_ANCHORS[category])
    condition = bank.condition(category)
    assert _close(condition.vad[0], anchor)
    assert _close(bank.vad(condition.embedding)[0], anchor)


@pytest.mark.parametrize("coords", [(0.5, -0.2), (0.0, 0.0), (-1.0, -1.0), (1.0, 1.0), (-0.7, 0.9), (0.05, 0.02)])
def test_va_spec_reads_back_valence_and_arousal(bank, perturbed_bank, coords):
    for b in (bank, perturbed_bank):
        condition = b.condition(f"va:{coords[0]},{coords[1]}")
        read = b.vad(condition.embedding)[0]
        assert read[:2].tolist() == pytest.approx(list(coords), abs=1e-4)
        assert _close(condition.vad[0], read, atol=1e-5)
        assert 0.0 <= condition.intensity.item() <= 1.0


@pytest.mark.parametrize("coords", [(0.5, -0.2, 0.1), (0.0, 0.0, 0.0), (-1.0, 1.0, -1.0), (0.3, -0.9, 0.8)])
def test_vad_spec_reads_back_all_three(bank, perturbed_bank, coords):
    for b in (bank, perturbed_bank):
        condition = b.condition("vad:" + ",".join(str(c) for c in coords))
        read = b.vad(condition.embedding)[0]
        assert read.tolist() == pytest.approx(list(coords), abs=1e-4)
        assert condition.vad[0].tolist() == pytest.approx(list(coords), abs=1e-4)


def test_va_spec_near_a_category_points_to_it(bank):
    v, a, _ = VAD_ANCHORS["sad"]
    condition = bank.condition(f"va:{v},{a}")
    assert condition.weights[0].argmax().item() == bank.category_index("sad")
    assert bank.nearest(condition.embedding) == ["sad"]


def test_auto_cannot_be_a_condition(bank):
    with pytest.raises(EmotionSpecError, match="auto"):
        bank.condition("auto")


def test_condition_rejects_bad_specs(bank):
    with pytest.raises(EmotionSpecError, match="happy"):
        bank.condition("hapy:0.7")


def test_condition_accepts_a_parsed_spec(bank):
    spec = EmotionSpec.parse("happy:0.7")
    assert torch.equal(bank.condition(spec).embedding, bank.condition("happy:0.7").embedding)


def test_condition_batch_size(bank):
    dim = bank.config.embedding_dim
    condition = bank.condition("happy:0.7", batch_size=3)
    assert condition.batch_size == 3
    assert condition.embedding.shape == (3, dim)
    assert condition.vad.shape == (3, 3)
    assert condition.weights.shape == (3, len(CATEGORIES))
    assert condition.intensity.shape == (3,)
    assert condition.mask.shape == (3,)
    assert torch.all(condition.mask == 1)
    one = bank.condition("happy:0.7")
    assert torch.equal(condition.embedding, one.embedding.expand(3, -1))


def test_condition_batch_one_row_per_spec(bank):
    specs = ["happy:0.7", "sad:0.2", "va:0.5,-0.2"]
    batch = bank.condition_batch(specs)
    assert batch.batch_size == 3
    for i, spec in enumerate(specs):
        assert torch.equal(batch.embedding[i], bank.condition(spec).embedding[0])


def test_category_index_of_unknown_raises(bank):
    with pytest.raises(EmotionSpecError, match="not in this bank"):
        bank.category_index("joy")


def test_direction_needs_a_categorical_spec(bank):
    with pytest.raises(EmotionSpecError):
        bank.direction("va:0.5,-0.2")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"categories": ["happy", "neutral"], "vad_anchors": [[0, 0, 0], [0, 0, 0]]}, "neutral"),
        ({"embedding_dim": 5}, "embedding_dim"),
        ({"vad_anchors": [[0.0, 0.0, 0.0]]}, "one VAD anchor per category"),
    ],
)
def test_bad_bank_configs_raise(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        EmotionBank(**kwargs)


# ----------------------------------------------------------------------------- scoring


def test_nearest_category_of_each_mean_is_itself(bank, perturbed_bank):
    for b in (bank, perturbed_bank):
        assert b.nearest(b.means.detach()) == list(CATEGORIES)


def test_log_likelihood_shape_and_argmax(bank):
    means = bank.means.detach()
    embeddings = torch.cat([means, means[:2] + 0.01])
    ll = bank.log_likelihood(embeddings)
    assert ll.shape == (len(CATEGORIES) + 2, len(CATEGORIES))
    assert ll.argmax(-1).tolist() == list(range(len(CATEGORIES))) + [0, 1]
    assert torch.all(torch.isfinite(ll))


def test_probabilities_are_a_distribution(bank):
    probabilities = bank.probabilities(bank.condition_batch(["happy:0.3", "sad", "va:0.1,0.1"]).embedding)
    assert probabilities.shape == (3, len(CATEGORIES))
    assert probabilities.sum(-1).tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)


def test_nearest_follows_intensity(bank):
    low, high = bank.condition("angry:0.1").embedding, bank.condition("angry:0.9").embedding
    assert bank.nearest(torch.cat([low, high])) == ["neutral", "angry"]


# ----------------------------------------------------------------------------- EmotionCondition


def _condition(bank: EmotionBank) -> EmotionCondition:
    return bank.condition_batch(["happy:0.7", "sad:0.4", "va:0.5,-0.2"])


def test_null_like(bank):
    condition = _condition(bank)
    null = condition.null_like()
    assert null.batch_size == 3
    for name in ("embedding", "vad", "weights", "intensity", "mask"):
        value, empty = getattr(condition, name), getattr(null, name)
        assert empty.shape == value.shape
        assert empty.dtype == value.dtype
        assert torch.count_nonzero(empty) == 0
    assert torch.all(condition.mask == 1)  # the original is untouched


def test_select_nullifies_dropped_rows_only(bank):
    condition = _condition(bank)
    keep = torch.tensor([True, False, True])
    selected = condition.select(keep)
    assert selected is not condition
    for name in ("embedding", "vad", "weights", "intensity", "mask"):
        value, picked = getattr(condition, name), getattr(selected, name)
        assert torch.equal(picked[0], value[0])
        assert torch.equal(picked[2], value[2])
        assert torch.count_nonzero(picked[1]) == 0
    assert selected.mask.tolist() == [1.0, 0.0, 1.0]
    assert condition.mask.tolist() == [1.0, 1.0, 1.0]


def test_cat_and_repeat(bank):
    a, b = bank.condition("happy:0.7"), bank.condition_batch(["sad:0.4", "calm"])
    joined = EmotionCondition.cat([a, b])
    assert joined.batch_size == 3
    assert torch.equal(joined.embedding[0], a.embedding[0])
    assert torch.equal(joined.embedding[1:], b.embedding)

    repeated = b.repeat(2)
    assert repeated.batch_size == 4
    assert torch.equal(repeated.embedding, torch.stack([b.embedding[0], b.embedding[0], b.embedding[1], b.embedding[1]]))
    assert torch.equal(repeated.intensity, b.intensity.repeat_interleave(2))


def test_cat_of_nothing_raises():
    with pytest.raises(ValueError, match="at least one"):
        EmotionCondition.cat([])


def test_to_dtype_and_device(bank):
    condition = _condition(bank)
    double = condition.to(dtype=torch.float64)
    for name in ("embedding", "vad", "weights", "intensity", "mask"):
        assert getattr(double, name).dtype == torch.float64
        assert torch.allclose(getattr(double, name), getattr(condition, name).double())
    moved = condition.to("cpu")
    assert moved.embedding.device.type == "cpu"
    assert torch.equal(moved.embedding, condition.embedding)


# ----------------------------------------------------------------------------- EmotionDropout


def test_dropout_does_nothing_in_eval_mode(bank):
    condition = bank.condition("happy:0.7", batch_size=64)
    dropout = EmotionDropout(p=0.9, seed=0).eval()
    out = dropout(condition)
    assert torch.equal(out.embedding, condition.embedding)
    assert torch.all(out.mask == 1)


def test_dropout_p_zero_and_one(bank):
    condition = bank.condition("happy:0.7", batch_size=32)
    assert torch.all(EmotionDropout(p=0.0).train()(condition).mask == 1)
    dropped = EmotionDropout(p=1.0).train()(condition)
    assert torch.all(dropped.mask == 0)
    assert torch.count_nonzero(dropped.embedding) == 0


def test_dropout_drops_about_p_of_the_rows_and_never_mutates(bank):
    condition = bank.condition("happy:0.7", batch_size=2000)
    before = condition.embedding.clone()
    out = EmotionDropout(p=0.3, seed=7).train()(condition)
    dropped = out.mask == 0
    assert 0.25 < dropped.float().mean().item() < 0.35
    assert torch.count_nonzero(out.embedding[dropped]) == 0
    assert torch.equal(out.embedding[~dropped], condition.embedding[~dropped])
    assert torch.equal(condition.embedding, before)
    assert torch.all(condition.mask == 1)


def test_dropout_is_deterministic_per_seed_and_ignores_the_global_rng(bank):
    condition = bank.condition("happy:0.7", batch_size=200)
    first, second = EmotionDropout(p=0.5, seed=11).train(), EmotionDropout(p=0.5, seed=11).train()
    masks_first = [first(condition).mask for _ in range(3)]
    torch.rand(100)  # global RNG use must not matter
    masks_second = [second(condition).mask for _ in range(3)]
    for a, b in zip(masks_first, masks_second):
        assert torch.equal(a, b)
    assert not torch.equal(masks_first[0], masks_first[1])  # the generator advances between calls
    other = EmotionDropout(p=0.5, seed=12).train()(condition).mask
    assert not torch.equal(other, masks_first[0])


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match="p must be in"):
        EmotionDropout(p=p)


# ----------------------------------------------------------------------------- save / load


def test_save_and_load_round_trip(perturbed_bank, tmp_path):
    perturbed_bank.save_pretrained(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "config.json" in files
    weights = [name for name in files if name != "config.json"]
    assert weights and all(name.endswith(".safetensors") for name in weights)

    config = json.loads((tmp_path / "config.json").read_text())
    assert config["_class_name"] == "EmotionBank"
    assert config["categories"] == list(CATEGORIES)
    assert config["embedding_dim"] == 20

    loaded = EmotionBank.from_pretrained(tmp_path)
    assert loaded.categories == list(CATEGORIES)
    assert loaded.config.embedding_dim == 20
    original, restored = perturbed_bank.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for name in original:
        assert torch.equal(original[name], restored[name]), name

    for spec in ["happy:0.6+surprised:0.3", "va:0.5,-0.2", "vad:0.1,0.2,0.3", "neutral"]:
        a, b = perturbed_bank.condition(spec), loaded.condition(spec)
        for name in ("embedding", "vad", "weights", "intensity", "mask"):
            assert torch.equal(getattr(a, name), getattr(b, name)), (spec, name)


def test_save_and_load_a_custom_taxonomy(tmp_path):
    bank = EmotionBank(categories=["neutral", "happy", "sad"], vad_anchors=[[0, 0, 0], [0.8, 0.5, 0.4], [-0.6, -0.3, -0.3]], embedding_dim=8)
    bank.save_pretrained(tmp_path)
    loaded = EmotionBank.from_pretrained(tmp_path)
    assert loaded.categories == ["neutral", "happy", "sad"]
    assert torch.equal(loaded.anchor_vad, bank.anchor_vad)
    assert torch.equal(loaded.condition("sad:0.5").embedding, bank.condition("sad:0.5").embedding)
    with pytest.raises(EmotionSpecError, match="not in this bank"):
        loaded.condition("angry")


def test_neutral_share_in_a_mixture_is_its_own_weight():
    bank = EmotionBank()
    weights = bank.condition("neutral:0.5+happy:0.5").weights[0]
    assert weights[bank.category_index("neutral")].item() == pytest.approx(0.5)
    assert weights[bank.category_index("happy")].item() == pytest.approx(0.5)
