"""The lost-room rule on the memory service: when the Room ends, every machine ends with it.

(The same rule over real WebRTC is in ``test_aiortc.py``.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from rtcstate import ConnectOptions, InvalidTransition, RoomEnded, RoomNotFoundError, StateChange
from rtcstate.adapters.memory import MemoryRoomService
from rtcstate.dispatcher import Dispatcher
from rtcstate.models import ParticipantConnected
from rtcstate.room import connect

from .helpers import Step, step

pytestmark = pytest.mark.anyio
ROOM = "r"

Fault = Callable[[MemoryRoomService], Awaitable[None]]


def options(identity: str, **extra: Any) -> ConnectOptions:
    return ConnectOptions.model_validate({"room_name": ROOM, "identity": identity, **extra})


async def kicked_by_a_second_join(service: MemoryRoomService) -> None:
    async with service.transport() as newcomer:  # a bare transport: the join is all it does
        await newcomer.connect(options("alice"))
        await service.virtual_time.advance(0.1)


async def session_expired(service: MemoryRoomService) -> None:
    service.expire_session("alice")


async def window_expired(service: MemoryRoomService) -> None:
    service.drop_signaling("alice")  # never restored: the 10 s window runs out


LOSSES = [
    pytest.param(kicked_by_a_second_join, "53205-duplicate-identity", id="53205"),
    pytest.param(session_expired, "53002-signaling-timeout", id="53002"),
    pytest.param(window_expired, "53001-signaling-disconnected", id="window-53001"),
]


def after_the_room(changes: list[StateChange]) -> list[tuple[str, str, Step]]:
    """Every change from the Room's ``disconnected`` on, as (machine, id, step)."""
    start = next(i for i, c in enumerate(changes)
                 if c.machine == "room" and c.dest == "disconnected")
    return [(c.machine, c.id, step(c)) for c in changes[start:]]


@pytest.mark.parametrize(("lose", "entry"), LOSSES)
async def test_a_lost_room_ends_every_machine_at_once_carrying_its_error(
        lose: Fault, entry: str) -> None:
    service = MemoryRoomService()
    alice_options = options("alice", tracks=[{"name": "camera", "kind": "video"},
                                             {"name": "mic", "kind": "audio"}],
                            reconnect={"window": 10})
    async with connect(service.transport(), options("bob", tracks=[
            {"name": "mic", "kind": "audio"}])) as bob, \
            connect(service.transport(), alice_options) as alice:
        await service.virtual_time.advance(1)
        await alice.disable("mic")
        changes: list[StateChange] = []
        alice.dispatcher.on_change(changes.append)
        (bob_mic,) = alice.remote_tracks
        (bob_sid,) = alice.participants
        await lose(service)
        await service.virtual_time.advance(11)
        room_source = "reconnecting" if entry.startswith("53001") else "connected"
        # One step: the room, then its local tracks, remote tracks and participants.
        assert after_the_room(changes) == [
            ("room", ROOM, (room_source, "disconnected", "disconnected", entry)),
            ("local_track", "camera", ("published", "room_lost", "stopped", entry)),
            ("local_track", "mic", ("disabled", "room_lost", "stopped", entry)),
            ("remote_track", bob_mic, ("subscribed", "room_lost", "unpublished", entry)),
            ("participant", bob_sid, ("connected", "room_lost", "disconnected", entry)),
        ]
        assert all(m.is_terminal for m in alice.dispatcher.machines.values())
        assert bob.state == "connected"


@pytest.mark.parametrize(("lose", "entry"), LOSSES)
async def test_local_actions_on_a_lost_room_raise_and_change_nothing(
        lose: Fault, entry: str) -> None:
    service = MemoryRoomService()
    async with connect(service.transport(), options(
            "alice", tracks=[{"name": "camera", "kind": "video"}],
            reconnect={"window": 10})) as alice:
        await service.virtual_time.advance(1)
        await lose(service)
        await service.virtual_time.advance(11)
        before = {key: m.state for key, m in alice.dispatcher.machines.items()}
        received = alice.dispatcher.stats.received
        actions: list[Callable[[], Awaitable[object]]] = [
            lambda: alice.publish("screen", "video"), lambda: alice.publish("camera"),
            lambda: alice.unpublish("camera"), lambda: alice.restart("camera"),
            lambda: alice.disable("camera"), lambda: alice.enable("camera"),
            lambda: alice.background("camera"), lambda: alice.foreground("camera"),
            lambda: alice.stop("camera")]
        for action in actions:
            with pytest.raises(RoomEnded) as info:
                await action()
            assert isinstance(info.value, InvalidTransition)
            assert info.value.state == "disconnected"
            assert info.value.error is not None
            assert info.value.error.id == entry
            assert entry.split("-")[0] in str(info.value)
        assert {key: m.state for key, m in alice.dispatcher.machines.items()} == before
        assert alice.dispatcher.stats.received == received  # nothing was even queued
        assert await alice.disconnect() is None


