"""Shapes, causality and save/load of the music models, and the pipeline's call conventions."""

from __future__ import annotations

import pytest
import torch

from emogen.errors import InputError
from emogen.music.features import ELEMENT_INPUT_SIZES, element_inputs
from emogen.emotion import EmotionSpec
from emogen.music.representation import EventSequence, NoteEvent, grid_from_events
from emogen.pipelines.pipeline_emo_music import EmoMusicPipeline, MusicPipelineOutput
from emogen.testing import build_tiny_music_pipeline, tiny_critic, tiny_prior, tiny_vqvae


def _bars(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    onsets = torch.rand(n, 16, 88, generator=g) < 0.02
    durations = torch.randint(0, 10, (n, 16, 88), generator=g)
    velocities = torch.randint(0, 16, (n, 16, 88), generator=g)
    return onsets, durations, velocities


def test_element_inputs_shapes():
    inputs = element_inputs(*_bars(3))
    assert {k: tuple(v.shape) for k, v in inputs.items()} == {k: (3, s) for k, s in ELEMENT_INPUT_SIZES.items()}


def test_vqvae_shapes_and_element_tie():
    vq = tiny_vqvae()
    bars = _bars(5)
    out = vq(*bars)
    assert tuple(out.logits.onset.shape) == (5, 16, 88)
    assert tuple(out.logits.duration.shape) == (5, 16, 88, 10)
    assert tuple(out.logits.velocity.shape) == (5, 16, 88, 16)
    assert tuple(out.codes.shape) == (5, 4)
    codes = vq.encode(*bars)
    assert torch.equal(codes, out.codes)
    # changing only the velocity code leaves onset and duration logits untouched
    other = codes.clone()
    other[:, 3] = (other[:, 3] + 1) % 8
    a, b = vq.decode(codes), vq.decode(other)
    assert torch.equal(a.onset, b.onset) and torch.equal(a.duration, b.duration)
    assert not torch.equal(a.velocity, b.velocity)


def test_prior_is_causal_over_bars():
    prior = tiny_prior(num_layers=2, max_bars=6, dropout=0.0).eval()
    g = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 8, (2, 6, 4), generator=g)
    emotion, mask = torch.randn(2, 16, generator=g), torch.ones(2)
    logits = prior(codes, emotion, mask).logits
    changed = codes.clone()
    changed[:, 4:] = (changed[:, 4:] + 3) % 8
    logits2 = prior(changed, emotion, mask).logits
    for a, b in zip(logits, logits2):
        assert tuple(a.shape[:2]) == (2, 6)
        assert torch.allclose(a[:, :4], b[:, :4], atol=1e-5)
    # the null condition ignores the embedding
    null_a = prior(codes, emotion, torch.zeros(2)).logits[0]
    null_b = prior(codes, emotion * 5, torch.zeros(2)).logits[0]
    assert torch.allclose(null_a, null_b)


@pytest.mark.parametrize("inner_layers", [0, 2])
@pytest.mark.parametrize("tie_embeddings", [True, False])
def test_prior_teacher_forcing_matches_sampling(inner_layers, tie_embeddings):
    """The teacher-forced logits of every bar and column equal the step-by-step logits given the earlier bars
    (with the copy term, with either in-bar head)."""
    prior = tiny_prior(max_bars=6, dropout=0.0, tie_embeddings=tie_embeddings, copy_bars=6, inner_layers=inner_layers).eval()
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.3)
    codes = torch.randint(0, 8, (2, 5, 4), generator=g)
    emotion, mask = torch.randn(2, 16, generator=g), torch.ones(2)
    with torch.no_grad():
        full = prior(codes, emotion, mask).logits
        states = prior.hidden(codes, emotion, mask)
        for t in range(5):
            for e in range(4):
                step = prior.element_logits(states[:, t], [codes[:, t, i] for i in range(e)], e, history=codes[:, :t])
                assert torch.allclose(step, full[e][:, t], atol=1e-4), (t, e)  # logits reach about 30
            cache: dict = {}  # the in-bar keys and values reused column by column, skipping column 1 as a reference transfer does
            for e in (0, 2, 3):
                step = prior.element_logits(states[:, t], [codes[:, t, i] for i in range(e)], e, history=codes[:, :t], cache=cache)
                assert torch.allclose(step, full[e][:, t], atol=1e-4), (t, e)


