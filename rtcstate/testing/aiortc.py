"""The conformance harness for the aiortc transport and the reference room server.

Needs the ``aiortc`` extra. Each harness starts a :class:`~rtcstate.server.RoomServer` on
loopback and a second participant (``peer``) that publishes a video track, so that the room
under test has media to receive; the server's fault API makes the service-side steps
(refused joins, cut signaling and its return, an expired session, the same identity joining
again). The windows are short (:data:`AIORTC_OPTIONS`: a 2 s reconnect window, 0.2 s retry
back-off), so every generated Room path costs seconds of real time.

After every step while the room is connected, :meth:`AiortcHarness.check_media` checks media
both ways, :data:`MEDIA_BOUND` seconds at most (the same bound after a resume as after the
join): the peer's track is ``subscribed`` and its frames arrive, and the room's own camera
(published at the first check) reaches the server::

    async with AiortcHarness() as harness:
        result = await check_path(harness, path)   # result.media: "checked after 2 step(s)"
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Literal, Self

import anyio

from rtcstate.adapters.aiortc import AiortcTransport, RoomServer, create_access_token
from rtcstate.adapters.base import Transport
from rtcstate.dispatcher import Dispatcher
from rtcstate.models.options import ConnectOptions, ReconnectPolicy, RetryPolicy
from rtcstate.room import Room, connect
from rtcstate.testing.conformance import IDENTITY, ROOM, MediaFailure

__all__ = ["AIORTC_OPTIONS", "MEDIA_BOUND", "AiortcHarness"]

AIORTC_OPTIONS = ConnectOptions(room_name=ROOM, identity=IDENTITY,
                                reconnect=ReconnectPolicy(window=2),
                                retry=RetryPolicy(max_attempts=3, initial_delay=0.2,
                                                  multiplier=2))
"""What the room under test joins with on the aiortc harness: short windows, real time."""

MEDIA_BOUND = 2.0
"""Seconds within which a subscribed track's frames must arrive (loopback; CI runs slower
machines than a laptop, so the bound leaves room over the 1 s a loopback link needs)."""

_SECRET = "rtcstate-conformance-secret-of-32+-bytes"
_FRAMES = 5


class AiortcHarness:
    """A reference room server with a publishing peer, for :func:`check_path`.

    ``transport_class`` lets a test swap in a subclass (a deliberately broken adapter).

    Attributes:
        options: what the room under test joins with (:data:`AIORTC_OPTIONS`).
        server: the running server (inside ``async with``).
    """

    options = AIORTC_OPTIONS

    def __init__(self, transport_class: type[AiortcTransport] = AiortcTransport) -> None:
        self.transport_class = transport_class
        self.server = RoomServer(_SECRET, reconnect_window=30.0)
        self._stack = AsyncExitStack()

    def _token(self, identity: str) -> str:
        return create_access_token(_SECRET, identity=identity, room=ROOM)

    def transport(self) -> Transport:
        return self.transport_class(self.server.url, self._token(IDENTITY))

    def dispatcher(self) -> Dispatcher:
        return Dispatcher()

    async def fail_next_connect(self, identity: str, code: int) -> None:
        self.server.fail_next_joins(identity, code)

    async def interrupt(self, identity: str, code: Literal[53001, 53405]) -> None:
        if code != 53001:
            raise NotImplementedError("the aiortc transport reports media-connection failures "
                                      "as signaling ones; no path here needs 53405")
        self.server.drop_signaling(identity, duration=None)

    async def restore(self, identity: str) -> None:
        self.server.restore_connection(identity)

    async def end_session(self, identity: str, code: Literal[53002, 53205]) -> None:
        if code == 53002:
            self.server.expire_session(identity)
            return
        again = AiortcTransport(self.server.url, self._token(identity))
        await self._stack.enter_async_context(connect(
            again, ConnectOptions(room_name=ROOM, identity=identity)))

    async def advance(self, seconds: float) -> None:
        await anyio.sleep(seconds)  # real time: the windows above keep it to seconds

    async def check_media(self, room: Room) -> None:
        """Media flows both ways, within :data:`MEDIA_BOUND` seconds: the peer's track is
        subscribed and its frames arrive; the room's own ``camera`` (published at the first
        check) is published and its frames reach the server.

        Raises:
            MediaFailure: naming what did not flow.
        """
        transport = room.transport
        assert isinstance(transport, AiortcTransport)
        await self._check_sending(room)
        subscribed = await room.wait_until(
            lambda: any(t.state == "subscribed" for t in room.remote_tracks.values()),
            within=MEDIA_BOUND)
        if not subscribed:
            raise MediaFailure(f"the peer's track was not subscribed within {MEDIA_BOUND} s")
        for sid, track in room.remote_tracks.items():
            if track.state != "subscribed":
                continue
            before = transport.frames_received.get(sid, 0)
            with anyio.move_on_after(MEDIA_BOUND):
                await transport.wait_for_frames(sid, before + _FRAMES)
            arrived = transport.frames_received.get(sid, 0) - before
            if arrived < _FRAMES:
                raise MediaFailure(f"remote track {sid} is subscribed but received {arrived} "
                                   f"frame(s) in {MEDIA_BOUND} s")

    async def _check_sending(self, room: Room) -> None:
        if "camera" not in room.local_tracks:
            await room.publish("camera", "video")
        published = await room.wait_until(
            lambda: room.local_tracks["camera"].state == "published", within=MEDIA_BOUND)
        if not published:
            raise MediaFailure(f"the room's camera was not published within {MEDIA_BOUND} s")
        before = self.server.frames_from(IDENTITY, "camera")
        with anyio.move_on_after(MEDIA_BOUND):
            while self.server.frames_from(IDENTITY, "camera") < before + _FRAMES:  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the server is in-process: poll its counter
        arrived = self.server.frames_from(IDENTITY, "camera") - before
        if arrived < _FRAMES:
            raise MediaFailure(f"the room's published camera reached the server with "
                               f"{arrived} frame(s) in {MEDIA_BOUND} s")

    async def __aenter__(self) -> Self:
        await self._stack.enter_async_context(self.server)
        peer = await self._stack.enter_async_context(connect(
            AiortcTransport(self.server.url, self._token("peer")),
            ConnectOptions(room_name=ROOM, identity="peer")))
        await peer.publish("camera", "video")
        await peer.wait_for("local_track", "published", id="camera", within=10)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()
