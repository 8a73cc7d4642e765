"""The Room machine: joining, retrying, reconnecting, leaving, and the errors each carries."""

from __future__ import annotations

import pytest

from rtcstate import ConnectOptions, GuardRejected, InvalidTransition, RoomMachine
from rtcstate.models import RetryPolicy, RoomConnect, RoomDisconnected

from .helpers import drive, due, step


def room(**options: object) -> RoomMachine:
    return RoomMachine(ConnectOptions.model_validate(
        {"room_name": "my-cool-room", "identity": "alice", **options}))


def test_join_and_leave() -> None:
    assert drive(room(), "connect", "connected", "disconnect") == [
        ("idle", "connect", "connecting", None),
        ("connecting", "connected", "connected", None),
        ("connected", "disconnect", "disconnected", None),
    ]


@pytest.mark.parametrize(("code", "entry"), [
    (53105, "53105-room-max-participants"),
    (53106, "53106-room-not-found"),
    (53405, "53405-media-connection-connect"),
])
def test_non_retryable_connect_errors_end_disconnected(code: int, entry: str) -> None:
    machine = room()
    assert drive(machine, "connect", ("connect_failed", {"error_code": code})) == [
        ("idle", "connect", "connecting", None),
        ("connecting", "connect_failed", "disconnected", entry),
    ]
    assert machine.is_terminal


@pytest.mark.parametrize(("code", "entry"), [
    (53000, "53000-signaling-connection"),
    (53006, "53006-signaling-server-busy"),
])
def test_retryable_connect_errors_back_off_until_attempts_run_out(code: int, entry: str) -> None:
    machine = room(retry={"max_attempts": 3})
    failed = ("connect_failed", {"error_code": code})
    steps = drive(machine, "connect", failed)
    assert machine.attempt == 2
    delay, retry = due(machine)
    assert (delay, retry.type, retry.attempt) == (1.0, "room.retry", 2)
    steps += [drive(machine, ("retry", {"attempt": 2}))[0], drive(machine, failed)[0]]
    assert due(machine)[0] == 2.0
    steps += drive(machine, ("retry", {"attempt": 3}), failed)
    assert steps == [
        ("idle", "connect", "connecting", None),
        ("connecting", "connect_failed", "waiting_to_retry", entry),
        ("waiting_to_retry", "retry", "connecting", None),
        ("connecting", "connect_failed", "waiting_to_retry", entry),
        ("waiting_to_retry", "retry", "connecting", None),
        ("connecting", "connect_failed", "disconnected", entry),
    ]


def test_single_attempt_policy_never_retries() -> None:
    machine = room(retry={"max_attempts": 1})
    assert drive(machine, "connect", ("connect_failed", {"error_code": 53000}))[-1] == (
        "connecting", "connect_failed", "disconnected", "53000-signaling-connection")


def test_retry_policy_backoff_is_capped() -> None:
    policy = RetryPolicy(initial_delay=1, multiplier=3, max_delay=5)
    assert [policy.delay_before(n) for n in (2, 3, 4, 5)] == [1, 3, 5, 5]
    with pytest.raises(ValueError, match="first attempt is 1"):
        policy.delay_before(1)


def test_success_after_retry_resets_the_attempt_count() -> None:
    machine = room()
    drive(machine, "connect", ("connect_failed", {"error_code": 53006}), ("retry", {"attempt": 2}),
          "connected")
    assert machine.attempt == 1


@pytest.mark.parametrize(("code", "entry"), [
    (53001, "53001-signaling-disconnected"),
    (53405, "53405-media-connection-disconnect"),
])
def test_reconnecting_then_reconnected_or_lost(code: int, entry: str) -> None:
    machine = room()
    assert drive(machine, "connect", "connected", ("reconnecting", {"error_code": code}),
                 "reconnected", ("reconnecting", {"error_code": code}),
                 ("disconnected", {"error_code": code}))[2:] == [
        ("connected", "reconnecting", "reconnecting", entry),
        ("reconnecting", "reconnected", "connected", None),
        ("connected", "reconnecting", "reconnecting", entry),
        ("reconnecting", "disconnected", "disconnected", entry),
    ]


