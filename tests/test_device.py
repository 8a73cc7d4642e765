"""The DevicePermission machine: permission, media errors, fall-back, preflight, preemption."""

from __future__ import annotations

import pytest

from rtcstate import DevicePermissionMachine, GuardRejected, InvalidTransition
from rtcstate.models import DeviceKind

from .helpers import drive


def failed(name: str, message: str | None = None) -> tuple[str, dict[str, object]]:
    return ("acquire_failed", {"error_name": name, "message": message})


@pytest.mark.parametrize(("failure", "dest", "entry"), [
    (failed("NotAllowedError", "Permission denied"), "denied", "not-allowed-denied"),
    (failed("NotAllowedError", "Permission dismissed"), "denied", "not-allowed-dismissed"),
    (failed("NotAllowedError"), "denied", "not-allowed-denied"),
    (failed("NotFoundError", "Permission denied by system"), "not_found",
     "not-found-system-disabled"),
    (failed("NotFoundError", "Requested device not found"), "not_found", "not-found-no-device"),
    (failed("NotReadableError", "Could not start video source"), "not_readable",
     "not-readable-reserved"),
    (failed("OverconstrainedError"), "overconstrained", "overconstrained"),
    (failed("TypeError", "navigator.mediaDevices is undefined"), "insecure_context",
     "type-error-insecure-context"),
])
def test_each_media_error_has_its_state_and_carries_its_cause(
        failure: tuple[str, dict[str, object]], dest: str, entry: str) -> None:
    assert drive(DevicePermissionMachine("camera"), "request", failure) == [
        ("unknown", "request", "requesting", None),
        ("requesting", "acquire_failed", dest, entry),
    ]


def test_an_unlisted_browser_message_falls_back_to_the_errors_name() -> None:
    steps = drive(DevicePermissionMachine("camera"), "request",
                  failed("NotReadableError", "Concurrent mic process limit."))
    assert steps[-1] == ("requesting", "acquire_failed", "not_readable", "not-readable-reserved")


def test_overconstrained_falls_back_to_the_default_device() -> None:
    camera = DevicePermissionMachine("camera")
    steps = drive(camera, ("request", {"device_id": "usb-cam-2"}))
    assert camera.device_id == "usb-cam-2"
    steps += drive(camera, failed("OverconstrainedError"), "fall_back_to_default", "granted")
    assert camera.device_id is None
    assert steps == [
        ("unknown", "request", "requesting", None),
        ("requesting", "acquire_failed", "overconstrained", "overconstrained"),
        ("overconstrained", "fall_back_to_default", "requesting", None),
        ("requesting", "granted", "granted", None),
    ]


def test_insecure_context_is_final() -> None:
    device = DevicePermissionMachine("microphone")
    drive(device, "request", failed("TypeError"))
    assert device.is_terminal
    with pytest.raises(InvalidTransition):
        drive(device, "request")


@pytest.mark.parametrize("failure", [failed("NotAllowedError"), failed("NotFoundError"),
                                     failed("NotReadableError")])
def test_user_can_fix_the_problem_and_ask_again(failure: tuple[str, dict[str, object]]) -> None:
    device = DevicePermissionMachine("microphone")
    drive(device, "request", failure)
    assert drive(device, "request", "granted")[-1] == ("requesting", "granted", "granted", None)


def test_silent_microphone_then_retest_ok() -> None:
    assert drive(DevicePermissionMachine("microphone"), "request", "granted", "test",
                 ("level_measured", {"level": 0}), "test", ("level_measured", {"level": 6}),
                 "release")[2:] == [
        ("granted", "test", "testing", None),
        ("testing", "level_measured", "silent", "microphone-silent"),
        ("silent", "test", "testing", None),
        ("testing", "level_measured", "ok", None),
        ("ok", "release", "released", None),
    ]


def test_camera_without_frames_then_retest_ok() -> None:
    assert drive(DevicePermissionMachine("camera"), "request", "granted", "test",
                 ("frames_measured", {"frames": 0}), "test", ("frames_measured", {"frames": 24}),
                 )[2:] == [
        ("granted", "test", "testing", None),
        ("testing", "frames_measured", "no_frames", "camera-no-frames"),
        ("no_frames", "test", "testing", None),
        ("testing", "frames_measured", "ok", None),
    ]


@pytest.mark.parametrize(("kind", "measure"), [
    ("camera", ("level_measured", {"level": 3})),
    ("microphone", ("frames_measured", {"frames": 3})),
])
def test_a_measure_of_the_wrong_kind_is_rejected(
        kind: DeviceKind, measure: tuple[str, dict[str, object]]) -> None:
    device = DevicePermissionMachine(kind)
    drive(device, "request", "granted", "test")
    with pytest.raises(GuardRejected):
        drive(device, measure)
    assert device.state == "testing"


@pytest.mark.parametrize("kind", ["microphone", "camera"])
def test_ios_new_capture_mutes_an_earlier_one(kind: DeviceKind) -> None:
    device = DevicePermissionMachine(kind)
    steps = drive(device, "request", "granted", "muted_by_new_capture", "request", "granted")
    assert steps[2:] == [
        ("granted", "muted_by_new_capture", "preempted", None),
        ("preempted", "request", "requesting", None),
        ("requesting", "granted", "granted", None),
    ]


def test_mobile_single_camera_rule() -> None:
    camera = DevicePermissionMachine("camera")
    drive(camera, "request", "granted", "test", ("frames_measured", {"frames": 5}))
    assert drive(camera, "camera_taken_by_new_track") == [
        ("ok", "camera_taken_by_new_track", "preempted", None)]
    microphone = DevicePermissionMachine("microphone")
    drive(microphone, "request", "granted")
    with pytest.raises(GuardRejected):
        drive(microphone, "camera_taken_by_new_track")
