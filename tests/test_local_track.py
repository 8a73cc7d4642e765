"""The LocalTrackPublication machine: publishing, restart, warnings, backgrounding."""

from __future__ import annotations

import pytest

from rtcstate import ConnectOptions, GuardRejected, InvalidTransition, LocalTrackPublicationMachine
from rtcstate.models import LocalTrackEscalate

from .helpers import drive, due, step

WARNING = ("warning", {"warning": "recording-media-lost"})
ESCALATE = ("escalate", {"warning": "recording-media-lost"})


def camera(**kwargs: object) -> LocalTrackPublicationMachine:
    return LocalTrackPublicationMachine("camera", "video", **kwargs)  # type: ignore[arg-type]


def watched_camera() -> LocalTrackPublicationMachine:
    return camera(notify_warnings=["recording-media-lost"])


def test_publish_disable_enable_unpublish_republish_stop() -> None:
    assert drive(camera(), "publish", "published", "disable", "enable", "unpublish", "publish",
                 "published", "stop") == [
        ("created", "publish", "publishing", None),
        ("publishing", "published", "published", None),
        ("published", "disable", "disabled", None),
        ("disabled", "enable", "published", None),
        ("published", "unpublish", "unpublished", None),
        ("unpublished", "publish", "publishing", None),
        ("publishing", "published", "published", None),
        ("published", "stop", "stopped", None),
    ]


@pytest.mark.parametrize("prefix", [(), ("disable",), (WARNING,), (WARNING, ESCALATE)])
def test_restart_keeps_the_publication_and_its_state(prefix: tuple[object, ...]) -> None:
    track = watched_camera()
    drive(track, "publish", "published", *prefix)  # type: ignore[arg-type]
    before = track.state
    assert drive(track, ("restart", {"facing_mode": "environment"})) == [
        (before, "restart", before, None)]


def test_restart_does_not_reset_the_escalation_timer() -> None:
    track = watched_camera()
    drive(track, "publish", "published", WARNING)
    timeout_before = due(track)
    drive(track, ("restart", {"facing_mode": "user"}))
    assert due(track) == timeout_before


def test_a_data_track_cannot_be_restarted() -> None:
    track = LocalTrackPublicationMachine("chat", "data")
    drive(track, "publish", "published")
    with pytest.raises(GuardRejected) as info:
        drive(track, "restart")
    assert info.value.guards == ("has_source",)


def test_warning_requires_notify_warnings() -> None:
    track = camera()
    drive(track, "publish", "published")
    with pytest.raises(GuardRejected) as info:
        drive(track, WARNING)
    assert info.value.guards == ("warning_requested",)
    assert track.state == "published"


def test_warning_then_cleared() -> None:
    assert drive(watched_camera(), "publish", "published", WARNING, "warnings_cleared")[2:] == [
        ("published", "warning", "warning", "recording-media-lost"),
        ("warning", "warnings_cleared", "published", None),
    ]


def test_escalation_is_an_explicit_timed_transition() -> None:
    track = LocalTrackPublicationMachine.for_options("camera", "video", ConnectOptions(
        room_name="r", identity="i", notify_warnings=frozenset({"recording-media-lost"}),
        warning_escalation_timeout=7.5))
    drive(track, "publish", "published", WARNING)
    delay, event = due(track)
    assert delay == 7.5
    assert isinstance(event, LocalTrackEscalate)
    assert step(track.apply(event)) == (
        "warning", "escalate", "warning_escalated", "recording-media-lost")
    assert track.pending_timeout() is None
    assert drive(track, "warnings_cleared") == [
        ("warning_escalated", "warnings_cleared", "published", None)]


def test_default_escalation_timeout_is_five_seconds() -> None:
    assert ConnectOptions(room_name="r", identity="i").warning_escalation_timeout == 5.0
    track = watched_camera()
    drive(track, "publish", "published", WARNING)
    assert due(track)[0] == 5.0


def test_background_stops_and_unpublishes_then_foreground_publishes_a_new_track() -> None:
    assert drive(camera(), "publish", ("published", {"track_sid": "MT1"}), "background",
                 "foreground", ("published", {"track_sid": "MT2"}))[2:] == [
        ("published", "background", "backgrounded", None),
        ("backgrounded", "foreground", "publishing", None),
        ("publishing", "published", "published", None),
    ]


def test_only_the_camera_is_backgrounded() -> None:
    microphone = LocalTrackPublicationMachine("microphone", "audio")
    drive(microphone, "publish", "published")
    with pytest.raises(GuardRejected) as info:
        drive(microphone, "background")
    assert info.value.guards == ("is_camera",)


def test_escalate_without_a_warning_is_invalid() -> None:
    track = watched_camera()
    drive(track, "publish", "published")
    with pytest.raises(InvalidTransition):
        drive(track, ESCALATE)


@pytest.mark.parametrize("prefix", [
    (), ("publish",), ("publish", "published"), ("publish", "published", "disable"),
    ("publish", "published", WARNING), ("publish", "published", WARNING, ESCALATE),
    ("publish", "published", "background"), ("publish", "published", "unpublish"),
])
def test_stop_from_every_live_state(prefix: tuple[object, ...]) -> None:
    track = watched_camera()
    drive(track, *prefix)  # type: ignore[arg-type]
    source = track.state
    assert drive(track, "stop") == [(source, "stop", "stopped", None)]
    assert track.is_terminal