def test_reconnect_window_fires_the_interruptions_own_error() -> None:
    machine = room(reconnect={"window": 12})
    drive(machine, "connect", "connected", ("reconnecting", {"error_code": 53405}))
    delay, event = due(machine)
    assert delay == 12
    assert isinstance(event, RoomDisconnected)
    assert event.error_code == 53405
    assert step(machine.apply(event)) == (
        "reconnecting", "disconnected", "disconnected", "53405-media-connection-disconnect")


@pytest.mark.parametrize(("code", "entry"), [
    (53002, "53002-signaling-timeout"),
    (53205, "53205-duplicate-identity"),
])
def test_server_ends_the_session_from_connected(code: int, entry: str) -> None:
    machine = room()
    assert drive(machine, "connect", "connected", ("disconnected", {"error_code": code}))[-1] == (
        "connected", "disconnected", "disconnected", entry)


@pytest.mark.parametrize(("code", "entry"), [
    (53002, "53002-signaling-timeout"),
    (53205, "53205-duplicate-identity"),
])
def test_the_servers_verdict_is_taken_while_reconnecting(code: int, entry: str) -> None:
    # A resuming client hears that its session ended (53002) or was replaced (53205).
    machine = room()
    steps = drive(machine, "connect", "connected", ("reconnecting", {"error_code": 53001}),
                  ("disconnected", {"error_code": code}))
    assert steps[-1] == ("reconnecting", "disconnected", "disconnected", entry)


@pytest.mark.parametrize(("state_events", "code"), [
    (("connect", "connected"), 53001),  # 53001 means reconnecting failed: not from connected
    (("connect", "connected"), 53405),
])
def test_disconnect_errors_are_only_accepted_where_the_guide_puts_them(
        state_events: tuple[object, ...], code: int) -> None:
    machine = room()
    drive(machine, *state_events)  # type: ignore[arg-type]
    before = machine.state
    with pytest.raises(GuardRejected) as info:
        drive(machine, ("disconnected", {"error_code": code}))
    assert machine.state == before
    assert info.value.state == before
    assert "errors" in info.value.guards[0]


@pytest.mark.parametrize("path", [
    ("connect",),
    ("connect", ("connect_failed", {"error_code": 53000})),
    ("connect", "connected"),
    ("connect", "connected", ("reconnecting", {"error_code": 53001})),
])
def test_page_hide_disconnects_from_every_live_state(path: tuple[object, ...]) -> None:
    machine = room()
    drive(machine, *path)  # type: ignore[arg-type]
    source = machine.state
    assert drive(machine, "disconnect") == [(source, "disconnect", "disconnected", None)]


def test_invalid_transition_names_machine_instance_state_and_event() -> None:
    machine = room()
    with pytest.raises(InvalidTransition) as info:
        drive(machine, "reconnected")
    error = info.value
    assert (error.machine, error.instance, error.state, error.event) == (
        "room", "my-cool-room", "idle", "reconnected")
    assert "room 'my-cool-room' in state 'idle' cannot take event 'reconnected'" in str(error)
    assert machine.state == "idle"


def test_nothing_leaves_disconnected() -> None:
    machine = room()
    drive(machine, "connect", "disconnect")
    for trigger in machine.spec.events:
        assert trigger not in machine.allowed_triggers()
    with pytest.raises(InvalidTransition):
        machine.apply(RoomConnect(room_name="my-cool-room", identity="alice"))


def test_an_event_for_another_room_is_refused() -> None:
    machine = room()
    with pytest.raises(InvalidTransition, match="the event is for room 'other'"):
        machine.apply(RoomConnect(room_name="other", identity="alice"))
    assert machine.state == "idle"
