"""Full band at the input's rate (issue #10): a 48 kHz input keeps its band above 8 kHz, with no images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emogen.errors import InputError
from emogen.pipelines.pipeline_emo_voice import EmoVoicePipeline
from emogen.testing import build_tiny_voice_pipeline
from emogen.voice.fullband import band_energy, envelope_log_gain, extend_log_gain

SR = 48000
#: Upper edge of the test signal's content: anything above it in an output is the converter's.
CONTENT_HZ = 12000


def harmonic_with_noise(seconds: float = 1.2, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Gliding harmonics up to 12 kHz (6 dB/octave down) on a syllable envelope, plus noise at 8-12 kHz."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    voiced = sum(np.sin(k * phase) / k * (k * f0 < CONTENT_HZ - 500) for k in range(1, 90))
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(len(t)))
    freqs = np.fft.rfftfreq(len(t), 1 / sr)
    spectrum[(freqs < 8000) | (freqs > CONTENT_HZ - 500)] = 0
    noise = np.fft.irfft(spectrum, len(t))
    x = env * voiced + 3.0 * env[::-1] * noise / np.std(noise) * np.std(voiced) * 0.1
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_pipe() -> EmoVoicePipeline:
    return build_tiny_voice_pipeline(seed=0)


def _db(a: float, b: float) -> float:
    return float(10 * np.log10(a / b))


def test_48k_input_keeps_rate_length_and_high_band(tiny_pipe):
    audio = harmonic_with_noise()
    out = tiny_pipe(audio, SR, emotion="angry:0.8", num_inference_steps=2, rate=1.0, generator=torch.Generator().manual_seed(0))
    y = out.audios[0]
    assert out.sample_rate == SR
    assert abs(len(y) - len(audio)) <= 0.01 * len(audio)
    # the band above 8 kHz is kept: its share of the energy moves by less than 6 dB
    high = _db(band_energy(y, SR, 8000, SR / 2), band_energy(audio, SR, 8000, SR / 2))
    low = _db(band_energy(y, SR, 0, 8000), band_energy(audio, SR, 0, 8000))
    assert abs(high - low) < 6.0, (high, low)
    # nothing strong above the input's content: no image band around 16 kHz, only a floor far down
    content = band_energy(y, SR, 0, CONTENT_HZ)
    for lo in range(CONTENT_HZ + 1000, SR // 2 - 999, 1000):
        assert _db(band_energy(y, SR, lo, lo + 1000), content) < -50.0, lo


def test_16k_path_loses_the_band_full_band_keeps_it(tiny_pipe):
    audio = harmonic_with_noise(seconds=0.8)
    gen = torch.Generator().manual_seed(0)
    full = tiny_pipe(audio, SR, emotion="sad:0.5", num_inference_steps=1, rate=1.0, generator=gen).audios[0]
    gen = torch.Generator().manual_seed(0)
    low = tiny_pipe(audio, SR, emotion="sad:0.5", num_inference_steps=1, rate=1.0, generator=gen, output_sample_rate=16000)
    assert low.sample_rate == 16000 and abs(len(low.audios[0]) - len(audio) / 3) <= 0.01 * len(audio) / 3
    banded = np.asarray(low.audios[0])
    from emogen.voice.audio import resample

    up = resample(banded, 16000, SR)
    source = band_energy(audio, SR, 8000, SR / 2)
    assert _db(band_energy(full, SR, 8000, SR / 2), source) > _db(band_energy(up, SR, 8000, SR / 2), source) + 20


def test_output_sample_rate(tiny_pipe):
    audio = harmonic_with_noise(seconds=0.6)
    out = tiny_pipe(audio, SR, emotion="happy:0.5", num_inference_steps=1, rate=1.0, output_sample_rate=44100)
    assert out.sample_rate == 44100
    assert abs(len(out.audios[0]) - len(audio) * 44100 / SR) <= 0.01 * len(audio)
    with pytest.raises(InputError, match="output_sample_rate"):
        tiny_pipe(audio, SR, num_inference_steps=1, output_sample_rate=100)


def test_log_gain_is_continuous_and_relaxes_to_the_level():
    rng = np.random.default_rng(0)
    delta = rng.standard_normal((5, 13)) * 0.2
    gain16 = envelope_log_gain(delta, 16000)
    gain = extend_log_gain(gain16, np.exp(rng.standard_normal((5, 513))), 16000, SR, 1025)
    freqs = np.linspace(0, SR / 2, 1025)
    edge = np.argmin(np.abs(freqs - 8000))
    np.testing.assert_allclose(gain[:, edge], gain16[:, -1], atol=1e-9)
    np.testing.assert_allclose(gain[:, edge + 1], gain16[:, -1], atol=0.05)  # no step at 8 kHz
    beyond = freqs >= 10000
    np.testing.assert_allclose(gain[:, beyond], gain[:, beyond][:, :1] * np.ones((1, beyond.sum())))  # holds the level


def test_high_band_of_a_fricative_follows_the_syllable_not_the_tilt():
    """A change that only steepens the tilt leaves the band above 8 kHz of a fricative frame (its energy at
    the top of the model's band) where its vowel neighbours put it, instead of carrying the tilt up."""
    frames, bins = 21, 513
    freqs16 = np.linspace(0, 8000, bins)
    tilt = np.broadcast_to(-2.0 * freqs16 / 8000, (frames, bins))  # 0 at 0 Hz, -2 (natural log) at 8 kHz
    vowel = np.exp(-freqs16 / 500)
    fricative = 1e-3 * np.exp((freqs16 - 8000) / 1000)
    envelope = np.stack([fricative if n == frames // 2 else vowel for n in range(frames)])
    gain = extend_log_gain(tilt, envelope, 16000, SR, 1025)
    top = np.linspace(0, SR / 2, 1025) >= 12000
    high = gain[:, top].mean(axis=1)
    assert abs(high[frames // 2] - high[frames // 2 - 1]) < 0.05
    assert high[frames // 2] > -0.2  # not the -2 the fricative's own energy would carry


def test_cli_sample_rate_and_keep_timing(tmp_path):
    """--sample-rate sets the output rate; --keep-timing keeps the input's length exactly; both with --rate 1.2 is refused."""
    import soundfile as sf
    from typer.testing import CliRunner

    from emogen.cli.main import app

    folder = tmp_path / "tiny"
    build_tiny_voice_pipeline().save_pretrained(folder)
    t = np.arange(int(1.5 * 16000)) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 140 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    source = tmp_path / "in.wav"
    sf.write(source, speech, 16000)
    runner = CliRunner()
    out = tmp_path / "out.wav"
    result = runner.invoke(app, ["voice", "-i", str(source), "-e", "angry:1", "--checkpoint", str(folder), "--keep-timing",
                                 "--sample-rate", "22050", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(out)
    assert rate == 22050 and abs(len(audio) - round(len(speech) * 22050 / 16000)) <= 2
    bad = tmp_path / "bad.wav"
    result = runner.invoke(app, ["voice", "-i", str(source), "-e", "angry:1", "--checkpoint", str(folder), "--keep-timing",
                                 "--rate", "1.2", "-o", str(bad)])
    assert result.exit_code == 2 and not bad.exists()
