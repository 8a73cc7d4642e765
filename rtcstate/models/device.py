"""Events that drive a DevicePermission machine (permission and capture of one device kind)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from rtcstate.catalog import CatalogEntry
from rtcstate.models.base import DeviceKind, ErrorRef, Event, FacingMode, Name, Text, _error_ref

__all__ = [
    "DeviceAcquireFailed",
    "DeviceCameraTakenByNewTrack",
    "DeviceEvent",
    "DeviceFallBackToDefault",
    "DeviceFramesMeasured",
    "DeviceGranted",
    "DeviceLevelMeasured",
    "DeviceMutedByNewCapture",
    "DeviceRelease",
    "DeviceRequest",
    "DeviceTest",
    "MediaErrorName",
]

MediaErrorName = Literal[
    "NotFoundError", "NotAllowedError", "TypeError", "NotReadableError", "OverconstrainedError"]
"""The names getUserMedia failures carry, as the guide's media-error table lists them."""


class DeviceEvent(Event):
    """Base of device events; ``device_kind`` names the machine instance."""

    target_field: ClassVar[str] = "device_kind"

    device_kind: DeviceKind


class DeviceRequest(DeviceEvent):
    """The application asks for the device (getUserMedia / createLocalTracks)."""

    type: Literal["device.request"] = "device.request"
    device_id: Name | None = Field(default=None, description="a specific device; None: the default")
    facing_mode: FacingMode | None = None


class DeviceGranted(DeviceEvent):
    """Permission was granted and capture started."""

    type: Literal["device.granted"] = "device.granted"
    label: Name | None = None


class DeviceAcquireFailed(DeviceEvent):
    """getUserMedia failed with one of the guide's media errors.

    ``message`` is the browser's raw message; it picks the cause among the entries of
    ``error_name`` (``"Permission dismissed"`` is the dismissed case of ``NotAllowedError``).
    """

    type: Literal["device.acquire_failed"] = "device.acquire_failed"
    error_name: MediaErrorName
    message: Text | None = None
    constraint: Name | None = Field(
        default=None, description="for OverconstrainedError: the constraint that failed")

    @classmethod
    def error_fields(cls, entry: CatalogEntry) -> dict[str, object]:
        messages = entry.browser_messages
        return {"error_name": entry.name, "message": messages[0] if messages else None}

    def error_ref(self) -> ErrorRef | None:
        return _error_ref(None, self.error_name, self.message)


class DeviceFallBackToDefault(DeviceEvent):
    """After OverconstrainedError: ask again for the default device, as the guide recommends."""

    type: Literal["device.fall_back_to_default"] = "device.fall_back_to_default"


class DeviceTest(DeviceEvent):
    """Start the preflight test (the guide's microphone-level or camera-preview test)."""

    type: Literal["device.test"] = "device.test"


class DeviceLevelMeasured(DeviceEvent):
    """The microphone level measured while the user was asked to talk (0 silence .. 10 loudest).

    Compute it from samples with :func:`rtcstate.audio.audio_level`.
    """

    type: Literal["device.level_measured"] = "device.level_measured"
    level: int = Field(ge=0, le=10)


class DeviceFramesMeasured(DeviceEvent):
    """The number of frames the camera delivered during the preview test."""

    type: Literal["device.frames_measured"] = "device.frames_measured"
    frames: int = Field(ge=0)


class DeviceMutedByNewCapture(DeviceEvent):
    """iOS Safari: a new getUserMedia call muted the tracks captured earlier (a WebKit bug)."""

    type: Literal["device.muted_by_new_capture"] = "device.muted_by_new_capture"


class DeviceCameraTakenByNewTrack(DeviceEvent):
    """Mobile browsers: a second camera track was created, so this one gets no more frames."""

    type: Literal["device.camera_taken_by_new_track"] = "device.camera_taken_by_new_track"


class DeviceRelease(DeviceEvent):
    """The application is done with the device (tracks stopped, nothing more to ask)."""

    type: Literal["device.release"] = "device.release"
