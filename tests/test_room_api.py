"""The Room API: local actions, changes, errors, cleanup, and a misbehaving third-party adapter."""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any, Self

import anyio
import pytest

from rtcstate import (
    ConnectOptions,
    GuardRejected,
    InvalidTransition,
    RoomNotFoundError,
    StateChange,
)
from rtcstate.adapters.base import Transport
from rtcstate.adapters.memory import MemoryRoomService
from rtcstate.models import Event
from rtcstate.room import connect

from .helpers import captured_logs, task_count

pytestmark = pytest.mark.anyio
ROOM = "r"


def options(**extra: Any) -> ConnectOptions:
    return ConnectOptions.model_validate({"room_name": ROOM, "identity": "alice", **extra})


async def test_local_actions() -> None:
    service = MemoryRoomService()
    async with connect(service.transport(), options(
            tracks=[{"name": "camera", "kind": "video"}])) as room:
        await service.virtual_time.advance(1)
        camera = room.local_tracks["camera"]
        assert camera.state == "published"
        assert (await room.restart("camera", facing_mode="environment")).dest == "published"
        assert (await room.disable("camera")).dest == "disabled"
        assert (await room.enable("camera")).dest == "published"
        assert (await room.unpublish("camera")).dest == "unpublished"
        assert (await room.publish("camera")).dest == "publishing"
        await room.publish("screen", "video")
        await service.virtual_time.advance(1)
        assert {n: t.state for n, t in room.local_tracks.items()} == {
            "camera": "published", "screen": "published"}
        assert (await room.stop("screen")).dest == "stopped"
        assert service.identities(ROOM) == ["alice"]


async def test_local_action_errors_leave_state_unchanged() -> None:
    service = MemoryRoomService()
    async with connect(service.transport(), options(
            tracks=[{"name": "mic", "kind": "audio"}])) as room:
        await service.virtual_time.advance(1)
        with pytest.raises(GuardRejected, match="is_camera"):
            await room.background("mic")  # only the camera is backgrounded
        with pytest.raises(InvalidTransition):
            await room.enable("mic")  # not disabled
        with pytest.raises(ValueError, match="no local track 'camera'"):
            await room.background("camera")
        with pytest.raises(ValueError, match="give its kind"):
            await room.publish("screen")
        assert room.local_tracks["mic"].state == "published"


async def test_changes_stream_and_disconnect() -> None:
    service = MemoryRoomService()
    async with connect(service.transport(), options()) as room:
        stream = room.changes()
        await room.disconnect()
        assert await room.disconnect() is None  # already disconnected: nothing to do
    seen = [change.dest async for change in stream]  # ends, and closes itself, with the block
    assert seen == ["disconnected"]
    assert room.state == "disconnected"


async def test_connect_errors_are_raised_plainly_and_cleaned_up(anyio_backend: str) -> None:
    before = task_count(anyio_backend)
    service = MemoryRoomService(ad_hoc_rooms=False)
    transport = service.transport()
    with pytest.raises(RoomNotFoundError) as info:
        async with connect(transport, options()):
            pass  # pragma: no cover
    assert info.value.entry.code == 53106
    assert transport.closed
    assert task_count(anyio_backend) == before


async def test_an_error_in_the_block_is_raised_as_it_is() -> None:
    service = MemoryRoomService()
    with pytest.raises(KeyError, match="oops"):
        async with connect(service.transport(), options()) as room:
            raise KeyError("oops")
    assert room.state == "disconnected"


async def test_leaving_ends_every_machine_and_every_task(anyio_backend: str) -> None:
    before = task_count(anyio_backend)
    service = MemoryRoomService()
    async with connect(service.transport(), options(
            tracks=[{"name": "camera", "kind": "video"}])) as alice:
        async with connect(service.transport(), options(identity="bob")) as bob:
            await service.virtual_time.advance(1)
            assert task_count(anyio_backend) > before
            assert alice.participants
            assert bob.remote_tracks
        await service.virtual_time.advance(1)
    assert task_count(anyio_backend) == before
    for room in (alice, bob):
        assert all(m.is_terminal for m in room.dispatcher.machines.values())
        assert not room.dispatcher.running


class ScriptedTransport:
    """A minimal third-party adapter: answers connect with a fixed script of raw events."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self._send, self._receive = anyio.create_memory_object_stream[Any](math.inf)
        self.emitted = 0
        self.calls: list[str] = []

    def events(self) -> Any:
        return self._receive

    async def connect(self, options: ConnectOptions) -> None:
        self.calls.append("connect")
        for raw in self.script:
            self.emitted += 1
            await self._send.send(raw)

    async def publish(self, track_name: str, kind: Any) -> None:
        self.calls.append(f"publish {track_name}")

    async def unpublish(self, track_name: str) -> None:
        self.calls.append(f"unpublish {track_name}")

    async def disconnect(self) -> None:
        self.calls.append("disconnect")

    async def aclose(self) -> None:
        self._send.close()
        self._receive.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


async def test_a_misbehaving_adapter_is_logged_counted_and_survived() -> None:
    transport = ScriptedTransport([
        {"type": "room.connected", "room_name": ROOM, "room_sid": "RM1"},
        {"type": "room.connected", "room_name": ROOM},  # duplicate: not allowed in connected
        {"type": "room.teleported", "room_name": ROOM},  # no such event
        {"type": "room.reconnecting", "room_name": ROOM, "error_code": 53205},  # wrong code
        {"type": "remote_track.subscribed", "track_sid": "MT9", "participant_sid": "PA9",
         "kind": "video"},  # a track never published
        Event.model_construct(type="room.reconnected"),  # not even a real event model
        {"type": "participant.connected", "participant_sid": "PA2", "identity": "bob"},
    ])
    assert isinstance(transport, Transport)
    changes: list[StateChange] = []
    with captured_logs() as logs:
        async with connect(transport, options()) as room:
            room.dispatcher.on_change(changes.append)
            with anyio.fail_after(5):
                await room.wait_until(lambda: bool(room.participants), within=5)
            stats = room.dispatcher.stats.by_source["transport"]
            assert (stats.received, stats.applied, stats.rejected) == (7, 2, 5)
            assert stats.received == transport.emitted
    rejections = [entry for entry in logs if entry["event"] == "event_rejected"]
    assert {(entry["log_level"], entry["source"]) for entry in rejections} == {
        ("error", "transport")}
    reasons = [entry["reason"] for entry in rejections]
    assert reasons == ["invalid_transition", "invalid_event", "invalid_event",
                       "unknown_machine", "invalid_event"]
    assert room.state == "disconnected"
    assert transport.calls == ["connect", "disconnect"]
