"""Waveform augmentation for the speech critic, and non-speech signals it must not be sure about.

Augmentations (numpy/scipy, plus PyAV for codecs), each a small function of a mono float32 signal:

- :func:`mix_at_snr` with :func:`white_noise`, :func:`pink_noise`, :func:`brown_noise` or :func:`babble`
  (a few other talkers summed): additive noise at a given signal-to-noise ratio;
- :func:`reverberate`: convolution with a synthetic room response (exponentially decaying noise with a
  given RT60, plus the direct path);
- :func:`set_level`: the RMS level in dBFS (recordings come at any gain);
- :func:`band_limit`: Butterworth low-pass / high-pass (telephone bands, cheap microphones);
- :func:`codec_roundtrip`: encode and decode through PyAV (mp3 or Opus at a low bit rate), with
  :func:`mu_law` as the fallback when the encoder is missing;
- :func:`change_speed`: resampling by a factor near 1 (speed perturbation: tempo, pitch and formants move
  together, a cheap stand-in for other speakers);
- :func:`equalize`: a random smooth spectral tilt plus a few broad peaks and dips (microphones and rooms).

:func:`augment_speech` draws a random chain of these from an :class:`AugmentConfig`.
:func:`nonspeech_signal` makes the negatives: white/pink/brown noise, sine chords, mains hum, clicks,
near-silence, and rendered music (given as an excerpt). Randomness comes only from the
``np.random.Generator`` passed in.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "NONSPEECH_KINDS",
    "AugmentConfig",
    "augment_speech",
    "babble",
    "band_limit",
    "brown_noise",
    "change_speed",
    "codec_roundtrip",
    "equalize",
    "mix_at_snr",
    "mu_law",
    "nonspeech_signal",
    "pink_noise",
    "reverberate",
    "rms_db",
    "set_level",
    "white_noise",
]

logger = logging.getLogger(__name__)

#: Non-speech kinds :func:`nonspeech_signal` makes ("music" needs an excerpt).
NONSPEECH_KINDS: tuple[str, ...] = ("white", "pink", "brown", "chord", "hum", "clicks", "quiet", "music")


def rms_db(audio: np.ndarray) -> float:
    """RMS level of a signal in dBFS."""
    return 20.0 * math.log10(float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) + 1e-12)


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise, unit variance."""
    return rng.standard_normal(n).astype(np.float32)


