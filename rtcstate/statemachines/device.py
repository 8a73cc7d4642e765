"""The DevicePermission lifecycle: permission, capture and preflight test of one device kind.

One machine per device kind (``microphone``, ``camera``). A ``request`` (getUserMedia) ends
``granted`` or in the state of the guide's media error: ``denied`` (NotAllowedError, whether the
user clicked "deny" or dismissed the prompt), ``not_found``, ``not_readable`` (reserved by another
app), ``overconstrained`` (from which the guide's fall-back to the default device is an explicit
transition) or ``insecure_context`` (TypeError: no getUserMedia outside a secure context, which
no retry can fix).

The preflight is the guide's device test: a microphone whose level stays 0 while the user talks
is ``silent``, a camera that sends no frames is ``no_frames``; both most likely mean another app
holds the device. A granted device can also be ``preempted``: on iOS Safari a new capture mutes
earlier tracks, and mobile browsers give the camera to only one track at a time.

The picture is ``diagrams/device.svg``, rendered from :data:`DEVICE_SPEC`.
"""

from __future__ import annotations

from typing import ClassVar

from rtcstate import catalog
from rtcstate.models.base import DeviceKind, Event
from rtcstate.models.device import (
    DeviceAcquireFailed,
    DeviceCameraTakenByNewTrack,
    DeviceFallBackToDefault,
    DeviceFramesMeasured,
    DeviceGranted,
    DeviceLevelMeasured,
    DeviceMutedByNewCapture,
    DeviceRelease,
    DeviceRequest,
    DeviceTest,
)
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.statemachines.spec import (
    Effect,
    Guard,
    MachineSpec,
    Role,
    StateSpec,
    TransitionSpec,
)

__all__ = ["DEVICE_SPEC", "DevicePermissionMachine"]


def _entries(*ids: str) -> tuple[catalog.CatalogEntry, ...]:
    return tuple(catalog.by_id(entry_id) for entry_id in ids)


def _heard(device: DevicePermissionMachine, event: Event) -> bool:
    return device.id == "microphone" and isinstance(event, DeviceLevelMeasured) and event.level > 0


def _silent(device: DevicePermissionMachine, event: Event) -> bool:
    return device.id == "microphone" and isinstance(event, DeviceLevelMeasured) and event.level == 0


def _frames(device: DevicePermissionMachine, event: Event) -> bool:
    return device.id == "camera" and isinstance(event, DeviceFramesMeasured) and event.frames > 0


def _no_frames(device: DevicePermissionMachine, event: Event) -> bool:
    return device.id == "camera" and isinstance(event, DeviceFramesMeasured) and event.frames == 0


def _is_camera(device: DevicePermissionMachine, _event: Event) -> bool:
    return device.id == "camera"


def _remember_device(device: DevicePermissionMachine, event: Event) -> None:
    assert isinstance(event, DeviceRequest)
    device.device_id = event.device_id


def _forget_device(device: DevicePermissionMachine, _event: Event) -> None:
    device.device_id = None


_RETRIABLE = ("unknown", "denied", "not_found", "not_readable", "preempted")
_HOLDING = ("granted", "ok", "silent", "no_frames", "preempted")

