"""The connections-to-Room mapping, over every combination of its inputs."""

from __future__ import annotations

import itertools
import typing

import pytest

from rtcstate import ConnectOptions, RoomMachine
from rtcstate.adapters.connection import (
    CONNECTED,
    Condition,
    ConnectionMonitor,
    MediaState,
    PeerConnectionState,
    SignalingState,
    combined_media_state,
    next_condition,
)

ROOM = "standup"
SIGNALING: tuple[SignalingState, ...] = typing.get_args(SignalingState)
MEDIA: tuple[MediaState | None, ...] = (*typing.get_args(MediaState), None)
PEER: tuple[PeerConnectionState | None, ...] = (*typing.get_args(PeerConnectionState), None)
CURRENT = (CONNECTED, Condition("reconnecting", 53001), Condition("reconnecting", 53405),
           Condition("disconnected", 53002))
EVERY_COMBINATION = list(itertools.product(CURRENT, SIGNALING, MEDIA, PEER))


def test_every_combination_is_covered() -> None:
    assert len(EVERY_COMBINATION) == 4 * 3 * 8 * 7


@pytest.mark.parametrize(("current", "signaling", "media", "peer"), EVERY_COMBINATION)
def test_the_sdks_rules(current: Condition, signaling: SignalingState, media: MediaState | None,
                        peer: PeerConnectionState | None) -> None:
    after = next_condition(current, signaling, media, peer, ended_with=53205)
    reconnecting = current.state == "reconnecting"
    if current.state == "disconnected":
        assert after == current  # nothing brings a lost room back
    elif signaling == "ended":  # a session timeout while reconnecting: the reconnect's error
        assert after == Condition("disconnected", current.code if reconnecting else 53205)
    elif signaling == "reconnecting":
        assert after == (current if reconnecting else Condition("reconnecting", 53001))
    elif peer == "failed" and media != "failed":  # ICE held, DTLS failed
        assert after == Condition("disconnected", 53407)
    elif media == "failed":  # signaling connected, media failed
        assert after == (current if reconnecting else Condition("reconnecting", 53405))
    elif media in ("connected", "completed", None):  # media back while signaling is connected
        assert after == CONNECTED
    else:  # ICE still deciding: nothing changes
        assert after == current


def _room_in(condition: Condition) -> RoomMachine:
    room = RoomMachine(ConnectOptions(room_name=ROOM, identity="alice"))
    room.state = condition.state
    if condition.state == "reconnecting":
        room.reconnect_cause = condition.code  # type: ignore[assignment]
    return room


@pytest.mark.parametrize(("current", "signaling", "media", "peer"),
                         [c for c in EVERY_COMBINATION if c[0].state != "disconnected"])
def test_every_event_it_emits_is_one_the_room_takes(
        current: Condition, signaling: SignalingState, media: MediaState | None,
        peer: PeerConnectionState | None) -> None:
    monitor = ConnectionMonitor(ROOM)
    monitor.condition = current
    events = monitor.update(signaling, media, peer, ended_with=53002)
    room = _room_in(current)
    for event in events:
        change = room.apply(event)  # raises if the Room cannot take it from where it is
        assert (change.error.code if change.error else None) == monitor.condition.code
    assert room.state == monitor.condition.state
    assert len(events) == (monitor.condition != current)


def test_a_media_failure_then_its_recovery_is_reconnecting_53405_then_reconnected() -> None:
    monitor = ConnectionMonitor(ROOM)
    steps = [monitor.update("connected", "connected", "connected"),
             monitor.update("connected", "disconnected", "disconnected"),  # ICE unsure: wait
             monitor.update("connected", "failed", "failed"),
             monitor.update("reconnecting", "failed", "failed"),  # signaling too: same cause
             monitor.update("connected", "checking", "connecting"),
             monitor.update("connected", "completed", "connected")]
    assert [[(e.type, getattr(e, "error_code", None)) for e in s] for s in steps] == [
        [], [], [("room.reconnecting", 53405)], [], [], [("room.reconnected", None)]]


def test_media_states_combine_worst_first() -> None:
    assert combined_media_state([]) is None
    assert combined_media_state(["connected", "completed"]) == "connected"
    assert combined_media_state(["connected", "checking"]) == "checking"
    assert combined_media_state(["connected", "failed", "checking"]) == "failed"
