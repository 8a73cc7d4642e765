"""The guide's scenarios, each driven through a dispatcher on a virtual clock."""

from __future__ import annotations

from typing import Any

import pytest

from rtcstate import (
    ConnectOptions,
    DevicePermissionMachine,
    Dispatcher,
    GuardRejected,
    LocalTrackPublicationMachine,
    RemoteTrackPublicationMachine,
    RoomMachine,
    StateChange,
    VirtualClock,
    audio_level,
)
from rtcstate.models import PreAcquiredTrack
from rtcstate.preflight import camera_test_result, microphone_test_result

from .helpers import Step, step

ROOM = "my-cool-room"
MEDIA_LOST = "recording-media-lost"


class Run:
    """A dispatcher on a virtual clock that records every change."""

    def __init__(self, **options: Any) -> None:
        self.options = ConnectOptions.model_validate(
            {"room_name": ROOM, "identity": "alice", **options})
        self.clock = VirtualClock()
        self.dispatcher = Dispatcher(clock=self.clock)
        self.changes: list[StateChange] = []
        self.dispatcher.on_change(self.changes.append)
        self.room = self.dispatcher.add(RoomMachine(self.options))

    def track(self, name: str, kind: Any) -> LocalTrackPublicationMachine:
        return self.dispatcher.add(
            LocalTrackPublicationMachine.for_options(name, kind, self.options))

    def send(self, type_: str, **fields: Any) -> StateChange:
        return self.dispatcher.dispatch({"type": type_, **fields})

    def camera(self, trigger: str, **fields: Any) -> StateChange:
        return self.send(f"local_track.{trigger}", track_name="camera", kind="video", **fields)

    def steps(self, machine: str, id_: str) -> list[Step]:
        return [step(c) for c in self.changes if (c.machine, c.id) == (machine, id_)]

    def joined(self) -> None:
        self.send("room.connect", room_name=ROOM, identity="alice")
        self.send("room.connected", room_name=ROOM, room_sid="RM1")


def test_pre_acquired_tracks_then_connect() -> None:
    run = Run(tracks=[{"name": "microphone", "kind": "audio"}, {"name": "camera", "kind": "video"}])
    for kind in ("microphone", "camera"):
        run.dispatcher.add(DevicePermissionMachine(kind))
        run.send("device.request", device_kind=kind)
        run.send("device.granted", device_kind=kind)
    tracks = [run.track(t.name, t.kind) for t in run.options.tracks]
    run.joined()
    for track in tracks:
        fields = {"track_name": track.id, "kind": track.track_kind}
        run.send("local_track.publish", **fields)
        run.send("local_track.published", track_sid=f"MT-{track.id}", **fields)
    assert [(c.machine, c.id, c.dest) for c in run.changes] == [
        ("device", "microphone", "requesting"), ("device", "microphone", "granted"),
        ("device", "camera", "requesting"), ("device", "camera", "granted"),
        ("room", ROOM, "connecting"), ("room", ROOM, "connected"),
        ("local_track", "microphone", "publishing"), ("local_track", "microphone", "published"),
        ("local_track", "camera", "publishing"), ("local_track", "camera", "published"),
    ]


def test_pre_acquired_tracks_must_not_be_muted() -> None:
    with pytest.raises(ValueError, match="muted or stopped"):
        ConnectOptions(room_name=ROOM, identity="alice",
                       tracks=(PreAcquiredTrack(name="camera", kind="video", muted=True),))


def test_camera_switch_by_restart_never_unpublishes() -> None:
    run = Run()
    run.track("camera", "video")
    run.joined()
    run.camera("publish")
    run.camera("published", track_sid="MT1")
    run.camera("restart", facing_mode="environment")
    run.camera("restart", facing_mode="user")
    assert run.steps("local_track", "camera") == [
        ("created", "publish", "publishing", None),
        ("publishing", "published", "published", None),
        ("published", "restart", "published", None),
        ("published", "restart", "published", None),
    ]
    assert run.changes[-1].cause.facing_mode == "user"  # type: ignore[union-attr]


def test_silent_microphone_is_detected_with_the_guides_advice() -> None:
    run = Run()
    run.dispatcher.add(DevicePermissionMachine("microphone"))
    run.send("device.request", device_kind="microphone")
    run.send("device.granted", device_kind="microphone")
    run.send("device.test", device_kind="microphone")
    silence = [[0] * 512 for _ in range(10)]
    assert audio_level(silence[0]) == 0
    change = run.dispatcher.dispatch(microphone_test_result(silence))
    assert (change.dest, change.error and change.error.id) == ("silent", "microphone-silent")
    assert "close all the other applications" in change.error.solution  # type: ignore[union-attr]


def test_camera_preview_without_frames_is_detected() -> None:
    run = Run()
    run.dispatcher.add(DevicePermissionMachine("camera"))
    for trigger in ("request", "granted", "test"):
        run.send(f"device.{trigger}", device_kind="camera")
    change = run.dispatcher.dispatch(camera_test_result(0))
    assert (change.dest, change.error and change.error.id) == ("no_frames", "camera-no-frames")