def test_prior_copy_term_repeats_the_bar_it_points_to():
    """A large weight on "one bar back" makes sampled pieces repeat their first bar; without it they do not."""
    pipe = build_tiny_music_pipeline(seed=3)
    plain = pipe("happy:1", num_bars=4, num_candidates=1, generator=torch.Generator().manual_seed(0)).codes[0]
    prior = tiny_prior(emotion_dim=pipe.prior.config.emotion_dim, max_bars=4, copy_bars=4)
    prior.load_state_dict(pipe.prior.state_dict(), strict=False)
    with torch.no_grad():
        prior.copy_bias[:, 0] = 50.0
    pipe.register_modules(prior=prior.eval())
    copied = pipe("happy:1", num_bars=4, num_candidates=1, generator=torch.Generator().manual_seed(0)).codes[0]
    assert all(torch.equal(copied[i], copied[0]) for i in range(1, 4))
    assert not all(torch.equal(plain[i], plain[0]) for i in range(1, 4))
    assert torch.equal(copied[0], plain[0])  # the first bar has nothing to copy


def test_critic_shapes_and_mask():
    critic = tiny_critic().eval()
    o, d, v = (x.view(1, 4, 16, 88) for x in _bars(4))
    full = critic(o, d, v).embedding
    assert tuple(full.shape) == (1, 16)
    padded = critic(torch.cat([o, torch.zeros_like(o)], 1), torch.cat([d, d], 1), torch.cat([v, v], 1),
                    torch.tensor([[1.0] * 4 + [0.0] * 4])).embedding
    assert torch.allclose(full, padded, atol=1e-5)


def test_pipeline_same_seed_same_music_and_shapes():
    pipe = build_tiny_music_pipeline()
    a = pipe("happy:0.7", num_bars=6, generator=torch.Generator().manual_seed(3))
    b = pipe("happy:0.7", num_bars=6, generator=torch.Generator().manual_seed(3))
    c = pipe("happy:0.7", num_bars=6, generator=torch.Generator().manual_seed(4))
    assert isinstance(a, MusicPipelineOutput)
    assert tuple(a.codes.shape) == (1, 6, 4)  # longer than the prior's 4-bar window: it slides
    assert a.sequences[0].events == b.sequences[0].events and torch.equal(a.codes, b.codes)
    assert not torch.equal(a.codes, c.codes) or a.sequences[0].events != c.sequences[0].events
    assert set(a.critic_scores[0]) >= {"valence", "arousal", "p_happy", "intensity"}


def test_pipeline_batch_candidates_and_generator_list():
    pipe = build_tiny_music_pipeline()
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    out = pipe("va:-0.5,0.5", num_bars=3, batch_size=2, num_candidates=3, generator=gens)
    assert tuple(out.codes.shape) == (2, 3, 4) and len(out.sequences) == 2
    with pytest.raises(ValueError, match="generators"):
        pipe("sad", num_bars=2, batch_size=2, generator=[torch.Generator()])
    sequences, codes, tempo, scores, keys = pipe("sad", num_bars=2, tempo=90, return_dict=False, generator=torch.Generator().manual_seed(0))
    assert tempo == 90 and len(sequences) == 1 and keys == []  # no key guide in the tiny pipeline


@pytest.mark.parametrize("kwargs", [{"num_bars": 0}, {"num_bars": 100000}, {"guidance_scale": float("nan")},
                                    {"num_candidates": 0}, {"tempo": 5.0}, {"temperature": 0.0}])
def test_pipeline_rejects_bad_arguments(kwargs):
    with pytest.raises(InputError):
        build_tiny_music_pipeline()("happy", **kwargs)


def test_transfer_keeps_the_other_elements_codes():
    pipe = build_tiny_music_pipeline()
    ref = EventSequence([NoteEvent(b, p, 48 + (b * 7 + p) % 30, 3, 9) for b in range(5) for p in range(0, 16, 4)])
    ref_codes = pipe.encode_reference(ref)
    out = pipe("sad:0.8", reference=ref, transfer_elements=["pitch", "velocity"], generator=torch.Generator().manual_seed(0))
    assert tuple(out.codes.shape) == (1, 5, 4)
    assert torch.equal(out.codes[0, :, 0], ref_codes[:, 0]) and torch.equal(out.codes[0, :, 2], ref_codes[:, 2])
    with pytest.raises(InputError, match="element"):
        pipe("sad", reference=ref, transfer_elements=["timbre"])


