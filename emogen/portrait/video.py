"""Streaming mp4 output: RGB frames to H.264 (yuv420p) with AAC audio, encoded by PyAV.

Frames go to the encoder as they come, so a clip of any length runs in bounded memory, and audio is
interleaved with them. The file is written under a temporary name and renamed when the writer closes
without error (:func:`emogen.utils.io.atomic_output`): a failed run leaves nothing behind.

PyAV is imported when a writer opens, not with this module. Reading videos back:
:func:`emogen.portrait.dataset.read_video_frames`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from ..errors import InputError

__all__ = ["VideoWriter", "video_codec"]

logger = logging.getLogger(__name__)

#: Video encoders tried in order (the first one this PyAV build has wins).
VIDEO_CODECS = ("libx264", "libopenh264", "h264", "mpeg4")
#: Sample rates the AAC encoder takes; others are resampled to 48 kHz.
AAC_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000})
#: libx264 settings: near-transparent quality, fast.
X264_OPTIONS = {"crf": "18", "preset": "veryfast"}


def video_codec() -> str:
    """The best H.264 encoder in this PyAV build (``libx264``, else ``libopenh264``), else ``mpeg4``."""
    import av

    for name in VIDEO_CODECS:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # av.codec.codec.UnknownCodecError / ValueError
            continue
        return name
    msg = "this PyAV build has no H.264 or MPEG-4 encoder; reinstall PyAV from its wheels (pip install av)"
    raise RuntimeError(msg)


class VideoWriter:
    r"""Write RGB uint8 frames and an audio track to an mp4 (H.264 + AAC), atomically.

    Args:
        path (`str` or `os.PathLike`): the output file (``.mp4``; ``.mov``/``.mkv`` also work).
        fps (`float`, defaults to 25): frame rate.
        size (`int` or `tuple[int, int]`): frame side, or ``(width, height)``. Odd sides are padded by one
            pixel (yuv420p needs even sizes).
        audio (`np.ndarray`, *optional*): ``(samples,)`` or ``(samples, channels)`` float audio in [-1, 1].
        sample_rate (`int`, *optional*): rate of ``audio``; required with it.

    Example:
        >>> with VideoWriter("out.mp4", 25, 256, audio=wave, sample_rate=16000) as writer:  # doctest: +SKIP
        ...     for frame in frames:
        ...         writer.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float = 25,
        size: int | tuple[int, int] = 256,
        audio: np.ndarray | None = None,
        sample_rate: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.width, self.height = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
        if self.width < 2 or self.height < 2:
            msg = f"video size {self.width}x{self.height} is too small; give at least 2x2 pixels"
            raise ValueError(msg)
        if audio is not None:
            if sample_rate is None:
                msg = "sample_rate is required with audio"
                raise ValueError(msg)
            array = np.asarray(audio, dtype=np.float32)
            array = array[:, None] if array.ndim == 1 else array
            if array.ndim != 2 or array.shape[1] not in (1, 2):
                array = array.mean(axis=1, keepdims=True)  # more than stereo: downmix
            self._audio: np.ndarray | None = np.ascontiguousarray(np.clip(array, -1.0, 1.0))
        else:
            self._audio = None
        self.sample_rate = int(sample_rate) if sample_rate else None
        self.frames_written = 0
        self._audio_done = 0
        self._stack: contextlib.ExitStack | None = None
        self._container = None

    # --------------------------------------------------------------- context
    def __enter__(self) -> VideoWriter:
        import av

        stack = contextlib.ExitStack()
        from ..utils.io import atomic_output

        tmp = stack.enter_context(atomic_output(self.path))
        try:
            suffix = self.path.suffix.lower()
            options = {"movflags": "+faststart"} if suffix in (".mp4", ".mov", ".m4v", "") else {}
            fmt = "mp4" if suffix in ("", ".mp4", ".m4v") else None
            container = av.open(str(tmp), mode="w", format=fmt, options=options)
            stack.callback(container.close)
            codec = video_codec()
            stream = container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
            stream.width, stream.height = self.width + self.width % 2, self.height + self.height % 2
            stream.pix_fmt = "yuv420p"
            if codec in ("libx264", "h264"):
                stream.options = dict(X264_OPTIONS)
            self._video = stream
            self._audio_stream = None
            if self._audio is not None:
                rate = self.sample_rate if self.sample_rate in AAC_RATES else 48000
                layout = "stereo" if self._audio.shape[1] == 2 else "mono"
                self._audio_stream = container.add_stream("aac", rate=rate, layout=layout)
                self._layout = layout
        except BaseException:
            stack.__exit__(*_exc_info())
            raise
        self._container = container
        self._stack = stack
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        stack, self._stack = self._stack, None
        if stack is None:
            return False
        if exc_type is None:
            try:
                self._finish()
            except BaseException:
                stack.__exit__(*_exc_info())  # close the container and remove the temporary file
                raise
        stack.__exit__(exc_type, exc, tb)
        return False

    # --------------------------------------------------------------- writing
    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB uint8 frame ``(height, width, 3)`` (and the audio up to its end time)."""
        import av

        if self._container is None or self._stack is None:
            msg = "VideoWriter.write called outside its with block"
            raise RuntimeError(msg)
        image = np.asarray(frame)
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            msg = f"frame must be uint8 ({self.height}, {self.width}, 3), got {image.dtype} {image.shape}"
            raise ValueError(msg)
        if self.width % 2 or self.height % 2:
            image = np.pad(image, ((0, self.height % 2), (0, self.width % 2), (0, 0)), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        video_frame.pts = self.frames_written
        self._container.mux(self._video.encode(video_frame))
        self.frames_written += 1
        if self._audio is not None and self.sample_rate:
            self._write_audio(int(round(self.frames_written / float(self.fps) * self.sample_rate)))

    def _write_audio(self, until: int) -> None:
        """Encode the audio samples from where the last call stopped up to sample ``until``."""
        import av

        assert self._audio is not None and self._audio_stream is not None
        until = min(until, len(self._audio))
        block = 4096
        while self._audio_done < until:
            end = min(until, self._audio_done + block)
            chunk = self._audio[self._audio_done : end]
            audio_frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout=self._layout)
            audio_frame.sample_rate = int(self.sample_rate)
            audio_frame.pts = self._audio_done
            audio_frame.time_base = Fraction(1, int(self.sample_rate))
            self._container.mux(self._audio_stream.encode(audio_frame))
            self._audio_done = end

    def _finish(self) -> None:
        """Flush the encoders (the rest of the audio first)."""
        if self.frames_written == 0:
            msg = f"no frames were written to {str(self.path)!r}"
            raise InputError(msg)
        if self._audio is not None:
            self._write_audio(len(self._audio))
            self._container.mux(self._audio_stream.encode(None))
        self._container.mux(self._video.encode(None))


def _exc_info() -> tuple:
    import sys

    return sys.exc_info()