def _coloured(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    x = np.fft.irfft(spectrum / freqs ** (exponent / 2), n)
    return (x / (x.std() + 1e-12)).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f (pink) noise, unit variance."""
    return _coloured(n, rng, 1.0)


def brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f^2 (brown) noise, unit variance."""
    return _coloured(n, rng, 2.0)


def babble(pool: list[np.ndarray], n: int, rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    """Sum of ``talkers`` random excerpts (looped when short) from ``pool``, each at the same RMS, unit variance."""
    out = np.zeros(n, dtype=np.float64)
    for _ in range(talkers):
        x = pool[int(rng.integers(len(pool)))]
        x = np.tile(x, int(math.ceil(n / len(x))) + 1)
        start = int(rng.integers(0, len(x) - n + 1))
        piece = x[start : start + n].astype(np.float64)
        out += piece / (piece.std() + 1e-9)
    return (out / (out.std() + 1e-12)).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech + g * noise`` with ``g`` chosen so the speech-to-noise power ratio is ``snr_db``."""
    p_speech = float(np.mean(np.square(speech, dtype=np.float64))) + 1e-12
    p_noise = float(np.mean(np.square(noise, dtype=np.float64))) + 1e-12
    gain = math.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return (speech + gain * noise[: len(speech)]).astype(np.float32)


def reverberate(audio: np.ndarray, sample_rate: int, rt60: float, rng: np.random.Generator, direct_db: float = 0.0) -> np.ndarray:
    """Convolve with a synthetic room: a direct path plus exponentially decaying noise (60 dB down at ``rt60`` s).

    ``direct_db`` sets the direct-to-reverberant energy ratio; the output keeps the input's RMS.
    """
    from scipy.signal import fftconvolve

    n = max(2, int(rt60 * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    tail[0] = 0.0
    tail *= math.sqrt(10 ** (-direct_db / 10) / (np.sum(tail**2) + 1e-12))
    ir = tail
    ir[0] = 1.0
    wet = fftconvolve(audio.astype(np.float64), ir)[: len(audio)]
    return (wet * (np.std(audio) + 1e-12) / (np.std(wet) + 1e-12)).astype(np.float32)


def set_level(audio: np.ndarray, level_db: float) -> np.ndarray:
    """Scale to an RMS of ``level_db`` dBFS, then clip to [-1, 1] (loud settings clip, as real recordings do)."""
    gain = 10 ** ((level_db - rms_db(audio)) / 20)
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


def band_limit(audio: np.ndarray, sample_rate: int, low_hz: float | None = None, high_hz: float | None = None, order: int = 6) -> np.ndarray:
    """Keep ``low_hz``..``high_hz`` with Butterworth filters (either may be `None`)."""
    from scipy.signal import butter, sosfilt

    x = audio.astype(np.float64)
    if high_hz is not None and high_hz < sample_rate / 2:
        x = sosfilt(butter(order, high_hz, "lowpass", fs=sample_rate, output="sos"), x)
    if low_hz is not None and low_hz > 0:
        x = sosfilt(butter(order // 2 or 1, low_hz, "highpass", fs=sample_rate, output="sos"), x)
    return x.astype(np.float32)


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (shorter, higher): polyphase resampling by ``1 / factor`` (to 1/200)."""
    from scipy.signal import resample_poly

    up, down = 200, int(round(200 * factor))
    return resample_poly(audio.astype(np.float64), up, down).astype(np.float32)


def equalize(audio: np.ndarray, sample_rate: int, rng: np.random.Generator, tilt_db: float = 6.0, peak_db: float = 6.0) -> np.ndarray:
    """Apply a random smooth EQ: a tilt of up to ``tilt_db`` across the band plus 1-3 broad bumps of up to ``peak_db``."""
    n = len(audio)
    spectrum = np.fft.rfft(audio.astype(np.float64))
    octaves = np.log2(np.maximum(np.fft.rfftfreq(n, 1.0 / sample_rate), 50.0) / 50.0)
    span = max(float(octaves.max()), 1e-6)
    gain_db = rng.uniform(-tilt_db, tilt_db) * (octaves / span - 0.5)
    for _ in range(int(rng.integers(1, 4))):
        centre, width = rng.uniform(0.5, span), rng.uniform(0.5, 1.5)
        gain_db += rng.uniform(-peak_db, peak_db) * np.exp(-0.5 * ((octaves - centre) / width) ** 2)
    return np.fft.irfft(spectrum * 10 ** (gain_db / 20), n).astype(np.float32)


def mu_law(audio: np.ndarray, bits: int = 8) -> np.ndarray:
    """mu-law companding to ``bits`` bits and back (the telephone codec, and the fallback of :func:`codec_roundtrip`)."""
    mu = 2**bits - 1
    x = np.clip(audio, -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu)
    y = np.round((y + 1) / 2 * mu) / mu * 2 - 1
    return (np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu).astype(np.float32)


_CODECS = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus")}


def codec_roundtrip(audio: np.ndarray, sample_rate: int, codec: str = "mp3", bitrate: int = 16000) -> np.ndarray:
    """Encode ``audio`` with PyAV (``"mp3"`` or ``"opus"`` at ``bitrate`` bit/s) and decode it back, same length.

    Falls back to 8-bit :func:`mu_law` (with a warning) when FFmpeg lacks the encoder.
    """
    import av

    if codec not in _CODECS:
        msg = f"codec must be one of {sorted(_CODECS)}, got {codec!r}"
        raise ValueError(msg)
    container_format, encoder = _CODECS[codec]
    x = np.clip(audio, -1.0, 1.0).astype(np.float32)
    try:
        buffer = io.BytesIO()
        with av.open(buffer, "w", format=container_format) as out:
            stream = out.add_stream(encoder, rate=sample_rate, layout="mono")
            stream.bit_rate = int(bitrate)
            frame = av.AudioFrame.from_ndarray(x[None], format="flt", layout="mono")
            frame.sample_rate = sample_rate
            for packet in (*stream.encode(frame), *stream.encode(None)):
                out.mux(packet)
        buffer.seek(0)
        pieces = []
        with av.open(buffer) as src:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for decoded in src.decode(src.streams.audio[0]):
                pieces.extend(p.to_ndarray().reshape(-1) for p in resampler.resample(decoded))
            pieces.extend(p.to_ndarray().reshape(-1) for p in resampler.resample(None))
    except Exception as error:  # no such encoder in this FFmpeg build, or it refused the settings
        logger.warning("codec %s at %d bit/s failed (%s); using 8-bit mu-law instead", codec, bitrate, error)
        return mu_law(x)
    y = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)].astype(np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of :func:`augment_speech` (each step is drawn independently).

    Args:
        p_noise (`float`): probability of additive noise; its kind is drawn from ``noise_kinds`` and its SNR
            uniformly from ``snr_db``.
        p_reverb (`float`): probability of reverberation, RT60 uniform in ``rt60``.
        p_band (`float`): probability of band-limiting: a low-pass at a cut-off uniform in ``lowpass_hz``,
            with a high-pass at ``highpass_hz`` half of the time.
        p_codec (`float`): probability of an mp3 or Opus round trip at a bit rate from ``codec_bitrates``.
        level_db (`tuple[float, float]`): the output RMS level in dBFS, always applied.
        p_speed (`float`): probability of a speed change by a factor uniform in ``speed``.
        p_eq (`float`): probability of a random EQ (:func:`equalize`).
    """

    p_noise: float = 0.7
    noise_kinds: tuple[str, ...] = ("white", "pink", "brown", "babble")
    snr_db: tuple[float, float] = (-5.0, 30.0)
    p_reverb: float = 0.35
    rt60: tuple[float, float] = (0.2, 1.0)
    p_band: float = 0.3
    lowpass_hz: tuple[float, float] = (2500.0, 6000.0)
    highpass_hz: tuple[float, float] = (100.0, 400.0)
    p_codec: float = 0.3
    codec_bitrates: tuple[int, ...] = (8000, 12000, 16000, 24000)
    level_db: tuple[float, float] = (-45.0, -12.0)
    p_speed: float = 0.0
    speed: tuple[float, float] = (0.88, 1.12)
    p_eq: float = 0.0

    def to_dict(self) -> dict:
        """The settings as JSON-ready values (part of a cache key)."""
        return asdict(self)


def augment_speech(
    audio: np.ndarray, sample_rate: int, rng: np.random.Generator, config: AugmentConfig | None = None,
    babble_pool: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, float | str]]:
    """A randomly degraded copy of a mono speech signal, and what was done to it.

    Order: speed, EQ, reverberation, band-limiting, additive noise, level, codec. Returns the signal (its
    length changes with the speed) and a dict with ``speed`` (1 when unchanged), ``snr_db`` (``inf`` without
    noise), ``noise``, ``rt60`` (0 without reverb), ``lowpass_hz``, ``codec``, ``level_db``. ``babble_pool`` (other speakers' signals) is needed for the ``"babble"`` kind; without it
    babble falls back to pink noise.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> noisy, info = augment_speech(np.sin(np.arange(16000) / 10).astype(np.float32), 16000, rng)
        >>> noisy.shape, sorted(info)[:2]
        ((16000,), ['codec', 'level_db'])
        >>> faster, info = augment_speech(np.zeros(16000, np.float32) + 0.1, 16000, rng, AugmentConfig(p_speed=1.0, speed=(1.25, 1.25)))
        >>> faster.shape, info["speed"]
        ((12800,), 1.25)
    """
    config = config or AugmentConfig()
    x = np.asarray(audio, dtype=np.float32)
    info: dict[str, float | str] = {"speed": 1.0, "snr_db": math.inf, "noise": "none", "rt60": 0.0, "lowpass_hz": 0.0, "codec": "none"}
    if config.p_speed > 0 and rng.random() < config.p_speed:
        info["speed"] = float(rng.uniform(*config.speed))
        x = change_speed(x, float(info["speed"]))
    if config.p_eq > 0 and rng.random() < config.p_eq:
        x = equalize(x, sample_rate, rng)
    if rng.random() < config.p_reverb:
        info["rt60"] = float(rng.uniform(*config.rt60))
        x = reverberate(x, sample_rate, float(info["rt60"]), rng, direct_db=float(rng.uniform(-3.0, 6.0)))
    if rng.random() < config.p_band:
        info["lowpass_hz"] = float(rng.uniform(*config.lowpass_hz))
        low = float(rng.uniform(*config.highpass_hz)) if rng.random() < 0.5 else None
        x = band_limit(x, sample_rate, low, float(info["lowpass_hz"]))
    if rng.random() < config.p_noise:
        kind = str(config.noise_kinds[int(rng.integers(len(config.noise_kinds)))])
        if kind == "babble" and not babble_pool:
            kind = "pink"
        noise = {
            "white": lambda: white_noise(len(x), rng),
            "pink": lambda: pink_noise(len(x), rng),
            "brown": lambda: brown_noise(len(x), rng),
            "babble": lambda: babble(babble_pool or [], len(x), rng, talkers=int(rng.integers(3, 8))),
        }[kind]()
        info["noise"], info["snr_db"] = kind, float(rng.uniform(*config.snr_db))
        x = mix_at_snr(x, noise, float(info["snr_db"]))
    x = set_level(x, float(rng.uniform(*config.level_db)))
    if rng.random() < config.p_codec:
        info["codec"] = str(rng.choice(["mp3", "opus"]))
        x = codec_roundtrip(x, sample_rate, str(info["codec"]), int(rng.choice(config.codec_bitrates)))
    info["level_db"] = rms_db(x)
    return x, info


def _chord(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sample_rate
    root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
    shapes = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 5, 9), (0, 7, 12, 16), (0, 3, 6))
    intervals = shapes[int(rng.integers(len(shapes)))]
    x = np.zeros(n)
    for semitones in intervals:
        f = root * 2 ** (semitones / 12)
        for k in range(1, int(rng.integers(1, 5)) + 1):
            x += np.sin(2 * np.pi * k * f * t + rng.uniform(0, 2 * np.pi)) / k
    env = np.ones(n)
    if rng.random() < 0.5:  # re-struck chords with decays
        period = int(rng.uniform(0.3, 1.2) * sample_rate)
        env = np.exp(-(np.arange(n) % period) / (0.3 * period))
    return (x * env).astype(np.float32)


def _hum(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sample_rate
    base = float(rng.choice([50.0, 60.0]))
    x = sum(np.sin(2 * np.pi * k * base * t) / k for k in range(1, 8))
    return (x + 0.05 * rng.standard_normal(n)).astype(np.float32)


def _clicks(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    x = 0.01 * rng.standard_normal(n)
    for start in rng.integers(0, max(1, n - 200), size=int(rng.integers(5, 60))):
        length = int(rng.integers(20, 200))
        x[start : start + length] += rng.standard_normal(min(length, n - start)) * np.exp(-np.arange(min(length, n - start)) / 30)
    return x.astype(np.float32)


def nonspeech_signal(
    kind: str, seconds: float, sample_rate: int, rng: np.random.Generator, music: np.ndarray | None = None
) -> np.ndarray:
    """A mono non-speech signal of ``kind`` (one of :data:`NONSPEECH_KINDS`) at a random RMS level.

    ``"music"`` takes a random excerpt of ``music`` (e.g. an EMOPIA clip rendered with
    :func:`emogen.music.synth.render_audio`); ``"quiet"`` is faint noise near -60 dBFS.

    Example:
        >>> x = nonspeech_signal("chord", 2.0, 16000, np.random.default_rng(0))
        >>> x.shape, x.dtype
        ((32000,), dtype('float32'))
    """
    n = int(seconds * sample_rate)
    if kind == "white":
        x = white_noise(n, rng)
    elif kind == "pink":
        x = pink_noise(n, rng)
    elif kind == "brown":
        x = brown_noise(n, rng)
    elif kind == "chord":
        x = _chord(n, sample_rate, rng)
    elif kind == "hum":
        x = _hum(n, sample_rate, rng)
    elif kind == "clicks":
        x = _clicks(n, sample_rate, rng)
    elif kind == "quiet":
        return set_level(pink_noise(n, rng) if rng.random() < 0.5 else white_noise(n, rng), float(rng.uniform(-65.0, -55.0)))
    elif kind == "music":
        if music is None or len(music) == 0:
            msg = "nonspeech_signal('music') needs a rendered music signal as `music`"
            raise ValueError(msg)
        reps = int(math.ceil(n / len(music))) + 1
        source = np.tile(music, reps) if len(music) < n else music
        start = int(rng.integers(0, len(source) - n + 1))
        x = source[start : start + n].astype(np.float32)
    else:
        msg = f"kind must be one of {', '.join(NONSPEECH_KINDS)}, got {kind!r}"
        raise ValueError(msg)
    return set_level(x, float(rng.uniform(-40.0, -10.0)))