def test_save_pretrained_round_trip(tmp_path):
    pipe = build_tiny_music_pipeline()
    pipe.save_pretrained(str(tmp_path / "music"))
    loaded = EmoMusicPipeline.from_pretrained(str(tmp_path / "music"))
    loaded.set_progress_bar_config(disable=True)
    a = pipe("calm:0.5", num_bars=3, generator=torch.Generator().manual_seed(0))
    b = loaded("calm:0.5", num_bars=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.codes, b.codes) and a.sequences[0].events == b.sequences[0].events


def test_output_save_formats(tmp_path):
    import pretty_midi
    import soundfile as sf

    out = build_tiny_music_pipeline()("happy", num_bars=2, generator=torch.Generator().manual_seed(0))
    mid = out.save(tmp_path / "a" / "x.mid")
    pretty_midi.PrettyMIDI(str(mid))
    wav = out.save(tmp_path / "x.wav")
    audio, rate = sf.read(str(wav))
    assert rate == 44100 and audio.ndim == 2 and abs(audio).max() <= 1.0  # the soundfont piano, stereo 44.1 kHz
    with pytest.raises(InputError):
        out.save(tmp_path / "x.mp3")
    assert not (tmp_path / "x.mp3").exists()


def test_intensity_zero_and_guidance_zero_give_neutral_music_whatever_the_emotion():
    """Intensity weighs the step from neutral to the emotion: at 0 (or at guidance 0) the emotion cannot matter."""
    pipe = build_tiny_music_pipeline()

    def codes(emotion: str, **kwargs) -> torch.Tensor:
        return pipe(emotion, num_bars=3, generator=torch.Generator().manual_seed(5), **kwargs).codes

    neutral = codes("neutral:1")
    assert torch.equal(codes("happy:0"), neutral) and torch.equal(codes("sad:0"), neutral)
    assert torch.equal(codes("angry:1", guidance_scale=0.0), neutral)
    assert not torch.equal(codes("angry:1", guidance_scale=4.0), neutral)


def test_full_intensity_condition_is_the_direction_end():
    from emogen.emotion import EmotionBank

    bank = EmotionBank()
    neutral = bank.condition("neutral")
    half = bank.condition("sad:0.4").at_full_intensity(neutral)
    assert torch.allclose(half.embedding, bank.condition("sad:1").embedding, atol=1e-5)
    assert float(half.intensity) == 1.0
    zero = bank.condition("sad:0").at_full_intensity(neutral)
    assert torch.allclose(zero.embedding, neutral.embedding) and float(zero.intensity) == 0.0


def test_rerank_puts_pieces_out_of_the_critics_domain_last(monkeypatch):
    """With a linear critic, a candidate it reads as out of its domain ranks below any candidate it can read."""
    from emogen.music.critic import MusicEmotionEncoder
    from emogen.music.features import DESCRIPTOR_SIZE

    pipe = build_tiny_music_pipeline()
    critic = MusicEmotionEncoder(linear=True).eval()
    critic.set_descriptor_statistics(torch.randn(20, DESCRIPTOR_SIZE))
    pipe.register_modules(music_critic=critic)
    grids = [grid_from_events(s) for s in pipe("happy", num_bars=2, batch_size=2, generator=torch.Generator().manual_seed(0)).sequences]
    forward = critic.forward

    def flagged(*args, **kwargs):
        out = forward(*args, **kwargs)
        out.in_domain = torch.tensor([False, True])
        return out

    monkeypatch.setattr(critic, "forward", flagged)
    condition = pipe.encode_emotion("happy:1", batch_size=2)
    with torch.no_grad():  # as inside the pipeline's call
        _, rank = pipe._critic_scores(grids, condition, EmotionSpec.parse("happy:1"))
    assert rank[0] < rank[1] - 50