DEVICE_SPEC = MachineSpec(
    kind="device",
    title="DevicePermission",
    doc="Permission, capture and preflight test of one device kind.",
    initial="unknown",
    states=(
        StateSpec("unknown", "Not asked for yet."),
        StateSpec("requesting", "getUserMedia pending (the permission prompt may be showing)."),
        StateSpec("granted", "Permission granted, capture started."),
        StateSpec("denied", "NotAllowedError: the user denied or dismissed permission."),
        StateSpec("not_found", "NotFoundError: no such device, or disabled in system settings."),
        StateSpec("not_readable", "NotReadableError: another app or tab has reserved the device."),
        StateSpec("overconstrained", "OverconstrainedError: the constraints cannot be met."),
        StateSpec("insecure_context", "TypeError: not a secure context; serve over https.",
                  terminal=True),
        StateSpec("testing", "Preflight test running (microphone level, camera preview)."),
        StateSpec("ok", "The preflight test passed."),
        StateSpec("silent", "Microphone level 0 while the user talked: probably reserved."),
        StateSpec("no_frames", "Camera sent no frames: probably reserved."),
        StateSpec("preempted", "A newer capture muted this one (iOS) or took the camera (mobile)."),
        StateSpec("released", "The application is done with the device.", terminal=True),
    ),
    transitions=(
        TransitionSpec("request", _RETRIABLE, "requesting", Role.ACTION,
                       effect=Effect("remember_device", _remember_device)),
        TransitionSpec("granted", ("requesting",), "granted"),
        TransitionSpec("acquire_failed", ("requesting",), "denied", Role.FAILURE,
                       errors=_entries("not-allowed-denied", "not-allowed-dismissed")),
        TransitionSpec("acquire_failed", ("requesting",), "not_found", Role.FAILURE,
                       errors=_entries("not-found-system-disabled", "not-found-no-device")),
        TransitionSpec("acquire_failed", ("requesting",), "not_readable", Role.FAILURE,
                       errors=_entries("not-readable-reserved")),
        TransitionSpec("acquire_failed", ("requesting",), "overconstrained", Role.FAILURE,
                       errors=_entries("overconstrained")),
        TransitionSpec("acquire_failed", ("requesting",), "insecure_context", Role.FAILURE,
                       errors=_entries("type-error-insecure-context")),
        TransitionSpec("fall_back_to_default", ("overconstrained",), "requesting", Role.FALLBACK,
                       effect=Effect("forget_device", _forget_device),
                       doc="Ask again for the default device, as the guide recommends."),
        TransitionSpec("test", ("granted", "silent", "no_frames"), "testing", Role.ACTION),
        TransitionSpec("level_measured", ("testing",), "ok",
                       guard=Guard("level_above_0", _heard, "a microphone heard the user"),
                       sample={"level": 5}),
        TransitionSpec("level_measured", ("testing",), "silent", Role.FAILURE,
                       guard=Guard("level_is_0", _silent, "a microphone stayed silent"),
                       errors=_entries("microphone-silent"), sample={"level": 0}),
        TransitionSpec("frames_measured", ("testing",), "ok",
                       guard=Guard("frames_above_0", _frames, "a camera sent frames"),
                       sample={"frames": 30}),
        TransitionSpec("frames_measured", ("testing",), "no_frames", Role.FAILURE,
                       guard=Guard("frames_are_0", _no_frames, "a camera sent no frames"),
                       errors=_entries("camera-no-frames"), sample={"frames": 0}),
        TransitionSpec("muted_by_new_capture", ("granted", "ok"), "preempted", Role.WARNING,
                       doc="iOS Safari: getUserMedia again muted this capture."),
        TransitionSpec("camera_taken_by_new_track", ("granted", "ok"), "preempted", Role.WARNING,
                       guard=Guard("is_camera", _is_camera),
                       doc="Mobile: a second camera track took the frames."),
        TransitionSpec("release", ("unknown", "requesting", "testing", *_HOLDING, "denied",
                                   "not_found", "not_readable", "overconstrained"), "released",
                       Role.ACTION, doc="Done with the device (or giving up on asking for it)."),
    ),
    events={
        "request": DeviceRequest,
        "granted": DeviceGranted,
        "acquire_failed": DeviceAcquireFailed,
        "fall_back_to_default": DeviceFallBackToDefault,
        "test": DeviceTest,
        "level_measured": DeviceLevelMeasured,
        "frames_measured": DeviceFramesMeasured,
        "muted_by_new_capture": DeviceMutedByNewCapture,
        "camera_taken_by_new_track": DeviceCameraTakenByNewTrack,
        "release": DeviceRelease,
    },
)


class DevicePermissionMachine(LifecycleMachine):
    """Permission and capture of one device kind, named by the kind.

    Attributes:
        device_id: the specific device last asked for, or ``None`` for the default.
    """

    __slots__ = ("device_id",)
    spec: ClassVar[MachineSpec] = DEVICE_SPEC

    def __init__(self, kind: DeviceKind) -> None:
        super().__init__(kind)
        self.device_id: str | None = None

    @property
    def device_kind(self) -> DeviceKind:
        """``"microphone"`` or ``"camera"``."""
        return "camera" if self.id == "camera" else "microphone"

    def event_fields(self) -> dict[str, object]:
        return {"device_kind": self.id}
