"""The guide's device tests before joining, as events for a DevicePermission machine.

Ask the user to talk, collect a few frames of the microphone analyser's byte frequency data, and
turn them into a ``device.level_measured`` event; count the frames a camera preview delivered
and turn that into ``device.frames_measured``. The device machine decides ``ok``, ``silent`` or
``no_frames`` from them.
"""

from __future__ import annotations

from collections.abc import Iterable

from rtcstate.audio import peak_level
from rtcstate.models.device import DeviceFramesMeasured, DeviceLevelMeasured

__all__ = ["camera_test_result", "microphone_test_result"]


def microphone_test_result(frames: Iterable[Iterable[float]],
                           *, at: float | None = None) -> DeviceLevelMeasured:
    """The event for a microphone test: the peak level over ``frames`` (0 means silent)."""
    return DeviceLevelMeasured(device_kind="microphone", level=peak_level(frames), at=at)


def camera_test_result(frames_received: int, *, at: float | None = None) -> DeviceFramesMeasured:
    """The event for a camera test that received ``frames_received`` frames (0: no frames)."""
    return DeviceFramesMeasured(device_kind="camera", frames=frames_received, at=at)
