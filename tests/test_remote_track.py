"""The RemoteTrackPublication machine: subscription, switch-off, unpublish."""

from __future__ import annotations

import pytest

from rtcstate import InvalidTransition, RemoteTrackPublicationMachine

from .helpers import drive


def bobs_camera() -> RemoteTrackPublicationMachine:
    return RemoteTrackPublicationMachine("MT-bob", "PA-bob", "video")


def test_subscribe_switch_off_on_unsubscribe_resubscribe_unpublish() -> None:
    assert drive(bobs_camera(), "subscribed", "switched_off", "switched_on", "unsubscribed",
                 "subscribed", "unpublished") == [
        ("published", "subscribed", "subscribed", None),
        ("subscribed", "switched_off", "switched_off", None),
        ("switched_off", "switched_on", "subscribed", None),
        ("subscribed", "unsubscribed", "unsubscribed", None),
        ("unsubscribed", "subscribed", "subscribed", None),
        ("subscribed", "unpublished", "unpublished", None),
    ]


def test_subscription_failure_can_be_retried() -> None:
    assert drive(bobs_camera(), ("subscription_failed", {"message": "no codec"}), "subscribed") == [
        ("published", "subscription_failed", "subscription_failed", None),
        ("subscription_failed", "subscribed", "subscribed", None),
    ]


def test_switched_off_track_can_be_unsubscribed() -> None:
    assert drive(bobs_camera(), "subscribed", "switched_off", "unsubscribed")[-1] == (
        "switched_off", "unsubscribed", "unsubscribed", None)


@pytest.mark.parametrize("prefix", [
    (), ("subscribed",), ("subscribed", "switched_off"), ("subscribed", "unsubscribed"),
    ("subscription_failed",)])
def test_unpublished_from_everywhere(prefix: tuple[str, ...]) -> None:
    track = bobs_camera()
    drive(track, *prefix)
    source = track.state
    assert drive(track, "unpublished") == [(source, "unpublished", "unpublished", None)]


def test_cannot_switch_on_what_is_not_switched_off() -> None:
    track = bobs_camera()
    drive(track, "subscribed")
    with pytest.raises(InvalidTransition):
        drive(track, "switched_on")
    assert track.state == "subscribed"
