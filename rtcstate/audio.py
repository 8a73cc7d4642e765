"""The guide's microphone test, as pure functions.

The guide polls an analyser's byte frequency data (values 0..255), takes the root mean square
``rms`` and computes ``level = ceil(10 * log2(rms) / 8)``: 0 for silence, 10 at full scale. A
level that stays 0 while the user talks means the microphone is most likely reserved by another
application (mobile browsers grant getUserMedia even then).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["MAX_LEVEL", "audio_level", "peak_level", "root_mean_square"]

MAX_LEVEL = 10
"""The loudest level: ``ceil(10 * log2(255) / 8)``."""


def root_mean_square(samples: Iterable[float]) -> float:
    """The root mean square of ``samples``; 0 for no samples.

    Raises:
        ValueError: a sample is not a finite number.
    """
    import numpy as np  # deferred: numpy costs more to import than the rest of rtcstate

    values = np.fromiter(samples, dtype=np.float64)
    if values.size == 0:
        return 0.0
    if not np.all(np.isfinite(values)):
        raise ValueError("samples must be finite numbers")
    return float(np.sqrt(np.mean(values * values)))


def audio_level(samples: Iterable[float]) -> int:
    """The guide's audio level of one frame of samples: an integer from 0 (silence) to 10.

    ``samples`` are the analyser's byte frequency data (0..255), as in the guide. ``rms`` below 1
    would give a negative logarithm; the guide's formula then rounds up to 0 or below, so the
    level is clamped to 0..10.
    """
    rms = root_mean_square(samples)
    if rms <= 0:
        return 0
    level = math.ceil(10 * math.log2(rms) / 8)
    return max(0, min(MAX_LEVEL, level))


def peak_level(frames: Iterable[Iterable[float]]) -> int:
    """The highest level over several frames: what a preflight reports as its measured level."""
    return max((audio_level(frame) for frame in frames), default=0)
