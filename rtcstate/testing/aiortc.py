"""The conformance harness for the aiortc transport and the reference room server.

Needs the ``aiortc`` extra. Each harness starts a :class:`~rtcstate.server.RoomServer` on
loopback and a second participant (``peer``) that publishes a video track, so that the room
under test has media to receive; the server's fault API makes the service-side steps (refused
joins and publications, cut signaling and its return, an expired session, the same identity
joining again, a lost track's media, subscriptions failed, ended and switched off), and a
third client, the guest, joins, publishes and leaves for the participant and remote-track
paths. Every step of every generated path can be acted out. The windows are short
(:data:`AIORTC_OPTIONS`: a 2 s reconnect window, 0.2 s retry back-off, a 1 s warning
escalation; the server warns about lost media after 1 s), so a path costs a second or two of
real time.

After every step while the room is connected, :meth:`AiortcHarness.check_media` checks media
both ways, :data:`MEDIA_BOUND` seconds at most (the same bound after a resume as after the
join): every subscribed remote track receives frames (the peer's is always one), and every
published local track reaches the server (the room publishes its own ``probe`` at the first
check)::

    async with AiortcHarness() as harness:
        result = await check_path(harness, path)   # result.media: "checked after 2 step(s)"
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from types import TracebackType
from typing import Literal, Self

import anyio
import anyio.abc

from rtcstate.adapters.aiortc import AiortcTransport, RoomServer, create_access_token
from rtcstate.adapters.aiortc.client import AiortcClient
from rtcstate.adapters.base import Transport
from rtcstate.dispatcher import Dispatcher
from rtcstate.models.options import ConnectOptions, ReconnectPolicy, RetryPolicy
from rtcstate.room import Room
from rtcstate.testing.clients import OtherClients, OtherClientsHarness
from rtcstate.testing.conformance import (
    IDENTITY,
    ROOM,
    MediaFailure,
    Pace,
)

__all__ = ["AIORTC_OPTIONS", "MEDIA_BOUND", "PROBE", "AiortcHarness", "check_receiving",
           "consent_checked_every"]

AIORTC_OPTIONS = ConnectOptions(room_name=ROOM, identity=IDENTITY,
                                reconnect=ReconnectPolicy(window=2),
                                retry=RetryPolicy(max_attempts=3, initial_delay=0.2,
                                                  multiplier=2),
                                notify_warnings=frozenset({"recording-media-lost"}),
                                warning_escalation_timeout=1.0)
"""What the room under test joins with on the aiortc harness: short windows, real time."""

MEDIA_BOUND = 2.0
"""Seconds within which a subscribed track's frames must arrive (loopback; CI runs slower
machines than a laptop, so the bound leaves room over the 1 s a loopback link needs)."""

_SECRET = "rtcstate-conformance-secret-of-32+-bytes"
_FRAMES = 5
PROBE = "probe"
"""The track the room under test publishes at the first media check."""


async def check_receiving(transport: AiortcClient, sid: str, failures: list[str], *,
                          within: float = MEDIA_BOUND) -> None:
    """Add to ``failures`` unless remote track ``sid`` receives five frames within
    ``within`` seconds (on any transport built on :class:`AiortcClient`)."""
    before = transport.frames_received.get(sid, 0)
    with anyio.move_on_after(within):
        await transport.wait_for_frames(sid, before + _FRAMES)
    arrived = transport.frames_received.get(sid, 0) - before
    if arrived < _FRAMES:
        failures.append(f"remote track {sid} is subscribed but received {arrived} "
                        f"frame(s) in {within} s")


class AiortcHarness(OtherClientsHarness):
    """A reference room server with a publishing peer, for :func:`check_path`.

    ``transport_class`` lets a test swap in a subclass (a deliberately broken adapter). The
    room under test asks for a subscription once (``subscribe_attempts=1``): retrying is the
    adapter's own policy, which the model does not describe, and a retry would take a
    subscription out of ``subscription_failed`` before the path says so.

    Attributes:
        options: what the room under test joins with (:data:`AIORTC_OPTIONS`).
        pace: real time: a step's change within :data:`MEDIA_BOUND` + 1 s, then 0.2 s more.
        server: the running server (inside ``async with``).
    """

    options = AIORTC_OPTIONS
    pace = Pace(within=MEDIA_BOUND + 1, settle=0.2)

    def __init__(self, transport_class: type[AiortcTransport] = AiortcTransport) -> None:
        self.transport_class = transport_class
        self.server = RoomServer(_SECRET, reconnect_window=30.0, media_timeout=1.0)
        self._stack = AsyncExitStack()
        self.clients = OtherClients(
            lambda identity: AiortcTransport(self.server.url, self._token(identity)), ROOM)

    def _token(self, identity: str) -> str:
        return create_access_token(_SECRET, identity=identity, room=ROOM)

    def transport(self) -> Transport:
        return self.transport_class(self.server.url, self._token(IDENTITY), subscribe_attempts=1)

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
        await self.clients.join(f"{identity}#again", identity)

    async def fail_next_publication(self, identity: str, code: int) -> None:
        self.server.fail_next_publications(identity, code)

    async def lose_media(self, identity: str, track_name: str) -> None:
        self.server.lose_media(identity, track_name)

    async def restore_media(self, identity: str, track_name: str) -> None:
        self.server.restore_media(identity, track_name)

    async def fail_next_subscription(self, identity: str) -> None:
        self.server.fail_next_subscriptions(identity)

    async def unsubscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        self.server.unsubscribe(subscriber, publisher, track_name)

    async def subscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        self.server.subscribe(subscriber, publisher, track_name)

    async def switch_off(self, subscriber: str, publisher: str, track_name: str, *,
                         on: bool = False) -> None:
        self.server.switch_off(subscriber, self.server.track_sid(publisher, track_name), on=on)

    async def check_media(self, room: Room) -> None:
        """Media flows both ways, within :data:`MEDIA_BOUND` seconds: the peer's track is
        subscribed, and every subscribed remote track's frames arrive; the room's own
        ``probe`` (published at the first check) is published, and every published local
        track's frames reach the server.

        Raises:
            MediaFailure: naming what did not flow.
        """
        transport = room.transport
        assert isinstance(transport, AiortcTransport)
        await self._publish_probe(room)
        subscribed = await room.wait_until(
            lambda: any(t.state == "subscribed" for t in room.remote_tracks.values()),
            within=MEDIA_BOUND)
        if not subscribed:
            raise MediaFailure(f"the peer's track was not subscribed within {MEDIA_BOUND} s")
        failures: list[str] = []
        # Both ways at once, each track on its own: one bound for the whole check.
        async with anyio.create_task_group() as checks:
            checks.start_soon(self._check_sending, room, failures)
            for sid, track in room.remote_tracks.items():
                if track.state == "subscribed":
                    checks.start_soon(check_receiving, transport, sid, failures)
        if failures:
            raise MediaFailure(sorted(failures)[0])

    async def _publish_probe(self, room: Room) -> None:
        if PROBE not in room.local_tracks:
            await room.publish(PROBE, "video")
            published = await room.wait_until(
                lambda: room.local_tracks[PROBE].state == "published", within=MEDIA_BOUND)
            if not published:
                raise MediaFailure(f"the room's {PROBE} was not published within "
                                   f"{MEDIA_BOUND} s")

    async def _check_sending(self, room: Room, failures: list[str]) -> None:
        names = [name for name, track in room.local_tracks.items()
                 if track.state == "published"]
        before = {name: self.server.frames_from(IDENTITY, name) for name in names}

        def arrived() -> dict[str, int]:
            return {name: self.server.frames_from(IDENTITY, name) - before[name]
                    for name in names}

        with anyio.move_on_after(MEDIA_BOUND):
            while min(arrived().values(), default=_FRAMES) < _FRAMES:  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the server is in-process: poll its counters
        failures.extend(f"the room's published {name} reached the server with {count} "
                        f"frame(s) in {MEDIA_BOUND} s"
                        for name, count in arrived().items() if count < _FRAMES)

    async def __aenter__(self) -> Self:
        await self._stack.enter_async_context(self.server)
        await self._stack.enter_async_context(self.clients)
        await self.clients.join("peer", "peer", publish="camera")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()


@contextmanager
def consent_checked_every(seconds: float) -> Iterator[None]:
    """Within the block, aioice checks consent ``seconds`` apart (it gives a connection up
    after six checks unanswered, 4-6 s apart by default): an outage then outlasts the peer
    connections in seconds instead of half a minute. Restored on exit."""
    import aioice.ice

    before = aioice.ice.CONSENT_INTERVAL
    aioice.ice.CONSENT_INTERVAL = seconds  # type: ignore[assignment]
    try:
        yield
    finally:
        aioice.ice.CONSENT_INTERVAL = before
