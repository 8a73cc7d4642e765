"""The in-memory room service: the guide's server-side rules and every fault it can inject."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from rtcstate import (
    ConnectError,
    ConnectOptions,
    MediaInsecureContextError,
    MediaNotAllowedError,
    MediaNotFoundError,
    MediaNotReadableError,
    ParticipantDuplicateIdentityError,
    RoomMaxParticipantsExceededError,
    RoomNotFoundError,
    SignalingServerBusyError,
    StateChange,
    catalog,
    error_for,
)
from rtcstate.adapters.base import MediaConstraints, MediaDevices, SupportsVirtualTime, Transport
from rtcstate.adapters.memory import (
    DeviceBehaviour,
    MemoryMediaDevices,
    MemoryRoomService,
    MessageFaults,
)
from rtcstate.devices import LocalDevices
from rtcstate.dispatcher import Dispatcher
from rtcstate.limits import MAX_NAME_LENGTH
from rtcstate.room import Room, connect

from .helpers import BAD_NAMES, step

pytestmark = pytest.mark.anyio
ROOM = "r"


def options(identity: str, **extra: Any) -> ConnectOptions:
    return ConnectOptions.model_validate({"room_name": ROOM, "identity": identity, **extra})


@asynccontextmanager
async def joined(service: MemoryRoomService, *identities: str,
                 **extra: Any) -> AsyncIterator[list[Room]]:
    async with AsyncExitStack() as stack:
        rooms = [await stack.enter_async_context(connect(service.transport(),
                                                         options(who, **extra)))
                 for who in identities]
        yield rooms


def room_steps(changes: list[StateChange]) -> list[Any]:
    return [step(c) for c in changes if c.machine == "room"]


def record(room: Room) -> list[StateChange]:
    """Every change of ``room`` from now on, in a list that fills as they happen."""
    changes: list[StateChange] = []
    room.dispatcher.on_change(changes.append)
    return changes


async def test_the_memory_transport_fits_the_protocols() -> None:
    async with MemoryRoomService().transport() as transport:
        assert isinstance(transport, Transport)
        assert isinstance(transport, SupportsVirtualTime)
    assert transport.closed
    assert isinstance(MemoryMediaDevices(), MediaDevices)


async def test_participants_see_each_other_and_each_others_tracks() -> None:
    service = MemoryRoomService()
    async with joined(service, "alice", "bob",
                      tracks=[{"name": "camera", "kind": "video"}]) as (alice, bob):
        await service.virtual_time.advance(1)
        assert service.identities(ROOM) == ["alice", "bob"]
        assert [p.identity for p in alice.participants.values()] == ["bob"]
        assert [p.identity for p in bob.participants.values()] == ["alice"]
        assert {t.state for t in alice.remote_tracks.values()} == {"subscribed"}
        assert alice.local_tracks["camera"].state == "published"
        sid = next(iter(bob.remote_tracks))
        service.switch_off("bob", sid)
        await service.virtual_time.advance(1)
        assert bob.remote_tracks[sid].state == "switched_off"
        service.switch_off("bob", sid, on=True)
        await service.virtual_time.advance(1)
        assert bob.remote_tracks[sid].state == "subscribed"


async def test_room_full_is_53105() -> None:
    service = MemoryRoomService(max_participants=1)
    async with joined(service, "alice"):
        with pytest.raises(RoomMaxParticipantsExceededError) as info:
            async with connect(service.transport(), options("bob")):
                pass  # pragma: no cover - never joins
    assert info.value.code == 53105


@pytest.mark.parametrize(("room", "identity", "code"), BAD_NAMES)
async def test_a_bad_room_name_or_identity_is_refused_with_its_code(room: str, identity: str,
                                                                     code: int) -> None:
    service = MemoryRoomService()
    with pytest.raises(ConnectError) as info:
        async with connect(service.transport(), ConnectOptions(room_name=room,
                                                               identity=identity)):
            pass  # pragma: no cover - never joins
    assert type(info.value) is type(error_for(catalog.by_code(code)[0]))
    assert info.value.code == code
    assert service.rooms == []


async def test_publications_past_the_limit_or_under_a_taken_name_are_refused() -> None:
    service = MemoryRoomService(max_publications=1)
    async with joined(service, "alice") as (alice,):
        changes = record(alice)
        await alice.publish("camera", "video")
        await alice.publish("microphone", "audio")
        await service.virtual_time.advance(1)
        assert alice.local_tracks["camera"].state == "published"
        assert alice.local_tracks["microphone"].state == "unpublished"
        await alice.transport.publish("camera", "video")  # past the machine: the service says no
        await alice.transport.publish("x" * (MAX_NAME_LENGTH + 1), "video")
        await service.virtual_time.advance(1)
        assert alice.local_tracks["camera"].state == "published"
    refused = [(c.id, c.source, c.dest, c.error.code) for c in changes
               if c.event == "publish_failed" and c.error]
    assert refused == [("microphone", "publishing", "unpublished", 53203)]
    stats = alice.dispatcher.stats.rejected_by_reason
    assert stats.get("invalid_transition") == 1  # the duplicate's 53304: camera is published
    assert stats.get("unknown_machine") == 1  # the long name has no machine here


async def test_unknown_room_is_53106_without_ad_hoc_rooms() -> None:
    service = MemoryRoomService(ad_hoc_rooms=False)
    with pytest.raises(RoomNotFoundError, match="53106"):
        async with connect(service.transport(), options("alice")):
            pass  # pragma: no cover
    service.create_room(ROOM)
    async with joined(service, "alice") as (alice,):
        assert alice.state == "connected"


async def test_busy_server_is_retried_then_53006() -> None:
    service = MemoryRoomService()
    service.busy = True
    transport = service.transport()
    with pytest.raises(SignalingServerBusyError):
        async with connect(transport, options("alice", retry={"max_attempts": 3})):
            pass  # pragma: no cover
    assert service.clock.now() == pytest.approx(3 * service.latency + 1 + 2)  # two back-offs


async def test_a_second_join_with_the_same_identity_disconnects_the_first() -> None:
    service = MemoryRoomService()
    async with joined(service, "alice", "bob") as (alice, bob):
        bob_changes = record(bob)
        async with connect(service.transport(), options("bob")) as second_bob:
            await service.virtual_time.advance(1)
            assert bob.state == "disconnected"
            assert room_steps(bob_changes)[-1] == (
                "connected", "disconnected", "disconnected", "53205-duplicate-identity")
            assert second_bob.state == "connected"
            assert [p.state for p in alice.participants.values()] == [
                "disconnected", "connected"]
        error = bob_changes[-1].error
        assert error is not None
        assert isinstance(error_for(error), ParticipantDuplicateIdentityError)


async def test_short_signaling_drop_reconnects() -> None:
    service = MemoryRoomService()
    async with joined(service, "alice", "bob") as (alice, bob):
        alice_changes = record(alice)
        service.drop_signaling("alice", duration=3)
        await service.virtual_time.advance(1)
        assert alice.state == "reconnecting"
        assert [p.state for p in bob.participants.values()] == ["reconnecting"]
        await service.virtual_time.advance(3)
        assert room_steps(alice_changes) == [
            ("connected", "reconnecting", "reconnecting", "53001-signaling-disconnected"),
            ("reconnecting", "reconnected", "connected", None)]
        assert [p.state for p in bob.participants.values()] == ["connected"]


@pytest.mark.parametrize(("fault", "entry"), [
    (lambda s: s.drop_signaling("alice", duration=120), "53001-signaling-disconnected"),
    (lambda s: s.fail_media_connection("alice"), "53405-media-connection-disconnect"),
])
async def test_reconnect_window_expiry_disconnects_and_the_others_see_it_go(
        fault: Callable[[MemoryRoomService], None], entry: str) -> None:
    service = MemoryRoomService()
    async with joined(service, "alice", "bob", reconnect={"window": 10}) as (alice, bob):
        alice_changes = record(alice)
        fault(service)
        await service.virtual_time.advance(9.5)
        assert alice.state == "reconnecting"
        await service.virtual_time.advance(1)
        assert room_steps(alice_changes)[-1] == (
            "reconnecting", "disconnected", "disconnected", entry)
        assert service.identities(ROOM) == ["bob"]
        assert [p.state for p in bob.participants.values()] == ["disconnected"]


async def test_media_connection_recovers_within_the_window() -> None:
    service = MemoryRoomService()
    async with joined(service, "alice") as (alice,):
        alice_changes = record(alice)
        service.fail_media_connection("alice", duration=2)
        await service.virtual_time.advance(5)
        assert [s[2] for s in room_steps(alice_changes)] == ["reconnecting", "connected"]


async def test_session_expiry_is_53002() -> None:
    service = MemoryRoomService()
    async with joined(service, "alice") as (alice,):
        alice_changes = record(alice)
        service.expire_session("alice")
        await service.virtual_time.advance(1)
        assert room_steps(alice_changes) == [
            ("connected", "disconnected", "disconnected", "53002-signaling-timeout")]


@pytest.mark.parametrize(("asked", "duration", "expected"), [
    (True, 33, ["warning", "published"]),  # warned at 30 s, cleared at 33 s
    (True, 50, ["warning", "warning_escalated", "published"]),  # not cleared within 5 s
    (True, 20, []),  # media came back before the 30 s window
    (False, 50, []),  # not asked for: never raised (notify_warnings is empty by default)
])
async def test_media_loss_warnings(asked: bool, duration: float, expected: list[str]) -> None:
    service = MemoryRoomService()
    extra: dict[str, Any] = {"tracks": [{"name": "camera", "kind": "video"}]}
    if asked:
        extra["notify_warnings"] = ["recording-media-lost"]
    async with joined(service, "alice", **extra) as (alice,):
        alice_changes = record(alice)
        await service.virtual_time.advance(1)  # the pre-acquired camera is published
        service.lose_media("alice", "camera", duration=duration)
        await service.virtual_time.advance(60)
        camera = [c.dest for c in alice_changes if c.machine == "local_track"]
        assert camera == ["published", *expected]


async def test_message_faults_are_counted_and_every_emitted_event_accounted_for() -> None:
    service = MemoryRoomService(seed=11, message_faults=MessageFaults(
        drop=0.1, duplicate=0.2, reorder=0.1, delay=0.1, max_delay=0.5))
    async with joined(service, "alice", "bob", "carol") as rooms:
        for room in rooms:
            await room.publish("camera", "video")
        await service.virtual_time.advance(5)
    delivery = service.delivery
    assert delivery.duplicated > 0
    assert delivery.reordered > 0
    assert delivery.delayed > 0
    for room in rooms:
        counts = room.dispatcher.stats.by_source["transport"]
        assert isinstance(room.transport, SupportsVirtualTime)
        assert counts.received == room.transport.emitted
        assert counts.applied + counts.rejected == counts.received
    assert sum(r.dispatcher.stats.by_source["transport"].rejected for r in rooms) > 0


def test_message_fault_probabilities_are_checked() -> None:
    with pytest.raises(ValueError, match="add up to <= 1"):
        MessageFaults(drop=0.6, duplicate=0.6)


@pytest.mark.parametrize(("behaviour", "error", "state", "entry"), [
    ("denied", MediaNotAllowedError, "denied", "not-allowed-denied"),
    ("dismissed", MediaNotAllowedError, "denied", "not-allowed-dismissed"),
    ("disabled_in_system", MediaNotFoundError, "not_found", "not-found-system-disabled"),
    ("not_found", MediaNotFoundError, "not_found", "not-found-no-device"),
    ("in_use", MediaNotReadableError, "not_readable", "not-readable-reserved"),
    ("insecure_context", MediaInsecureContextError, "insecure_context",
     "type-error-insecure-context"),
])
async def test_simulated_device_failures(behaviour: DeviceBehaviour, error: type[Exception],
                                         state: str, entry: str) -> None:
    dispatcher = Dispatcher()
    devices = LocalDevices(MemoryMediaDevices(camera=behaviour), dispatcher)
    with pytest.raises(error) as info:
        await devices.acquire("camera")
    camera = devices.machine("camera")
    assert camera.state == state
    assert info.value.entry.id == entry  # type: ignore[attr-defined]


async def test_overconstrained_falls_back_to_the_default_device() -> None:
    dispatcher = Dispatcher()
    changes: list[StateChange] = []
    dispatcher.on_change(changes.append)
    devices = LocalDevices(MemoryMediaDevices(camera="overconstrained"), dispatcher)
    media = await devices.acquire("camera", MediaConstraints(device_id="usb-2"))
    assert media.device_id is None
    assert [c.dest for c in changes] == ["requesting", "overconstrained", "requesting", "granted"]


@pytest.mark.parametrize(("kind", "behaviour", "dest", "entry"), [
    ("microphone", "ok", "ok", None),
    ("microphone", "silent", "silent", "microphone-silent"),
    ("camera", "ok", "ok", None),
    ("camera", "no_frames", "no_frames", "camera-no-frames"),
])
async def test_preflight(kind: Any, behaviour: DeviceBehaviour, dest: str,
                         entry: str | None) -> None:
    dispatcher = Dispatcher()
    devices = LocalDevices(MemoryMediaDevices(**{kind: behaviour}), dispatcher)
    await devices.acquire(kind)
    change = await devices.test(kind)
    assert (change.dest, change.error and change.error.id) == (dest, entry)
    await devices.release_all()
    assert devices.machine(kind).state == "released"
