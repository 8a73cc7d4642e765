"""The same scenario on the memory and aiortc transports gives the same state sequences.

Room, local publication and remote publication machines are compared change by change (track
sids differ between services, so remote tracks are named by their track name).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

import anyio
import pytest

import rtcstate
from rtcstate import ConnectOptions, Room, StateChange
from rtcstate.adapters.aiortc import AiortcTransport, RoomServer, create_access_token
from rtcstate.adapters.memory import MemoryRoomService
from rtcstate.dispatcher import Dispatcher
from rtcstate.models import Event, RoomReconnected
from rtcstate.testing.aiortc import AiortcHarness
from rtcstate.testing.conformance import (
    ConformanceFailure,
    MediaFailure,
    check_path,
    conformance_paths,
    path_id,
)
from rtcstate.testing.paths import Path

from .helpers import TOKEN_SECRET

pytestmark = pytest.mark.anyio
ROOM = "conformance"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiortc runs on asyncio only


class World(Protocol):
    def join(self, identity: str, dispatcher: Dispatcher) -> AbstractAsyncContextManager[Room]:
        ...

    def dispatcher(self) -> Dispatcher:
        ...

    async def drop_signaling(self, identity: str) -> None:
        ...


class MemoryWorld:
    def __init__(self) -> None:
        self.service = MemoryRoomService(rooms=[ROOM])

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(clock=self.service.clock)

    def join(self, identity: str, dispatcher: Dispatcher) -> AbstractAsyncContextManager[Room]:
        return rtcstate.connect(self.service.transport(),
                                ConnectOptions(room_name=ROOM, identity=identity),
                                dispatcher=dispatcher)

    async def drop_signaling(self, identity: str) -> None:
        self.service.drop_signaling(identity, duration=1.0)


class AiortcWorld:
    def __init__(self, server: RoomServer) -> None:
        self.server = server

    def dispatcher(self) -> Dispatcher:
        return Dispatcher()

    def join(self, identity: str, dispatcher: Dispatcher) -> AbstractAsyncContextManager[Room]:
        token = create_access_token(TOKEN_SECRET, identity=identity, room=ROOM)
        return rtcstate.connect(AiortcTransport(self.server.url, token),
                                ConnectOptions(room_name=ROOM, identity=identity),
                                dispatcher=dispatcher)

    async def drop_signaling(self, identity: str) -> None:
        self.server.drop_signaling(identity)


@asynccontextmanager
async def world(kind: str) -> AsyncIterator[World]:
    if kind == "memory":
        yield MemoryWorld()
        return
    async with RoomServer(TOKEN_SECRET) as server:
        yield AiortcWorld(server)


async def until(room: Room, predicate: Callable[[], bool]) -> None:
    assert await room.wait_until(predicate, within=20), "timed out waiting"


def sequences(seen: list[StateChange]) -> dict[str, list[tuple[str, str, int | None]]]:
    """Per machine (remote tracks by their name), the (event, dest, error code) sequence."""
    names: dict[str, str] = {}
    found: dict[str, list[tuple[str, str, int | None]]] = {}
    for change in seen:
        if change.machine not in ("room", "local_track", "remote_track"):
            continue
        key = f"{change.machine}:{change.id}"
        if change.machine == "remote_track":
            name = getattr(change.cause, "track_name", None)
            if name is not None:
                names[change.id] = name
            key = f"remote_track:{names.get(change.id, '?')}"
        found.setdefault(key, []).append(
            (change.event, change.dest, change.error.code if change.error else None))
    return found


async def play(kind: str) -> dict[str, Any]:
    """Alice and Bob join; Alice publishes, loses signaling and resumes, unpublishes; a second
    Alice joins (53205); everyone leaves."""
    record: dict[str, list[StateChange]] = {"alice": [], "bob": []}
    async with world(kind) as w, AsyncExitStack() as stack:
        alice_d, bob_d = w.dispatcher(), w.dispatcher()
        alice_d.on_change(record["alice"].append)
        bob_d.on_change(record["bob"].append)
        alice = await stack.enter_async_context(w.join("alice", alice_d))
        async with w.join("bob", bob_d) as bob:
            await alice.publish("camera", "video")
            await until(bob, lambda: [t.state for t in bob.remote_tracks.values()]
                        == ["subscribed"])
            await w.drop_signaling("alice")
            await until(alice, lambda: [c.dest for c in record["alice"]
                                        if c.machine == "room"][-2:]
                        == ["reconnecting", "connected"])
            await alice.unpublish("camera")
            await until(bob, lambda: [t.state for t in bob.remote_tracks.values()]
                        == ["unpublished"])
            async with w.join("alice", w.dispatcher()):
                await until(alice, lambda: alice.state == "disconnected")
    return {who: sequences(seen) for who, seen in record.items()}


async def test_memory_and_aiortc_transports_agree() -> None:
    memory = await play("memory")
    real = await play("aiortc")
    assert real == memory
    assert memory["alice"]["room:conformance"] == [
        ("connect", "connecting", None), ("connected", "connected", None),
        ("reconnecting", "reconnecting", 53001), ("reconnected", "connected", None),
        ("disconnected", "disconnected", 53205)]
    assert memory["bob"]["remote_track:camera"] == [
        ("published", "published", None), ("subscribed", "subscribed", None),
        ("unsubscribed", "unsubscribed", None), ("unpublished", "unpublished", None)]


def test_both_room_services_inject_faults_with_one_shape() -> None:
    import inspect

    from rtcstate.adapters.aiortc import RoomServer
    from rtcstate.adapters.memory import MemoryRoomService

    shared = ["fail_next_joins", "drop_signaling", "restore_connection", "expire_session",
              "fail_next_publications", "fail_next_subscriptions", "lose_media", "restore_media",
              "unsubscribe", "subscribe", "switch_off", "track_sid"]
    for name in shared:
        memory, server = getattr(MemoryRoomService, name), getattr(RoomServer, name)
        assert not inspect.iscoroutinefunction(memory), name
        assert not inspect.iscoroutinefunction(server), name
        assert list(inspect.signature(memory).parameters) == list(
            inspect.signature(server).parameters), name


def _tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def _outlived(before: set[asyncio.Task[Any]]) -> list[str]:
    """The tasks made since ``before`` that are still running a second after (a reader of a
    stopped track ends at its next frame, some milliseconds on), described."""
    with anyio.move_on_after(1.0):
        while [t for t in _tasks() - before if not t.done()]:  # noqa: ASYNC110
            await anyio.sleep(0.01)
    gc.collect()
    return [repr(t.get_coro()) for t in _tasks() - before if not t.done()]


async def test_every_generated_path_holds_on_aiortc_with_media(conformance_path: Path) -> None:
    path = conformance_path
    before = _tasks()
    async with AiortcHarness() as harness:
        result = await check_path(harness, path)
    assert result.path == path_id(path)
    # Every join here ends connected (a retried failure too) but the refused ones.
    refused = path[0].edge.trigger == "stop" or any(
        s.edge.trigger == "connect_failed" and s.edge.dest == "disconnected" for s in path)
    assert result.media.startswith("checked") != refused, result.media
    assert not await _outlived(before), "tasks outlived the harness"  # MediaRelay readers
    assert harness.server.open_peer_connections == 0


class NeverSaysReconnected(AiortcTransport):
    """A broken adapter: it resumes, and never tells the room so."""

    def _emit(self, event: Event) -> None:
        if not isinstance(event, RoomReconnected):
            super()._emit(event)


class NeverRefeedsAfterResume(AiortcTransport):
    """A broken adapter: after a resume it ignores the server's new subscription offers, so
    its subscriptions stay ``subscribed`` with no media under them."""

    resumed = False

    def _emit(self, event: Event) -> None:
        if isinstance(event, RoomReconnected):
            self.resumed = True
        super()._emit(event)

    async def _answer(self, ws: Any, offer: Any) -> None:
        if not self.resumed:
            await super()._answer(ws, offer)


class IgnoresUnsubscribed(AiortcTransport):
    """A broken adapter: it drops the service's ``unsubscribed`` notices, so a subscription the
    service ended stays ``subscribed`` with no media under it."""

    async def _track_notice(self, message: Any) -> None:
        if message.change != "unsubscribed":
            await super()._track_notice(message)


def _path_to(key: str) -> Path:
    return next(path for path in conformance_paths() if path_id(path) == key)


async def test_a_transport_that_never_says_reconnected_fails_naming_the_edge() -> None:
    async with AiortcHarness(NeverSaysReconnected) as harness:
        with pytest.raises(ConformanceFailure) as info:
            await check_path(harness, _path_to("room:reconnecting--reconnected-->connected"))
    assert info.value.edge == "room:reconnecting--reconnected-->connected"


async def test_a_transport_that_never_refeeds_after_a_resume_fails_on_media() -> None:
    async with AiortcHarness(NeverRefeedsAfterResume) as harness:
        with pytest.raises(MediaFailure, match=r"after step 4 \(room:reconnecting--reconnected"
                                               r"-->connected\) .* received 0 frame"):
            await check_path(harness, _path_to("room:reconnecting--reconnected-->connected"))


async def test_a_transport_that_ignores_an_ended_subscription_fails_naming_the_edge() -> None:
    async with AiortcHarness(IgnoresUnsubscribed) as harness:
        with pytest.raises(ConformanceFailure) as info:
            await check_path(harness, _path_to("remote_track:subscribed--unsubscribed-->"
                                               "unsubscribed"))
    assert info.value.edge == "remote_track:subscribed--unsubscribed-->unsubscribed"
    assert "expected the remote_track to go published --subscribed--> subscribed ; " \
           "subscribed --unsubscribed--> unsubscribed, it went published --subscribed--> " \
           "subscribed" in str(info.value)