async def test_leaving_ends_every_machine_in_one_step_without_an_error() -> None:
    service = MemoryRoomService()
    async with connect(service.transport(), options("bob", tracks=[
            {"name": "mic", "kind": "audio"}])) as bob:
        async with connect(service.transport(), options("alice", tracks=[
                {"name": "camera", "kind": "video"}])) as alice:
            await service.virtual_time.advance(1)
            changes: list[StateChange] = []
            alice.dispatcher.on_change(changes.append)
            (bob_mic,) = alice.remote_tracks
            (bob_sid,) = alice.participants
            await alice.disconnect()
            assert after_the_room(changes) == [
                ("room", ROOM, ("connected", "disconnect", "disconnected", None)),
                ("local_track", "camera", ("published", "stop", "stopped", None)),
                ("remote_track", bob_mic, ("subscribed", "unpublished", "unpublished", None)),
                ("participant", bob_sid, ("connected", "disconnected", "disconnected", None)),
            ]
            with pytest.raises(RoomEnded, match="the application left it"):
                await alice.publish("camera")
        await service.virtual_time.advance(1)
        assert [p.state for p in bob.participants.values()] == ["disconnected"]


async def test_what_the_transport_emits_after_the_room_is_lost_is_rejected_and_counted() -> None:
    service = MemoryRoomService()
    transport = service.transport()
    async with connect(transport, options("alice")) as alice:
        await service.virtual_time.advance(1)
        service.expire_session("alice")
        await service.virtual_time.advance(1)
        assert alice.state == "disconnected"
        # A late event on its way when the room was lost: it creates no machine.
        transport.emit(ParticipantConnected(participant_sid="PA9", identity="late"))
        await service.virtual_time.advance(1)
        assert alice.participants == {}
        stats = alice.dispatcher.stats
        assert stats.rejected_by_reason["source_closed"] == 1
        counts = stats.by_source["transport"]
        assert counts.received == counts.applied + counts.rejected == transport.emitted


async def test_a_failed_join_stops_the_pre_acquired_tracks() -> None:
    service = MemoryRoomService(ad_hoc_rooms=False)
    dispatcher = Dispatcher(clock=service.clock)
    changes: list[StateChange] = []
    dispatcher.on_change(changes.append)
    with pytest.raises(RoomNotFoundError):
        async with connect(service.transport(), options(
                "alice", tracks=[{"name": "camera", "kind": "video"}]), dispatcher=dispatcher):
            pass  # pragma: no cover
    assert [(c.machine, c.event, c.dest) for c in changes[-2:]] == [
        ("room", "connect_failed", "disconnected"), ("local_track", "stop", "stopped")]


@pytest.mark.parametrize(("verdict", "code", "entry"), [
    ("duplicate", 53205, "53205-duplicate-identity"),
    ("expiry", 53002, "53002-signaling-timeout"),
])
async def test_a_verdict_given_while_reconnecting_is_heard_on_resuming(
        verdict: str, code: int, entry: str) -> None:
    service = MemoryRoomService()
    async with connect(service.transport(), options("alice", reconnect={"window": 10})) as alice:
        changes: list[StateChange] = []
        alice.dispatcher.on_change(changes.append)
        await service.virtual_time.advance(1)
        service.drop_signaling("alice", duration=4)
        await service.virtual_time.advance(1)
        assert alice.state == "reconnecting"
        if verdict == "duplicate":
            await kicked_by_a_second_join(service)
        else:
            service.expire_session("alice")
        await service.virtual_time.advance(2)
        assert alice.state == "reconnecting"  # its signaling is down: it cannot hear yet
        await service.virtual_time.advance(2)
        assert [step(c) for c in changes if c.machine == "room"] == [
            ("connected", "reconnecting", "reconnecting", "53001-signaling-disconnected"),
            ("reconnecting", "disconnected", "disconnected", entry)]
        assert alice.machine.reconnect_cause == 53001
        assert code == int(entry.split("-")[0])



# -- memory stays flat: departed machines are forgotten, empty rooms deleted -------------------

async def test_departed_participants_and_their_tracks_are_forgotten_after_the_retention() -> None:
    service = MemoryRoomService()
    async with connect(service.transport(), options("alice", departed_retention=60)) as alice:
        for visitor in range(3):
            async with connect(service.transport(), options(
                    f"v{visitor}", tracks=[{"name": "mic", "kind": "audio"}])):
                await service.virtual_time.advance(1)
            await service.virtual_time.advance(1)
        assert len(alice.participants) == 3  # they left, and are kept a while
        assert all(p.state == "disconnected" for p in alice.participants.values())
        assert [t.state for t in alice.remote_tracks.values()] == ["unpublished"] * 3
        await service.virtual_time.advance(60)
        assert alice.participants == {}
        assert alice.remote_tracks == {}
        assert len(alice.dispatcher.machines) == 1  # the room itself
        assert set(alice._latest) == {("room", ROOM)}  # wait_for's record forgets them too
        assert service.rooms == [ROOM]
    assert service.rooms == []  # the last one out: the ad-hoc room is gone


async def test_without_a_retention_departed_machines_stay() -> None:
    service = MemoryRoomService(rooms=["kept"])
    kept = ConnectOptions(room_name="kept", identity="alice", departed_retention=None)
    async with connect(service.transport(), kept) as alice:
        async with connect(service.transport(), ConnectOptions(room_name="kept", identity="bob")):
            await service.virtual_time.advance(1)
        await service.virtual_time.advance(3600)
        assert [p.state for p in alice.participants.values()] == ["disconnected"]
    assert service.rooms == ["kept"]  # created by the application: it stays
