"""The per-slot code layout of the element VQ-VAE (``slots_per_bar > 1``, the shipped music model's) and the
reconstruction and element-transfer measurements of :mod:`emogen.music.evaluation`."""

from __future__ import annotations

import pytest
import torch

from emogen.music.dataset import MusicClip
from emogen.music.evaluation import element_transfer_movement, evaluate_vqvae
from emogen.music.features import ELEMENTS
from emogen.music.representation import BarGrid
from emogen.testing import randomize_parameters, tiny_vqvae

SLOTS = 4


def _slotted(**overrides):
    config = {"slots_per_bar": SLOTS, "latent_dim": 8, "codes_per_element": [SLOTS, 2 * SLOTS, 2, 2], **overrides}
    vq = tiny_vqvae(**config)
    randomize_parameters((vq,), torch.Generator().manual_seed(0))
    return vq.eval()


def _bars(n: int, seed: int = 0, rate: float = 0.03):
    g = torch.Generator().manual_seed(seed)
    onsets = torch.rand(n, 16, 88, generator=g) < rate
    return onsets, torch.randint(0, 10, (n, 16, 88), generator=g), torch.randint(0, 16, (n, 16, 88), generator=g)


def test_slot_layout_shapes_and_columns():
    vq = _slotted()
    bars = _bars(6)
    out = vq(*bars)
    assert tuple(out.codes.shape) == (6, SLOTS + 2 * SLOTS + 2 + 2)
    assert tuple(out.logits.onset.shape) == (6, 16, 88)
    assert tuple(out.logits.duration.shape) == (6, 16, 88, 10)
    assert vq.element_columns("rhythm") == list(range(SLOTS))
    assert vq.element_columns("pitch") == list(range(SLOTS, 3 * SLOTS))
    assert torch.equal(vq.encode(*bars), out.codes)
    assert len(vq.token_codebook_sizes) == out.codes.shape[1]


def test_a_slot_latent_reads_only_its_own_slot():
    """Notes added in the last slot change that slot's rhythm and pitch latents and no other slot's."""
    vq = _slotted()
    onsets, durations, velocities = _bars(4, rate=0.0)
    onsets[:, 1, 40] = True  # a note in slot 0
    width = 16 // SLOTS
    changed = onsets.clone()
    changed[:, 16 - width, [30, 50, 70]] = True  # a chord in the last slot
    with torch.no_grad():
        before, after = vq.latents(onsets, durations, velocities), vq.latents(changed, durations, velocities)
    for element in ("rhythm", "pitch"):
        a, b = before[element].view(4, SLOTS, -1), after[element].view(4, SLOTS, -1)
        assert torch.equal(a[:, :-1], b[:, :-1]), f"{element}: an earlier slot moved"
        assert not torch.allclose(a[:, -1], b[:, -1]), f"{element}: the last slot did not move"


def test_slot_onsets_decode_from_rhythm_and_pitch_codes_only():
    vq = _slotted()
    codes = vq.encode(*_bars(3))
    other = codes.clone()
    for element in ("duration", "velocity"):
        cols = vq.element_columns(element)
        other[:, cols] = (other[:, cols] + 1) % 8
    a, b = vq.decode(codes), vq.decode(other)
    assert torch.equal(a.onset, b.onset)
    assert not torch.equal(a.velocity, b.velocity)


def test_slot_layout_save_load_round_trip(tmp_path):
    vq = _slotted()
    with torch.no_grad():  # weights are stored in float16: values already float16 round-trip exactly
        for p in vq.parameters():
            p.copy_(p.half().float())
    vq.save_pretrained(str(tmp_path / "vq"))
    loaded = type(vq).from_pretrained(str(tmp_path / "vq")).eval()
    assert loaded.config.slots_per_bar == SLOTS
    bars = _bars(3)
    assert torch.equal(loaded.encode(*bars), vq.encode(*bars))
    assert torch.allclose(loaded(*bars).logits.onset, vq(*bars).logits.onset)