def test_backgrounding_and_foregrounding_seen_from_both_sides() -> None:
    run = Run()
    run.track("camera", "video")
    remote = run.dispatcher.add(RemoteTrackPublicationMachine("MT1", "PA-alice", "video"))
    ids = {"track_sid": remote.id, "participant_sid": "PA-alice", "kind": "video"}
    run.joined()
    run.camera("publish")
    run.camera("published", track_sid="MT1")
    run.send("remote_track.subscribed", **ids)
    run.camera("background")  # visibilitychange: hidden -> stop and unpublish
    run.send("remote_track.unsubscribed", **ids)  # the remote side is told
    run.clock.advance(120)
    run.camera("foreground")  # visible again -> create and publish a new track
    run.camera("published", track_sid="MT2")
    run.send("remote_track.subscribed", **ids)
    assert run.steps("local_track", "camera")[2:] == [
        ("published", "background", "backgrounded", None),
        ("backgrounded", "foreground", "publishing", None),
        ("publishing", "published", "published", None),
    ]
    assert [s[2] for s in run.steps("remote_track", "MT1")] == [
        "subscribed", "unsubscribed", "subscribed"]


def test_disconnect_on_page_hide() -> None:
    run = Run()
    run.track("camera", "video")
    run.joined()
    run.camera("publish")
    run.camera("published")
    run.send("room.disconnect", room_name=ROOM)  # pagehide / beforeunload
    run.camera("stop")
    assert [step(c) for c in run.changes[-2:]] == [
        ("connected", "disconnect", "disconnected", None),
        ("published", "stop", "stopped", None),
    ]
    assert run.room.is_terminal


def test_warning_then_cleared_cancels_the_escalation() -> None:
    run = Run(notify_warnings=[MEDIA_LOST])
    run.track("camera", "video")
    run.joined()
    run.camera("publish")
    run.camera("published")
    run.camera("warning", warning=MEDIA_LOST)
    assert run.clock.pending == 1
    run.clock.advance(2)
    run.camera("warnings_cleared")
    run.clock.advance(60)  # the escalation's deadline passes: nothing fires
    assert run.steps("local_track", "camera")[2:] == [
        ("published", "warning", "warning", MEDIA_LOST),
        ("warning", "warnings_cleared", "published", None),
    ]


def test_warning_escalates_after_five_seconds_of_virtual_time() -> None:
    run = Run(notify_warnings=[MEDIA_LOST])
    run.track("camera", "video")
    run.joined()
    run.camera("publish")
    run.camera("published")
    run.clock.advance(10)
    run.camera("warning", warning=MEDIA_LOST)
    run.clock.advance(4.75)
    assert run.changes[-1].dest == "warning"
    run.clock.advance(0.25)
    escalation = run.changes[-1]
    assert step(escalation) == ("warning", "escalate", "warning_escalated", MEDIA_LOST)
    assert escalation.at == 15.0
    assert escalation.role == "escalation"


def test_warnings_are_not_raised_unless_asked_for() -> None:
    run = Run()  # notify_warnings is empty by default
    run.track("camera", "video")
    run.joined()
    run.camera("publish")
    run.camera("published")
    with pytest.raises(GuardRejected, match="warning_requested"):
        run.camera("warning", warning=MEDIA_LOST)
    assert run.dispatcher.stats.rejected_by_reason["guard_rejected"] == 1


def test_retry_back_off_runs_on_the_clock() -> None:
    run = Run(retry={"max_attempts": 3, "initial_delay": 2, "multiplier": 2})
    run.send("room.connect", room_name=ROOM, identity="alice")
    run.send("room.connect_failed", room_name=ROOM, error_code=53006)
    run.clock.advance(1.75)
    assert run.room.state == "waiting_to_retry"
    run.clock.advance(0.25)
    assert (run.room.state, run.changes[-1].at) == ("connecting", 2.0)
    run.send("room.connect_failed", room_name=ROOM, error_code=53006)
    run.clock.advance(4)
    run.send("room.connect_failed", room_name=ROOM, error_code=53006)
    assert [(s[1], s[2]) for s in run.steps("room", ROOM)] == [
        ("connect", "connecting"), ("connect_failed", "waiting_to_retry"),
        ("retry", "connecting"), ("connect_failed", "waiting_to_retry"),
        ("retry", "connecting"), ("connect_failed", "disconnected"),
    ]
    assert run.changes[-1].error.code == 53006  # type: ignore[union-attr]


def test_reconnect_window_expiry_disconnects_with_53001() -> None:
    run = Run(reconnect={"window": 30})
    run.joined()
    run.send("room.reconnecting", room_name=ROOM, error_code=53001)
    run.clock.advance(29.5)
    assert run.room.state == "reconnecting"
    run.clock.advance(0.5)
    assert step(run.changes[-1]) == (
        "reconnecting", "disconnected", "disconnected", "53001-signaling-disconnected")
    assert run.clock.pending == 0


def test_reconnected_in_time_cancels_the_window() -> None:
    run = Run()
    run.joined()
    run.send("room.reconnecting", room_name=ROOM, error_code=53405)
    run.clock.advance(3)
    run.send("room.reconnected", room_name=ROOM)
    run.clock.advance(3600)
    assert run.room.state == "connected"
