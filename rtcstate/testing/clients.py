"""Other participants for a conformance harness: each one's room run by a task of its own.

A harness's guest (or a second client with the room's identity) must outlive the step that made
it, and the room under test too, until it leaves or the harness ends::

    async with OtherClients(lambda identity: MyTransport(identity)) as clients:
        await clients.join("guest", "guest")
        await clients.room("guest").publish("camera", "video")
        await clients.leave("guest")
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

import anyio
import anyio.abc

from rtcstate.adapters.base import Transport
from rtcstate.models.options import ConnectOptions
from rtcstate.room import Room, connect
from rtcstate.testing.conformance import GUEST, BaseHarness

__all__ = ["OtherClients", "OtherClientsHarness"]


class OtherClients:
    """Rooms of other participants, joined and left on request, all left on exit.

    Args:
        make_transport: a new transport for an identity.
        room_name: the room they join.
    """

    def __init__(self, make_transport: Callable[[str], Transport], room_name: str) -> None:
        self.make_transport = make_transport
        self.room_name = room_name
        self._tasks: anyio.abc.TaskGroup | None = None
        self._clients: dict[str, _Client] = {}

    async def join(self, key: str, identity: str, *, publish: str | None = None) -> Room:
        """Join as ``identity`` (known as ``key`` from now on); publish a video track named
        ``publish`` first, if given. Returns once joined (and published)."""
        assert self._tasks is not None, "use OtherClients in `async with`"
        client: _Client = await self._tasks.start(self._run, identity, publish)
        self._clients[key] = client
        return client.joined()

    def room(self, key: str) -> Room:
        """The room of client ``key``."""
        return self._clients[key].joined()

    def transport(self, key: str) -> Transport:
        """The transport of client ``key``."""
        return self._clients[key].transport

    async def leave(self, key: str) -> None:
        """Client ``key`` leaves; returns once it has."""
        client = self._clients.pop(key)
        client.leave.set()
        await client.left.wait()

    async def _run(self, identity: str, publish: str | None, *,
                   task_status: anyio.abc.TaskStatus[_Client]) -> None:
        client = _Client(self.make_transport(identity))
        try:
            async with connect(client.transport,
                               ConnectOptions(room_name=self.room_name,
                                              identity=identity)) as room:
                client.room = room
                if publish is not None:
                    await room.publish(publish, "video")
                    await room.wait_for("local_track", "published", id=publish, within=10)
                task_status.started(client)
                await client.leave.wait()
        finally:
            client.left.set()

    async def __aenter__(self) -> Self:
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        for key in reversed(list(self._clients)):
            await self.leave(key)
        tasks, self._tasks = self._tasks, None
        if tasks is not None:
            await tasks.__aexit__(exc_type, exc, tb)


class OtherClientsHarness(BaseHarness):
    """A harness whose guest (and other participants) are :class:`OtherClients` of its own
    service, in real time: joining, leaving, publishing and waiting out a timeout are the same
    on every real transport. Subclasses set :attr:`clients` and enter it."""

    clients: OtherClients

    async def advance(self, seconds: float) -> None:
        await anyio.sleep(seconds)  # real time: the harness's short windows keep it to seconds

    async def join_guest(self) -> None:
        await self.clients.join(GUEST, GUEST)

    async def leave(self, identity: str) -> None:
        await self.clients.leave(identity)

    async def publish_as(self, identity: str, track_name: str) -> None:
        await self.clients.room(identity).publish(track_name, "video")

    async def unpublish_as(self, identity: str, track_name: str) -> None:
        await self.clients.room(identity).unpublish(track_name)


class _Client:
    """Another participant's room, run by a task until told to leave."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.room: Room | None = None
        self.leave = anyio.Event()
        self.left = anyio.Event()

    def joined(self) -> Room:
        assert self.room is not None
        return self.room
