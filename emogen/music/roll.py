"""A piano-roll picture of note events (``emogen music --plot roll.png``), drawn with OpenCV.

Pitch runs up the y axis (C of every octave named, black-key rows shaded), time runs along the x axis in
bars (bar lines numbered, beat lines fainter), and each note is a bar coloured by its velocity (viridis:
dark blue soft, yellow loud; the scale is drawn on the right).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .representation import DURATION_CLASSES, POSITIONS_PER_BAR, EventSequence, velocity_value

__all__ = ["draw_piano_roll", "pitch_name", "save_piano_roll"]

_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_BLACK_KEYS = {1, 3, 6, 8, 10}
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 96, 40, 44  # margins in pixels: names, velocity scale, title, bar numbers
_INK, _GRID, _BAR_LINE = (40, 40, 40), (222, 222, 222), (120, 120, 120)


def pitch_name(pitch: int) -> str:
    """Scientific name of a MIDI pitch: 60 -> ``C4``, 69 -> ``A4``."""
    return f"{_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _velocity_colours() -> np.ndarray:
    """BGR colour of each MIDI velocity 0-127 (viridis)."""
    import cv2

    lut = np.linspace(0, 255, 128).astype(np.uint8)[:, None]
    return cv2.applyColorMap(lut, cv2.COLORMAP_VIRIDIS)[:, 0, :]


def draw_piano_roll(sequence: EventSequence, title: str | None = None, width: int = 1400) -> np.ndarray:
    """Draw the piano roll of ``sequence`` as a BGR ``uint8`` image (about ``width`` pixels wide).

    Example:
        >>> from emogen.music.representation import EventSequence, NoteEvent
        >>> image = draw_piano_roll(EventSequence([NoteEvent(0, 0, 60, 3, 10), NoteEvent(1, 4, 67, 5, 4)]))
        >>> image.ndim, image.shape[2]
        (3, 3)
    """
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    last = max((e.bar * POSITIONS_PER_BAR + e.position + DURATION_CLASSES[e.duration] for e in sequence.events), default=1)
    bars = max(1, -(-last // POSITIONS_PER_BAR))  # every bar a note sounds in, held notes included
    steps = bars * POSITIONS_PER_BAR
    pitches = [e.pitch for e in sequence.events] or [60]
    low, high = min(pitches) - 2, max(pitches) + 2
    if high - low < 24:  # at least two octaves, centred on the music
        pad = (24 - (high - low)) // 2
        low, high = low - pad, low - pad + 24
    rows = high - low + 1
    step_px = max(1, (width - _LEFT - _RIGHT) // steps)
    row_px = int(np.clip(560 // rows, 5, 14))
    plot_w, plot_h = steps * step_px, rows * row_px
    image = np.full((_TOP + plot_h + _BOTTOM, _LEFT + plot_w + _RIGHT, 3), 255, np.uint8)

    def y_of(pitch: int) -> int:  # top edge of a pitch's row
        return _TOP + (high - pitch) * row_px

    # Rows: black keys shaded; C of every octave named and ruled.
    for pitch in range(low, high + 1):
        y = y_of(pitch)
        if pitch % 12 in _BLACK_KEYS:
            image[y : y + row_px, _LEFT : _LEFT + plot_w] = (242, 242, 242)
        if pitch % 12 == 0:
            cv2.line(image, (_LEFT, y + row_px - 1), (_LEFT + plot_w, y + row_px - 1), _GRID, 1)
            cv2.putText(image, pitch_name(pitch), (6, y + row_px - 1), font, 0.4, _INK, 1, cv2.LINE_AA)
    # Beats and bars; bar numbers under the plot (thinned out when crowded).
    label_every = int(np.ceil(bars / max(1, plot_w // 40)))
    for step in range(0, steps + 1, 4):
        x = _LEFT + step * step_px
        if step % POSITIONS_PER_BAR:
            if step_px * 4 >= 6:
                cv2.line(image, (x, _TOP), (x, _TOP + plot_h), _GRID, 1)
            continue
        cv2.line(image, (x, _TOP), (x, _TOP + plot_h), _BAR_LINE, 1)
        bar = step // POSITIONS_PER_BAR
        if bar < bars and bar % label_every == 0:
            cv2.putText(image, str(bar + 1), (x + 3, _TOP + plot_h + 16), font, 0.4, _INK, 1, cv2.LINE_AA)
    cv2.putText(image, "bar", (_LEFT + plot_w - 24, _TOP + plot_h + 34), font, 0.4, _INK, 1, cv2.LINE_AA)
    # Notes, quiet ones first so loud ones stay on top, each outlined so neighbours stay apart.
    colours = _velocity_colours()
    for e in sorted(sequence.events, key=lambda e: e.velocity):
        start = e.bar * POSITIONS_PER_BAR + e.position
        x0 = _LEFT + start * step_px
        x1 = x0 + max(DURATION_CLASSES[e.duration] * step_px, 2) - 1
        y0 = y_of(e.pitch)
        colour = tuple(int(c) for c in colours[int(velocity_value(e.velocity))])
        cv2.rectangle(image, (x0, y0), (x1, y0 + row_px - 2), colour, -1)
        cv2.rectangle(image, (x0, y0), (x1, y0 + row_px - 2), (30, 30, 30), 1)
    cv2.rectangle(image, (_LEFT, _TOP), (_LEFT + plot_w, _TOP + plot_h), _INK, 1)
    # Velocity scale.
    x0, x1 = _LEFT + plot_w + 22, _LEFT + plot_w + 36
    ramp = colours[::-1]
    image[_TOP : _TOP + plot_h, x0:x1] = ramp[np.linspace(0, 127, plot_h).astype(int)][:, None, :]
    cv2.rectangle(image, (x0, _TOP), (x1, _TOP + plot_h), _INK, 1)
    cv2.putText(image, "127", (x1 + 4, _TOP + 10), font, 0.35, _INK, 1, cv2.LINE_AA)
    cv2.putText(image, "0", (x1 + 4, _TOP + plot_h), font, 0.35, _INK, 1, cv2.LINE_AA)
    cv2.putText(image, "velocity", (x0 - 8, _TOP - 6), font, 0.35, _INK, 1, cv2.LINE_AA)
    if title:
        cv2.putText(image, title, (_LEFT, 24), font, 0.5, _INK, 1, cv2.LINE_AA)
    return image


def save_piano_roll(sequence: EventSequence, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Write the piano roll of ``sequence`` as a PNG at ``path`` (not atomic by itself; wrap it in ``atomic_output``)."""
    import cv2

    ok, png = cv2.imencode(".png", draw_piano_roll(sequence, title=title))
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR image
        msg = f"OpenCV could not encode the piano roll for {str(path)!r}"
        raise RuntimeError(msg)
    Path(path).write_bytes(png.tobytes())
    return Path(path)