def test_rerank_prefers_the_candidate_whose_reading_is_nearest_the_target():
    """The rerank score is minus the squared distance of each candidate's (valence, arousal) reading to the critic's
    reading target, so a stored typical reading changes which candidate wins."""
    from emogen.music.critic import MusicEmotionEncoder
    from emogen.music.dataset import stack_grids
    from emogen.music.features import clip_descriptor

    pipe = build_tiny_music_pipeline()
    grids = [grid_from_events(s) for s in pipe("happy", num_bars=2, batch_size=4, num_candidates=1,
                                                generator=torch.Generator().manual_seed(0)).sequences]
    critic = MusicEmotionEncoder(linear=True).eval()
    critic.set_descriptor_statistics(clip_descriptor(*stack_grids(grids)))  # every candidate within the critic's domain
    torch.nn.init.normal_(critic.out.weight, std=0.05)
    pipe.register_modules(music_critic=critic)
    condition, spec = pipe.encode_emotion("happy:1", batch_size=4), EmotionSpec.parse("happy:1")
    with torch.no_grad():
        scores, _ = pipe._critic_scores(grids, condition, spec)
        readings = torch.tensor([[s["valence"], s["arousal"]] for s in scores])
        for target in readings:  # aim at each candidate's own reading in turn: that candidate must rank first
            critic.set_typical_readings(torch.cat([target.expand(4, 2), torch.zeros(1, 2)]))
            _, rank = pipe._critic_scores(grids, condition, spec)
            assert torch.allclose(rank, -((readings - target) ** 2).sum(-1), atol=1e-5)
    assert len({tuple(r) for r in readings.tolist()}) == 4  # the candidates read differently, so the test can tell them apart


def test_realism_head_adds_its_weighted_log_odds_to_the_rerank_and_round_trips(tmp_path):
    """The critic's realism head reads the same standardised descriptor as its emotion layer; the rerank adds
    ``realism_weight`` times its log-odds (0 = the reading alone), so a strong enough realism preference decides which
    candidate wins; the head and its config survive save/load, and a critic without one reports no realism."""
    from emogen.music.critic import MusicEmotionEncoder
    from emogen.music.dataset import stack_grids
    from emogen.music.features import DESCRIPTOR_SIZE, clip_descriptor

    pipe = build_tiny_music_pipeline()
    grids = [grid_from_events(s) for s in pipe("happy", num_bars=2, batch_size=4, num_candidates=1,
                                                generator=torch.Generator().manual_seed(0)).sequences]
    critic = MusicEmotionEncoder(linear=True).eval()
    tensors = stack_grids(grids)
    critic.set_descriptor_statistics(clip_descriptor(*tensors))
    torch.nn.init.normal_(critic.out.weight, std=0.05)
    with torch.no_grad():
        assert critic(*tensors).realism is None
    weight = torch.randn(DESCRIPTOR_SIZE, generator=torch.Generator().manual_seed(1))
    critic.set_realism_head(weight, 0.5)
    assert critic.config.realism_head
    with torch.no_grad():
        z = critic.standardised_descriptor(*tensors)
        logits = critic(*tensors).realism
    assert torch.allclose(logits, z @ weight + 0.5, atol=1e-4)
    pipe.register_modules(music_critic=critic)
    condition, spec = pipe.encode_emotion("happy:1", batch_size=4), EmotionSpec.parse("happy:1")
    with torch.no_grad():
        scores, plain = pipe._critic_scores(grids, condition, spec, realism_weight=0.0)
        _, weighted = pipe._critic_scores(grids, condition, spec, realism_weight=0.3)
        _, dominated = pipe._critic_scores(grids, condition, spec, realism_weight=1e4)
    assert torch.allclose(weighted - plain, 0.3 * logits, atol=1e-4)
    assert int(dominated.argmax()) == int(logits.argmax())
    assert all(0.0 < s["realism"] < 1.0 for s in scores)
    critic.save_pretrained(tmp_path / "critic")
    loaded = MusicEmotionEncoder.from_pretrained(tmp_path / "critic").eval()
    with torch.no_grad():
        assert torch.allclose(loaded(*tensors).realism, logits, atol=1e-5)
    with pytest.raises(ValueError, match="linear critic"):
        MusicEmotionEncoder(linear=False).set_realism_head(weight, 0.0)
