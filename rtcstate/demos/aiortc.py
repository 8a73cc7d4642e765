"""The guide's story over real WebRTC: ``rtcstate demo --transport aiortc``.

The same steps as the memory demo (:mod:`rtcstate.demos.memory`), on a :class:`RoomServer`
started in-process on loopback, in real time with short waits: Alice tests her devices
(simulated, as in the memory demo), joins with her tracks (the first join is refused with 53000
and retried), Bob joins and subscribes; Alice switches camera, backgrounds and foregrounds the
app, her camera's frames stop reaching the server for a moment (``recording-media-lost``, then
cleared), her signaling connection drops and resumes; a second client with Bob's identity
replaces the first (53205); Alice leaves on page hide. About ten seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Protocol

from rtcstate.adapters.aiortc.media import SyntheticTrack
from rtcstate.adapters.aiortc.transport import AiortcTransport
from rtcstate.adapters.base import MediaConstraints
from rtcstate.adapters.janus import JanusTransport
from rtcstate.adapters.memory import MemoryMediaDevices
from rtcstate.devices import LocalDevices
from rtcstate.dispatcher import Dispatcher
from rtcstate.errors import CatalogError
from rtcstate.models import ConnectOptions, PreAcquiredTrack, StateChange
from rtcstate.room import Room, connect
from rtcstate.server.room_server import RoomServer
from rtcstate.server.tokens import create_access_token
from rtcstate.statemachines import LifecycleMachine

__all__ = ["AiortcStoryResult", "StoryService", "play_story", "run_aiortc_story"]

ROOM = "my-cool-room"
_SECRET = "rtcstate-demo-secret-of-32-bytes!"
Listener = Callable[[str, StateChange], object]


@dataclass
class AiortcStoryResult:
    """What the run produced: every participant's changes and machines."""

    changes: list[tuple[str, StateChange]] = field(default_factory=list)
    machines: list[tuple[str, LifecycleMachine]] = field(default_factory=list)

    @property
    def all_terminal(self) -> bool:
        """Whether every machine ended in a terminal state."""
        return all(machine.is_terminal for _, machine in self.machines)


class StoryService(Protocol):
    """What the story needs of a real service: its clients, and the faults it plays."""

    def transport(self, identity: str) -> AiortcTransport | JanusTransport:
        """A new client transport for ``identity``."""

    async def refuse_next_join(self, identity: str) -> None:
        """Make ``identity``'s next join fail with 53000 (retried after the back-off)."""

    async def cut_signaling(self, identity: str) -> None:
        """Cut ``identity``'s signaling connection."""

    async def restore_signaling(self, identity: str) -> None:
        """Let it come back (a no-op where the cut is over by itself)."""


class _ReferenceServer:
    def __init__(self, server: RoomServer) -> None:
        self.server = server

    def transport(self, identity: str) -> AiortcTransport:
        token = create_access_token(_SECRET, identity=identity, room=ROOM)
        return AiortcTransport(self.server.url, token)

    async def refuse_next_join(self, identity: str) -> None:
        self.server.fail_next_joins(identity, 53000)

    async def cut_signaling(self, identity: str) -> None:
        self.server.drop_signaling(identity)  # the client resumes at once

    async def restore_signaling(self, identity: str) -> None:
        return None


async def run_aiortc_story(listener: Listener | None = None) -> AiortcStoryResult:
    """Play the story; ``listener(participant, change)`` sees each change as it happens."""
    async with RoomServer(_SECRET, media_timeout=0.5, rooms=[ROOM]) as server:
        return await play_story(_ReferenceServer(server), listener)


async def play_story(service: StoryService,
                     listener: Listener | None = None) -> AiortcStoryResult:
    """Play the story on ``service``; ``listener(participant, change)`` sees each change."""
    result = AiortcStoryResult()
    dispatchers: list[tuple[str, Dispatcher]] = []

    def dispatcher(label: str) -> Dispatcher:
        made = Dispatcher()
        made.on_change(lambda change: result.changes.append((label, change)))
        if listener is not None:
            made.on_change(lambda change: listener(label, change))
        dispatchers.append((label, made))
        return made

    async def until(room: Room, predicate: Callable[[], bool]) -> None:
        await room.wait_until(predicate, within=10)

    # Alice's devices run on a dispatcher of their own, kept running to the end.
    devices_dispatcher = dispatcher("alice")
    alice_dispatcher = dispatcher("alice")
    devices = MemoryMediaDevices(microphone="silent")
    local = LocalDevices(devices, devices_dispatcher)
    async with devices_dispatcher:
        await local.acquire("microphone")
        await local.test("microphone")  # silent: another app holds the microphone
        devices.behaviour["microphone"] = "ok"
        await local.test("microphone")
        await local.acquire("camera", MediaConstraints(facing_mode="user"))
        await local.test("camera")
        alice_transport = service.transport("alice")
        await service.refuse_next_join("alice")  # retried after the back-off
        alice_options = ConnectOptions(
            room_name=ROOM, identity="alice",
            tracks=(PreAcquiredTrack(name="microphone", kind="audio"),
                    PreAcquiredTrack(name="camera", kind="video")),
            notify_warnings=frozenset({"recording-media-lost"}))
        async with AsyncExitStack() as stack:
            alice = await stack.enter_async_context(
                connect(alice_transport, alice_options, dispatcher=alice_dispatcher))
            bob_options = ConnectOptions(room_name=ROOM, identity="bob")
            bob = await stack.enter_async_context(
                connect(service.transport("bob"), bob_options, dispatcher=dispatcher("bob")))
            await until(bob, lambda: [t.state for t in bob.remote_tracks.values()]
                        == ["subscribed", "subscribed"])
            await alice.restart("camera", facing_mode="environment")
            await alice.background("camera")
            await until(bob, lambda: sorted(t.state for t in bob.remote_tracks.values())
                        == ["subscribed", "unpublished"])
            await alice.foreground("camera")
            await until(alice, lambda: alice.local_tracks["camera"].state == "published")
            # A service watches a track's media once some has arrived: let Bob receive it.
            await until(bob, lambda: sum(t.state == "subscribed"
                                         for t in bob.remote_tracks.values()) == 2)
            camera = alice_transport.local_media["camera"]
            assert isinstance(camera, SyntheticTrack)
            camera.hold()  # its frames stop reaching the service: a warning
            await until(alice, lambda: alice.local_tracks["camera"].state == "warning")
            camera.release()
            await until(alice, lambda: alice.local_tracks["camera"].state == "published")
            await service.cut_signaling("alice")
            await until(alice, lambda: alice.state == "reconnecting")
            await service.restore_signaling("alice")
            await until(alice, lambda: alice.state == "connected")
            try:
                async with connect(service.transport("bob"), bob_options,
                                   dispatcher=dispatcher("bob#2")):
                    await until(bob, lambda: bob.state == "disconnected")  # 53205
            except CatalogError:  # pragma: no cover - only if the service misbehaves
                pass
            await alice.disconnect()  # page hide
        await local.release_all()
    result.machines = [(label, machine) for label, made in dispatchers
                       for machine in made.machines.values()]
    return result
