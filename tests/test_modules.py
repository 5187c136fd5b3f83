"""The shared layers in emogen.modules: shapes, guidance algebra, gradient reversal, shipped weights."""

from __future__ import annotations

import hashlib

import pytest
import torch

from emogen.modules import CompositionalGuidance, EmotionEmbedding, FiLMTemporalDenoiser, GradientReversal

torch.set_num_threads(1)

#: sha256 over (key name as before the backbone moved to emogen.modules, tensor bytes) of the shipped
#: checkpoints/voice/denoiser (the RAVDESS + nEMO converter): loading must not change a tensor.
SHIPPED_DENOISER_DIGEST = "a86ae25af3ac32e4e5612c5895a208a70a16a00e3760a53ac7d13e653c2f3f46"
#: The same over the shipped checkpoints/music/prior (with its in-bar transformer), stored with `null_emotion` as before.
SHIPPED_PRIOR_DIGEST = "27922b1af7f1b19501c416e64941f4015f55d49123f69d4540a4c50078a2c072"


def _digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------ emotion embedding
def test_emotion_embedding_input_null_shapes_and_keys():
    embed = EmotionEmbedding(16, 32)
    out = embed(torch.randn(3, 16), torch.tensor([1.0, 0.0, 1.0]))
    assert out.shape == (3, 32)
    assert sorted(embed.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert embed[0].in_features == 17  # the mask is an input


def test_emotion_embedding_masked_rows_ignore_the_embedding():
    embed = EmotionEmbedding(16, 32)
    mask = torch.zeros(2)
    a, b = embed(torch.randn(2, 16), mask), embed(torch.randn(2, 16), mask)
    assert torch.equal(a, b)


def test_emotion_embedding_learned_null_replaces_the_output():
    embed = EmotionEmbedding(16, 24, activation="gelu", null="learned")
    with torch.no_grad():
        embed.null.normal_()
    out = embed(torch.randn(2, 16), torch.tensor([0.0, 1.0]))
    assert torch.equal(out[0], embed.null)
    assert "null" in embed.state_dict()


def test_emotion_embedding_takes_an_emotion_condition():
    from emogen.emotion import EmotionBank

    condition = EmotionBank().condition("happy:0.5", batch_size=2)
    embed = EmotionEmbedding(16, 32)
    assert torch.equal(embed(condition), embed(condition.embedding, condition.mask))
    null = condition.null_like()
    assert torch.equal(embed(null), embed(torch.randn(2, 16), torch.zeros(2)))


# ------------------------------------------------------------------ FiLM denoiser
def test_film_denoiser_shapes_with_several_global_conditions():
    net = FiLMTemporalDenoiser(6, out_channels=4, condition_channels=3, global_conditions={"emotion": 16, "identity": 8}, hidden_channels=32, num_blocks=3)
    out = net(
        torch.randn(2, 6, 25), torch.tensor([3, 7]), torch.randn(2, 3, 25),
        {"emotion": torch.randn(2, 16), "identity": torch.randn(2, 8)}, {"identity": torch.tensor([1.0, 0.0])},
    )
    assert out.shape == (2, 4, 25)
    assert {k.split(".")[1] for k in net.state_dict() if k.startswith("global_embeddings.")} == {"emotion", "identity"}


def test_film_denoiser_without_conditions_and_missing_condition_error():
    net = FiLMTemporalDenoiser(5, hidden_channels=16, num_blocks=2)
    assert net(torch.randn(1, 5, 10), 4).shape == (1, 5, 10)
    conditioned = FiLMTemporalDenoiser(5, global_conditions={"emotion": 16}, hidden_channels=16, num_blocks=2)
    with pytest.raises(ValueError, match="emotion"):
        conditioned(torch.randn(1, 5, 10), 4)


def test_film_denoiser_global_mask_switches_the_condition_off():
    net = FiLMTemporalDenoiser(4, global_conditions={"emotion": 16}, hidden_channels=16, num_blocks=2)
    from emogen.testing import randomize_parameters

    randomize_parameters(net, torch.Generator().manual_seed(0))
    x, off = torch.randn(1, 4, 12), {"emotion": torch.zeros(1)}
    a = net(x, 5, global_conditions={"emotion": torch.randn(1, 16)}, masks=off)
    b = net(x, 5, global_conditions={"emotion": torch.randn(1, 16)}, masks=off)
    c = net(x, 5, global_conditions={"emotion": torch.randn(1, 16)})
    assert torch.equal(a, b) and not torch.allclose(a, c)


# ------------------------------------------------------------------ guidance
def _preds(n: int, seed: int = 0) -> dict[int, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {level: torch.randn(3, 5, generator=g) for level in range(n + 1)}


def test_one_condition_is_ordinary_cfg():
    p = _preds(1)
    guidance = CompositionalGuidance([3.5])
    assert guidance.levels == [1, 0] and guidance.do_guidance
    out = guidance.combine([p[level] for level in guidance.levels])
    assert torch.equal(out, p[0] + 3.5 * (p[1] - p[0]))


def test_all_scales_one_is_the_conditional_prediction_in_one_pass():
    for n in (1, 2, 3):
        p = _preds(n)
        guidance = CompositionalGuidance([1.0] * n)
        assert guidance.levels == [n] and not guidance.do_guidance and guidance.num_passes == 1
        assert torch.equal(guidance.combine([p[n]]), p[n])


def test_two_conditions_compositional_formula():
    p = _preds(2)
    s1, s2 = 1.5, 4.0
    guidance = CompositionalGuidance([s1, s2])
    assert guidance.levels == [2, 1, 0]
    out = guidance.combine([p[level] for level in guidance.levels])
    expected = p[0] + s1 * (p[1] - p[0]) + s2 * (p[2] - p[1])
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("scales", [[1.0, 3.0], [2.0, 2.0], [0.0, 0.0, 3.0], [1.0, 1.0, 2.0], [1.0, 0.0], [0.0, 0.0], [1.0, 2.0, 2.0]])
def test_skipped_passes_do_not_change_the_result(scales):
    n = len(scales)
    p = _preds(n, seed=1)
    full = p[0] + sum(s * (p[i + 1] - p[i]) for i, s in enumerate(scales))
    guidance = CompositionalGuidance(scales)
    assert len(guidance.levels) < n + 1  # at least one pass is skipped for these scales
    torch.testing.assert_close(guidance.combine([p[level] for level in guidance.levels]), full)


def test_scale_zero_is_the_unconditional_prediction():
    p = _preds(1)
    guidance = CompositionalGuidance([0.0])
    assert guidance.levels == [0]
    assert torch.equal(guidance.combine([p[0]]), p[0])


def test_per_row_tensor_scales_and_stacked_passes():
    p = _preds(1)
    scale = torch.tensor([[1.0], [2.0], [0.5]])
    guidance = CompositionalGuidance([scale])
    stacked = torch.cat([p[level] for level in guidance.levels])
    torch.testing.assert_close(guidance.combine_stacked(stacked), p[0] + scale * (p[1] - p[0]))
    assert CompositionalGuidance([torch.ones(3, 1)]).levels == [1]


def test_masks_follow_the_levels():
    guidance = CompositionalGuidance([2.0, 3.0])
    audio, emotion = guidance.masks(2)
    assert audio.tolist() == [1, 1, 1, 1, 0, 0]
    assert emotion.tolist() == [1, 1, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="expects 3"):
        guidance.combine([torch.zeros(1)])


# ------------------------------------------------------------------ gradient reversal
def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    layer = GradientReversal(scale=0.5)
    y = layer(x)
    assert torch.equal(y, x)
    (y * torch.arange(3.0)).sum().backward()
    assert torch.equal(x.grad, -0.5 * torch.arange(3.0).expand(4, 3))


# ------------------------------------------------------------------ shipped weights
def test_shipped_voice_denoiser_loads_with_identical_weights():
    from emogen.pipeline_utils import checkpoint_path
    from emogen.voice.denoiser import _LEGACY_PREFIXES, VoiceConversionDenoiser

    model = VoiceConversionDenoiser.from_pretrained(str(checkpoint_path("voice")), subfolder="denoiser")
    legacy = {}
    for key, tensor in model.state_dict().items():
        for old, new in _LEGACY_PREFIXES.items():
            if key.startswith(new):
                key = old + key[len(new) :]
                break
        legacy[key] = tensor
    assert _digest(legacy) == SHIPPED_DENOISER_DIGEST
    # a state dict saved before the move still loads (the legacy keys are upgraded)
    fresh = VoiceConversionDenoiser(**{k: v for k, v in model.config.items() if not k.startswith("_")})
    fresh.load_state_dict(legacy)
    x, c = torch.randn(1, model.out_channels, 30), torch.randn(1, model.config.cond_channels, 30)
    e, m = torch.randn(1, 16), torch.ones(1)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x, 100, c, e, m).sample, model(x, 100, c, e, m).sample, rtol=0, atol=1e-5)


def test_shipped_music_prior_loads_with_identical_weights():
    from emogen.music.prior import EmotionCodePrior
    from emogen.pipeline_utils import checkpoint_path

    prior = EmotionCodePrior.from_pretrained(str(checkpoint_path("music")), subfolder="prior")
    state = dict(prior.state_dict())
    state["null_emotion"] = state.pop("emotion_proj.null")
    assert _digest(state) == SHIPPED_PRIOR_DIGEST
    fresh = EmotionCodePrior(**{k: v for k, v in prior.config.items() if not k.startswith("_")})
    fresh.load_state_dict(state)
    assert torch.equal(fresh.emotion_proj.null, prior.emotion_proj.null)


def test_modules_import_lazily(tmp_path):
    import subprocess
    import sys

    code = "import sys, emogen.modules; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()
    assert out == "False"
