"""`EmoPortraitPipeline` and `emogen portrait`: shapes and lengths, seeding, windowed long clips, save/load,
outputs, the intensity knob (shipped checkpoint), and bad input (exit 2, one line, no file)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from emogen.cli.main import app
from emogen.errors import CheckpointNotFoundError, InputError, NoFaceError
from emogen.pipeline_utils import checkpoint_path
from emogen.testing import build_tiny_portrait_pipeline, speechlike

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small models and frames: one thread for torch, OpenMP, BLAS and OpenCV (more, on a busy 2-core
    CPU, make these tests several times slower)."""
    import cv2
    import scipy.spatial  # noqa: F401 - load scipy's BLAS first: threadpool_limits reaches only loaded libraries
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before[0])
    cv2.setNumThreads(before[1])


@pytest.fixture(scope="module")
def portrait(data_root):
    """The astronaut portrait and its landmarks (detected once)."""
    from emogen.pipelines.pipeline_emo_portrait import load_image
    from emogen.portrait.face import detect_face

    image = load_image(data_root / "portraits" / "astronaut.png")
    return image, detect_face(image).points


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_portrait_pipeline(seed=0)


def run(pipe, portrait, seconds=1.3, seed=0, **kwargs):
    image, points = portrait
    return pipe(speechlike(seconds), 16000, image, landmarks=points, size=128, num_inference_steps=3,
                generator=torch.Generator().manual_seed(seed), **kwargs)


def test_shapes_and_length_follow_the_audio(pipe, portrait):
    out = run(pipe, portrait, seconds=1.3)
    assert out.motion.shape == (round(1.3 * 25), 140)
    assert out.landmarks.shape == (round(1.3 * 25), 68, 2)
    assert np.isfinite(out.landmarks).all()
    frame = next(out.frames())
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    assert set(out.critic_scores) == {"p_neutral"}
    slow = run(pipe, portrait, seconds=1.3, fps=10)
    assert slow.num_frames == 13 and slow.fps == 10.0


def test_same_seed_same_motion_and_long_clips_in_windows(pipe, portrait):
    a, b = run(pipe, portrait, seed=3), run(pipe, portrait, seed=3)
    np.testing.assert_array_equal(a.motion, b.motion)
    assert not np.array_equal(a.motion, run(pipe, portrait, seed=4).motion)
    long = run(pipe, portrait, seconds=4.0, emotion="happy:0.5")  # 100 frames: windows of 32 blended
    assert long.motion.shape == (100, 140) and np.isfinite(long.motion).all()
    assert {"p_happy", "intensity"} <= set(long.critic_scores)


def test_save_load_round_trip(pipe, portrait, tmp_path):
    from emogen.pipelines.pipeline_emo_portrait import EmoPortraitPipeline

    pipe.save_pretrained(tmp_path / "tiny")
    loaded = EmoPortraitPipeline.from_pretrained(tmp_path / "tiny")
    loaded.set_progress_bar_config(disable=True)
    assert sorted(loaded.components) == ["emotion_bank", "face_critic", "motion_denoiser", "scheduler"]
    np.testing.assert_allclose(run(loaded, portrait, seed=1, emotion="sad:0.7").motion,
                               run(pipe, portrait, seed=1, emotion="sad:0.7").motion, atol=1e-6)


def test_outputs_png_and_mp4(pipe, portrait, tmp_path):
    out = run(pipe, portrait, seconds=0.6)
    assert out.save(tmp_path / "mid.png").stat().st_size > 0
    video = out.save(tmp_path / "clip.mp4")
    assert video.stat().st_size > 0
    with pytest.raises(InputError):
        out.save(tmp_path / "clip.gif")
    assert not (tmp_path / "clip.gif").exists()


def test_bad_arguments_and_no_face(pipe, portrait):
    with pytest.raises(InputError):
        pipe(speechlike(0.5), 16000, portrait[0], landmarks=portrait[1], num_inference_steps=0)
    with pytest.raises(InputError):
        pipe(np.zeros(8000, np.float32), 16000, portrait[0], landmarks=portrait[1])  # silence
    with pytest.raises(NoFaceError):
        pipe(speechlike(0.5), 16000, np.full((200, 200, 3), 128, np.uint8))


def test_emotion_guidance_is_measured_from_neutral(pipe, portrait, monkeypatch):
    """The guidance passes without the emotion carry the neutral condition (not the null one), so the
    emotion's guidance pushes along its difference from a neutral face; neutral itself needs one pass."""
    calls = []
    forward = pipe.motion_denoiser.forward

    def spy(x, t, audio, audio_mask, embedding, emotion_mask, *args, **kwargs):
        calls.append((audio_mask.clone(), embedding.clone(), emotion_mask.clone()))
        return forward(x, t, audio, audio_mask, embedding, emotion_mask, *args, **kwargs)

    monkeypatch.setattr(pipe.motion_denoiser, "forward", spy)
    neutral = pipe.encode_emotion("neutral", 1)
    happy = pipe.encode_emotion("happy:1", 1)
    run(pipe, portrait, seconds=0.5, emotion="happy:1", emotion_guidance_scale=2.0, audio_guidance_scale=1.5)
    audio_mask, embedding, emotion_mask = calls[0]
    assert torch.all(emotion_mask == 1)  # every pass is conditioned: on happy or on neutral
    is_happy = torch.isclose(embedding, happy.embedding).all(dim=1)
    is_neutral = torch.isclose(embedding, neutral.embedding).all(dim=1)
    assert torch.all(is_happy | is_neutral) and is_happy.any() and is_neutral.any()
    assert torch.all(audio_mask[is_happy] == 1)  # the emotion is only compared with audio present
    assert (audio_mask[is_neutral] == 0).any() and (audio_mask[is_neutral] == 1).any()  # audio guidance at neutral
    calls.clear()
    run(pipe, portrait, seconds=0.5, emotion="neutral", emotion_guidance_scale=2.0)
    assert len(calls[0][0]) == len(calls[0][1]) and torch.isclose(calls[0][1], neutral.embedding).all()
    assert len(calls[0][0]) * 3 == sum(len(c[0]) for c in calls[:3])  # one pass per window: no guidance


