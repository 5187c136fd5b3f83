"""Full-band WORLD resynthesis at the input's sample rate, driven by the 16 kHz model's feature changes.

The voice model reads and changes WORLD features of 16 kHz speech (:data:`~emogen.voice.audio.MODEL_SAMPLE_RATE`):
log-F0 and the first mel-cepstrum coefficients, which describe the spectral envelope up to 8 kHz. For a
44.1 or 48 kHz recording the envelope and aperiodicity are analysed again at the recording's own rate (with
the F0 of the 16 kHz analysis, so both analyses share frames), the model's envelope change is applied to
them, and WORLD resynthesises at that rate: the harmonics above 8 kHz follow the new F0, the high band
follows the same rate change, and nothing is resampled up from 16 kHz (no band limit, no images).

The model's change of the coded envelope is linear in the log spectrum, so it decodes to a per-frame
log-gain curve over 0-8 kHz (:func:`envelope_log_gain`). Above 8 kHz (:func:`extend_log_gain`) the curve
starts from its value at 8 kHz (WORLD's coding is a cosine series on a warped frequency axis, so the curve
is flat there and the extension joins it smoothly) and relaxes by 10 kHz to the level change around the
frame (energy below 8 kHz, pooled over about a syllable): the high band follows the emotion's loudness
syllable by syllable, and the model's tilt change, learnt only below 8 kHz, is not extrapolated (a
fricative frame's own level change would carry it: its energy sits at the top of the band).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from .world import FRAME_PERIOD_MS, NUM_MCEP, _interp_rows, stretch_f0

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pyworld

__all__ = ["LEVEL_WINDOW", "FullBandFeatures", "analyze_full_band", "band_energy", "envelope_log_gain", "extend_log_gain", "synthesize_full_band"]

#: Frames (5 ms) over which the level change carried above the model's band is pooled: about a syllable (205 ms;
#: the full-band benchmark's worst high band vs the change below 8 kHz: -6.1 dB at 31 frames, -5.5 at 41, -4.9 at 51).
LEVEL_WINDOW = 41


@dataclass
class FullBandFeatures:
    """Uncoded WORLD features at any sample rate.

    Args:
        f0 (`np.ndarray` of shape `(frames,)`): F0 in Hz, 0 where unvoiced.
        sp (`np.ndarray` of shape `(frames, fft_size // 2 + 1)`): spectral envelope (power).
        ap (`np.ndarray` of shape `(frames, fft_size // 2 + 1)`): aperiodicity in [0, 1].
        sample_rate (`int`): sample rate of the analysed signal.
        frame_period (`float`): frame period in ms.
    """

    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray
    sample_rate: int
    frame_period: float = FRAME_PERIOD_MS

    @property
    def num_frames(self) -> int:
        """Number of analysis frames."""
        return int(self.f0.shape[0])

    def time_scale(self, factor: float) -> FullBandFeatures:
        """Stretch the frames by ``factor`` as :meth:`~emogen.voice.world.WorldFeatures.time_scale` does.

        The envelope is interpolated in the log domain, voicing by nearest neighbour.
        """
        stretched = stretch_f0(self.f0, factor)
        if stretched is None:
            return self
        pos, f0 = stretched
        sp = np.exp(_interp_rows(np.log(self.sp), pos))
        return replace(self, f0=f0, sp=sp, ap=_interp_rows(self.ap, pos))


def analyze_full_band(audio: np.ndarray, sample_rate: int, f0: np.ndarray, frame_period: float = FRAME_PERIOD_MS) -> FullBandFeatures:
    """CheapTrick envelope and D4C aperiodicity of ``audio`` at its own rate, for a given F0 track.

    ``f0`` is reused from an analysis of the same signal at another rate (same frame period), so the frames
    line up with it and DIO/StoneMask do not run again at the high rate.
    """
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0 = np.ascontiguousarray(f0, dtype=np.float64)
    times = np.arange(len(f0), dtype=np.float64) * (frame_period / 1000.0)
    fft_size = pyworld.get_cheaptrick_fft_size(sample_rate)
    # CheapTrick treats a frame whose F0 is below what its FFT holds (3 periods) as unvoiced and uses a
    # 2 ms window, whose low band is wrong by up to 55 dB; at 16 kHz the FFT reaches 47 Hz, at 48 kHz
    # only 70 Hz. Lifting such F0 to the floor keeps a full-length window (the envelope moves < 0.3 dB).
    floor = 3.0 * sample_rate / (fft_size - 3.0) * 1.001
    sp_f0 = np.where(f0 > 0, np.maximum(f0, floor), 0.0)
    sp = pyworld.cheaptrick(x, sp_f0, times, sample_rate, fft_size=fft_size)
    ap = pyworld.d4c(x, f0, times, sample_rate, fft_size=fft_size)
    return FullBandFeatures(f0=f0.copy(), sp=sp, ap=ap, sample_rate=sample_rate, frame_period=frame_period)


@lru_cache(maxsize=4)
def _coded_basis(model_rate: int, num_coefficients: int) -> np.ndarray:
    """Log-spectrum change of a unit change of each coded-envelope coefficient, `(num_coefficients, bins)`."""
    fft_size = pyworld.get_cheaptrick_fft_size(model_rate)
    eye = np.zeros((num_coefficients, NUM_MCEP))
    eye[np.arange(num_coefficients), np.arange(num_coefficients)] = 1.0
    zero = np.log(pyworld.decode_spectral_envelope(np.zeros((1, NUM_MCEP)), model_rate, fft_size))
    return np.log(pyworld.decode_spectral_envelope(eye, model_rate, fft_size)) - zero


def envelope_log_gain(mcep_delta: np.ndarray, model_rate: int) -> np.ndarray:
    """Natural-log power gain over 0 to ``model_rate / 2`` of a change of the first coded coefficients.

    Args:
        mcep_delta (`np.ndarray` of shape `(frames, k)`): change of coefficients ``0 .. k-1`` of the coded
            envelope (:func:`~emogen.voice.world.analyze` at ``model_rate``).
        model_rate (`int`): the rate the coding refers to.

    Returns:
        `np.ndarray` of shape `(frames, fft_size // 2 + 1)`, on CheapTrick's frequency grid at ``model_rate``.
    """
    basis = _coded_basis(int(model_rate), int(mcep_delta.shape[1]))
    return np.asarray(mcep_delta, dtype=np.float64) @ basis


def extend_log_gain(log_gain: np.ndarray, model_envelope: np.ndarray, model_rate: int, sample_rate: int, num_bins: int, taper_hz: float = 2000.0) -> np.ndarray:
    """Carry a log-gain curve on the model's band over to a full-band frequency grid.

    Below ``model_rate / 2`` the curve is interpolated. Above, it goes from its value at the band edge to
    the level change around the frame (the gain of the energy below ``model_rate / 2``, as the model's own
    envelope has it, summed over :data:`LEVEL_WINDOW` frames) along a raised cosine over ``taper_hz``, and
    holds that level beyond: the band above
    8 kHz follows the emotion's loudness and its time course, and the model's change of spectral tilt,
    which it learnt only up to 8 kHz, fades out instead of being extrapolated.

    Args:
        log_gain (`np.ndarray` of shape `(frames, model_bins)`): natural-log power gain on CheapTrick's grid
            at ``model_rate`` (:func:`envelope_log_gain`).
        model_envelope (`np.ndarray` of shape `(frames, model_bins)`): the source's envelope on that grid
            (weights the level change).
        model_rate (`int`): the rate ``log_gain`` refers to.
        sample_rate (`int`): the rate of the full-band grid.
        num_bins (`int`): bins of the full-band grid (``fft_size // 2 + 1``).
        taper_hz (`float`, *optional*, defaults to 2000): width of the transition above the band edge.

    Returns:
        `np.ndarray` of shape `(frames, num_bins)`.
    """
    nyquist = model_rate / 2
    src = np.linspace(0.0, nyquist, log_gain.shape[1])
    dst = np.linspace(0.0, sample_rate / 2, num_bins)
    inside = dst <= nyquist
    gain = np.empty((log_gain.shape[0], num_bins))
    for n in range(log_gain.shape[0]):
        gain[n, inside] = np.interp(dst[inside], src, log_gain[n])
    # the level change of the energy below the band edge, pooled over about a syllable (LEVEL_WINDOW frames,
    # energy-weighted): a fricative frame's own energy sits at the top of the model's band, where its gain
    # is the model's tilt change, which would otherwise be carried into the band above
    changed = _moving_sum(np.sum(model_envelope * np.exp(log_gain), axis=1), LEVEL_WINDOW)
    level = np.log(changed / np.maximum(_moving_sum(np.sum(model_envelope, axis=1), LEVEL_WINDOW), 1e-300))
    edge = log_gain[:, -1]
    taper = np.cos(0.5 * np.pi * np.clip((dst[~inside] - nyquist) / taper_hz, 0.0, 1.0)) ** 2
    gain[:, ~inside] = level[:, None] + (edge - level)[:, None] * taper[None]
    return gain


def _moving_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum of ``values`` over a centred window of ``window`` frames (shorter at the ends)."""
    total = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(len(values))
    low = np.clip(index - window // 2, 0, len(values))
    high = np.clip(index + window // 2 + 1, 0, len(values))
    return total[high] - total[low]


def synthesize_full_band(features: FullBandFeatures) -> np.ndarray:
    """WORLD resynthesis of uncoded features to a float32 mono signal at their sample rate."""
    y = pyworld.synthesize(
        np.ascontiguousarray(features.f0, dtype=np.float64),
        np.ascontiguousarray(features.sp, dtype=np.float64),
        np.ascontiguousarray(features.ap, dtype=np.float64),
        features.sample_rate,
        features.frame_period,
    )
    return y.astype(np.float32)


def band_energy(audio: np.ndarray, sample_rate: int, low: float, high: float) -> float:
    """Mean power per sample of ``audio`` between ``low`` and ``high`` Hz (from one FFT of the whole signal)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.size == 0:
        return 0.0
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    return float(power[(freqs >= low) & (freqs < high)].sum() / len(x) ** 2)