@pytest.mark.parametrize("overrides", [{"slots_per_bar": 3}, {"codes_per_element": [SLOTS // 2, 2 * SLOTS, 2, 2]}])
def test_slot_layout_rejects_inconsistent_sizes(overrides):
    with pytest.raises(ValueError, match="slots_per_bar"):
        _slotted(**overrides)


def _clips(n: int) -> list[MusicClip]:
    out = []
    for i in range(n):
        onsets, durations, velocities = _bars(4, seed=i)
        grid = BarGrid(onsets.numpy(), durations.numpy().astype("int8"), velocities.numpy().astype("int8"), 120.0)
        out.append(MusicClip(name=f"c{i}", quadrant="Q1", split="test", grid=grid))
    return out


def test_evaluate_vqvae_scores_are_rates_and_batching_does_not_change_them():
    vq = _slotted()
    clips = _clips(5)
    whole, batched = evaluate_vqvae(vq, clips), evaluate_vqvae(vq, clips, batch=3)
    for key in ("onset_f1", "pitch_f1", "position_f1", "duration_accuracy", "velocity_accuracy", "velocity_within_one"):
        assert 0.0 <= whole[key] <= 1.0
        assert whole[key] == pytest.approx(batched[key], abs=1e-4)
    assert whole["velocity_within_one"] >= whole["velocity_accuracy"]
    assert whole["onset_bce"] == pytest.approx(batched["onset_bce"], abs=1e-3)
    assert len(whole["codes_used"]) == len(vq.token_codebook_sizes)


def test_element_transfer_movement_separates_duration_and_velocity():
    """Taking another bar's duration or velocity codes cannot move where and which notes start; taking all
    of one element's codes moves that element's own statistic."""
    vq = _slotted()
    moved = element_transfer_movement(vq, *_bars(40))
    assert set(moved) == set(ELEMENTS)
    for element in ("duration", "velocity"):
        assert moved[element]["rhythm"] == 0.0 and moved[element]["pitch"] == 0.0
        assert moved[element][element] > 0.05
    assert moved["rhythm"]["rhythm"] > 0.05 and moved["pitch"]["pitch"] > 0.05


def test_prior_emotion_information_bounds():
    """The label entropy is log 4 for balanced quadrants and 0 for one; the classifier accuracy is a rate."""
    from emogen.emotion import EmotionBank
    from emogen.music.evaluation import prior_emotion_information
    from emogen.testing import TINY_CODEBOOK_SIZES, tiny_prior

    bank = EmotionBank().eval()
    prior = tiny_prior(emotion_dim=bank.config.embedding_dim).eval()
    g = torch.Generator().manual_seed(0)
    codes = [torch.stack([torch.randint(0, k, (3,), generator=g) for k in TINY_CODEBOOK_SIZES], -1) for _ in range(8)]
    balanced = [(c, cat) for c, cat in zip(codes, ["happy", "angry", "sad", "calm"] * 2)]
    info = prior_emotion_information(prior, balanced, bank)
    assert info["label_entropy"] == pytest.approx(float(torch.log(torch.tensor(4.0))), abs=1e-6)
    assert 0.0 <= info["quadrant_accuracy"] <= 1.0 and torch.isfinite(torch.tensor(info["nats_per_clip"]))
    assert prior_emotion_information(prior, [(c, "sad") for c in codes], bank)["label_entropy"] == pytest.approx(0.0, abs=1e-9)


def test_prior_is_stored_in_float16_and_loads_as_float32(tmp_path):
    from emogen.music.prior import EmotionCodePrior
    from emogen.testing import tiny_prior

    prior = tiny_prior(tie_embeddings=True)
    prior.save_pretrained(str(tmp_path / "prior"))
    from safetensors.torch import load_file

    stored = load_file(str(tmp_path / "prior" / "diffusion_pytorch_model.safetensors"))
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    loaded = EmotionCodePrior.from_pretrained(str(tmp_path / "prior"))
    assert loaded.dtype == torch.float32
    for name, value in prior.state_dict().items():
        assert torch.allclose(loaded.state_dict()[name], value, atol=1e-3, rtol=1e-3)


def test_prior_emotion_information_nll_matches_prior_nll():
    from emogen.emotion import EmotionBank
    from emogen.music.evaluation import prior_emotion_information, prior_nll
    from emogen.testing import TINY_CODEBOOK_SIZES, tiny_prior

    bank = EmotionBank().eval()
    prior = tiny_prior(emotion_dim=bank.config.embedding_dim).eval()
    g = torch.Generator().manual_seed(1)
    seqs = [(torch.stack([torch.randint(0, k, (3,), generator=g) for k in TINY_CODEBOOK_SIZES], -1), cat)
            for cat in ("happy", "sad", "calm")]
    info = prior_emotion_information(prior, seqs, bank)
    assert info["nll_conditioned"] == pytest.approx(prior_nll(prior, seqs, bank, True), rel=1e-6)
    assert info["nll_unconditional"] == pytest.approx(prior_nll(prior, seqs, bank, False), rel=1e-6)


def test_top_k_truncates_only_the_pitch_codes(monkeypatch):
    """Top-k keeps stray chromatic pitch codes out; rhythm, duration and velocity codes are drawn in full
    (truncating them favours the commonest, emptiest bars)."""
    import torch

    from emogen.pipelines.pipeline_emo_music import TOP_K_ELEMENTS
    from emogen.testing import build_tiny_music_pipeline

    pipe = build_tiny_music_pipeline()
    pipe.set_progress_bar_config(disable=True)
    seen: list[int] = []
    original = pipe._sample_code

    def spy(logits, temperature, top_k, generator):
        seen.append(top_k)
        return original(logits, temperature, top_k, generator)

    monkeypatch.setattr(pipe, "_sample_code", spy)
    pipe("happy:1", num_bars=2, top_k=3, generator=torch.Generator().manual_seed(0))
    layout = [element for element, _ in pipe.vqvae.code_layout]
    expected = [3 if element in TOP_K_ELEMENTS else 0 for element in layout] * 2
    assert "pitch" in layout and seen == expected