def test_emotion_guidance_leaves_the_skull_to_the_neutral_prediction():
    from emogen.pipelines.pipeline_emo_portrait import skull_kept_scales
    from emogen.portrait.geometry import SKULL_POINTS

    scales = skull_kept_scales(2.0, 140)
    assert scales.shape == (1, 140, 1)
    skull = [c for p in SKULL_POINTS for c in (2 * p, 2 * p + 1)]
    assert torch.all(scales[0, skull] == 0)
    others = torch.ones(140, dtype=torch.bool)
    others[skull] = False
    assert torch.all(scales[0, others] == 2.0)  # brows, eyes, mouth, jaw and the pose channels keep the scale


def test_cli_and_recipe_use_the_pipelines_emotion_guidance():
    """The CLI (which cannot import torch for --help) and the recipe's evaluation default to the pipeline's scale."""
    import inspect

    from emogen.cli.portrait import portrait as command
    from emogen.pipelines.pipeline_emo_portrait import DEFAULT_EMOTION_GUIDANCE, EmoPortraitPipeline
    from emogen.training.portrait import PortraitTrainConfig

    assert inspect.signature(command).parameters["emotion_guidance"].default == DEFAULT_EMOTION_GUIDANCE
    assert inspect.signature(EmoPortraitPipeline.__call__).parameters["emotion_guidance_scale"].default == DEFAULT_EMOTION_GUIDANCE
    assert PortraitTrainConfig().eval_emotion_guidance == DEFAULT_EMOTION_GUIDANCE


def test_intensity_moves_the_critic(portrait):
    """Shipped checkpoint: the critic projects a higher intensity at happy:1.0 than at happy:0.3."""
    from emogen.pipelines.pipeline_emo_portrait import EmoPortraitPipeline

    try:
        checkpoint_path("portrait")
    except CheckpointNotFoundError:
        pytest.skip("needs the shipped checkpoints/portrait (train it with `emogen train portrait`)")
    shipped = EmoPortraitPipeline.from_shipped("portrait")
    shipped.set_progress_bar_config(disable=True)
    low = run(shipped, portrait, seconds=1.0, emotion="happy:0.3").critic_scores["intensity"]
    high = run(shipped, portrait, seconds=1.0, emotion="happy:1.0").critic_scores["intensity"]
    assert high > low + 0.1, (low, high)


# ---------------------------------------------------------------------------------------------- CLI
def error_lines(result) -> list[str]:
    text = result.stderr if getattr(result, "stderr", None) else result.output
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def tiny_checkpoint(pipe, tmp_path_factory):
    folder = tmp_path_factory.mktemp("portrait") / "tiny"
    pipe.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("kind", ["no-face", "not-image", "silent-audio", "corrupt-audio", "unwritable", "bad-suffix"])
def test_cli_bad_input_exits_2_with_one_line_and_no_file(data_root, tiny_checkpoint, tmp_path, kind):
    import cv2

    image = data_root / "portraits" / "astronaut.png"
    audio = tmp_path / "a.wav"
    sf.write(audio, speechlike(0.5), 16000)
    out = tmp_path / "out.mp4"
    if kind == "no-face":
        image = tmp_path / "blank.png"
        cv2.imwrite(str(image), np.full((200, 200, 3), 128, np.uint8))
    elif kind == "not-image":
        image = tmp_path / "face.png"
        image.write_text("not an image")
    elif kind == "silent-audio":
        sf.write(audio, np.zeros(8000, np.float32), 16000)
    elif kind == "corrupt-audio":
        audio.write_bytes(b"RIFF garbage")
    elif kind == "unwritable":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "out.mp4"
    elif kind == "bad-suffix":
        out = tmp_path / "out.gif"
    result = runner.invoke(app, ["portrait", "--audio", str(audio), "--image", str(image), "-e", "happy:0.7",
                                 "--checkpoint", str(tiny_checkpoint), "--steps", "2", "--quiet", "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert not out.exists()
    assert not list(tmp_path.glob(".out.*"))


def test_cli_writes_a_video(data_root, tiny_checkpoint, tmp_path):
    audio = tmp_path / "a.wav"
    sf.write(audio, speechlike(0.8), 16000)
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["portrait", "--audio", str(audio), "--image", str(data_root / "portraits" / "astronaut.png"),
                                 "-e", "sad:0.5", "--checkpoint", str(tiny_checkpoint), "--steps", "2", "--size", "96",
                                 "--seed", "0", "--quiet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
