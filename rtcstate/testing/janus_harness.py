"""The conformance harness for the Janus transport, on a Janus of its own.

Needs the ``janus`` extra, Debian's ``janus`` and root (:class:`~rtcstate.testing.janus.
JanusServer` runs Janus in a network namespace). A second participant, ``peer``, publishes a
video track, so the room under test has media to receive, and subscribes to what the room
publishes, so its media can be checked at the far end; a third, the guest, joins, publishes and
leaves for the participant and remote-track paths.

Janus is a real SFU and cannot be told to misbehave, so the service-side steps are made the
way they happen to a real client, and the ones Janus has no way to make raise
``NotImplementedError`` (the path is reported unsupported, never passed):

=============================  ==========================================================
step                           how, on Janus
=============================  ==========================================================
refused join (53000)           the next join goes to a port nobody listens on
refused join (other codes)     unsupported: Janus has no access tokens or such refusals
interrupt (53001) / restore    the veth link to Janus's namespace goes down / up (every
                               client shares it: the guest and the peer are cut too)
session ended (53002)          the client's keepalives stop; Janus times the session out
others' link lost              unsupported: Janus does not tell the others
same identity again (53205)    another client joins as the room's identity and takes it over
lost media / restored          the room's synthetic track holds its frames / lets them go;
                               Janus says it stopped receiving (``no_media_timer``)
refused publication            unsupported: Janus refuses only what it cannot take
failed subscription            unsupported: Janus cannot be told to fail one
unsubscribe / subscribe        unsupported: Janus has no subscription rules; a subscriber
                               chooses for itself
switch off / on                unsupported: Janus does not switch tracks off
=============================  ==========================================================

After every step while the room is connected, :meth:`JanusHarness.check_media` checks media
both ways within :data:`MEDIA_BOUND` seconds: every subscribed remote track receives frames,
and every track the room publishes reaches the peer through Janus.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from functools import partial
from types import TracebackType
from typing import Literal, Self

import anyio
import anyio.abc
import anyio.to_thread

from rtcstate.adapters.base import Transport
from rtcstate.adapters.janus import JanusTransport
from rtcstate.dispatcher import Dispatcher
from rtcstate.models.options import ConnectOptions, ReconnectPolicy, RetryPolicy
from rtcstate.room import Room
from rtcstate.testing.aiortc import check_receiving
from rtcstate.testing.clients import OtherClients, OtherClientsHarness
from rtcstate.testing.conformance import IDENTITY, ROOM, MediaFailure, Pace
from rtcstate.testing.janus import JanusServer

__all__ = ["JANUS_OPTIONS", "JANUS_TIMES_OUT", "MEDIA_BOUND", "PROBE", "JanusHarness",
           "RefusingJanusTransport"]

JANUS_OPTIONS = ConnectOptions(room_name=ROOM, identity=IDENTITY,
                               reconnect=ReconnectPolicy(window=2),
                               retry=RetryPolicy(max_attempts=3, initial_delay=0.2,
                                                 multiplier=2),
                               notify_warnings=frozenset({"recording-media-lost"}),
                               warning_escalation_timeout=9.0)
"""What the room under test joins with on the Janus harness: short windows, real time. The
warning escalates after 9 s, not 1 s as on the aiortc harness: a session Janus times out
(53002) takes up to :data:`JANUS_TIMES_OUT`, and a path losing the room in ``warning`` must
lose it before the warning escalates."""

MEDIA_BOUND = 2.0
"""Seconds within which a track's frames must arrive."""

JANUS_TIMES_OUT = 8.0
"""Seconds Janus takes to time a session out after its last keepalive, with a margin: 4.5-5.5 s
measured with ``session_timeout`` 1-2 (its watchdog looks every couple of seconds). The
longest a step waits for its change, so it is the pace."""

PROBE = "probe"
"""The track the room under test publishes at the first media check."""

_FRAMES = 5


class RefusingJanusTransport(JanusTransport):
    """A :class:`JanusTransport` whose next join, once ``refuse_next`` is set, goes to a port
    nobody listens on at Janus's address: a real refusal of the connection (53000), which
    the Room retries (on Janus itself, as the transport's ``url`` says)."""

    refuse_next = False

    async def connect(self, options: ConnectOptions) -> None:
        if not self.refuse_next:
            await super().connect(options)
            return
        self.refuse_next = False
        url, self.url = self.url, self.url.rsplit(":", 1)[0] + ":9"  # nobody listens there
        try:
            await super().connect(options)
        finally:
            self.url = url


class JanusHarness(OtherClientsHarness):
    """A Janus with a publishing, subscribing peer, for :func:`check_path`.

    Args:
        tag, subnet: make the :class:`JanusServer`'s namespace and addresses unique.

    Attributes:
        options: what the room under test joins with (:data:`JANUS_OPTIONS`).
        pace: real time: a step's change within :data:`JANUS_TIMES_OUT` (the slowest, a
            session timing out), then 0.2 s more.
        janus: the running server (inside ``async with``).
    """

    options = JANUS_OPTIONS
    pace = Pace(within=JANUS_TIMES_OUT, settle=0.2)

    def __init__(self, tag: str | None = None, subnet: int = 10) -> None:
        # A cut longer than the session timeout outlasts the room's 2 s window anyway.
        self.janus = JanusServer(tag, subnet=subnet, session_timeout=2,
                                 reclaim_session_timeout=10)
        self._stack = AsyncExitStack()
        self.clients = OtherClients(lambda _identity: JanusTransport(self.janus.url), ROOM)
        self._transport: RefusingJanusTransport | None = None
        self._refuse_next = False

    def transport(self) -> Transport:
        self._transport = RefusingJanusTransport(self.janus.url, subscribe_attempts=1)
        self._transport.refuse_next, self._refuse_next = self._refuse_next, False
        return self._transport

    def dispatcher(self) -> Dispatcher:
        return Dispatcher()

    def _room_transport(self) -> RefusingJanusTransport:
        assert self._transport is not None, "the room under test has no transport yet"
        return self._transport

    async def fail_next_connect(self, identity: str, code: int) -> None:
        if code != 53000:
            raise NotImplementedError(f"Janus cannot refuse a join with {code}: it has no "
                                      "access tokens, and refuses only what it cannot seat")
        if self._transport is None:
            self._refuse_next = True  # the room under test is not made yet
        else:
            self._transport.refuse_next = True

    async def interrupt(self, identity: str, code: Literal[53001, 53405]) -> None:
        if code != 53001:
            raise NotImplementedError("the Janus transport reports media-connection failures "
                                      "as signaling ones; no path here needs 53405")
        if identity != IDENTITY:
            raise NotImplementedError("Janus does not tell the others that a participant's "
                                      "link is down: no remote participant is reconnecting")
        await anyio.to_thread.run_sync(self.janus.down)

    async def restore(self, identity: str) -> None:
        await anyio.to_thread.run_sync(self.janus.up)

    async def end_session(self, identity: str, code: Literal[53002, 53205]) -> None:
        if code == 53205:
            await self.clients.join(f"{identity}#again", identity)
            return
        # Keepalives stop (and silence is no longer a lost link): Janus ends the session.
        transport = (self._room_transport() if identity == IDENTITY
                     else self.clients.transport(identity))
        assert isinstance(transport, JanusTransport)
        transport.heartbeat_interval = transport.heartbeat_timeout = 3600.0

    async def lose_media(self, identity: str, track_name: str) -> None:
        if identity != IDENTITY:
            raise NotImplementedError("only the room under test's own media can be held")
        transport = self._room_transport()
        # Janus watches a track's media once some has arrived: wait for it at the peer.
        sid = await self._sid_at_peer(track_name)
        if sid is not None:
            await self._frames_at_peer(sid)
        transport.local_media[track_name].hold()  # type: ignore[attr-defined]

    async def restore_media(self, identity: str, track_name: str) -> None:
        if identity != IDENTITY:
            raise NotImplementedError("only the room under test's own media can be held")
        self._room_transport().local_media[track_name].release()  # type: ignore[attr-defined]

    async def _sid_at_peer(self, track_name: str) -> str | None:
        peer = self.clients.room("peer")
        await peer.wait_until(lambda: any(
            t.track_name == track_name and t.participant_sid == IDENTITY
            and t.state == "subscribed" for t in peer.remote_tracks.values()), within=MEDIA_BOUND)
        return next((sid for sid, t in peer.remote_tracks.items()
                     if t.track_name == track_name and t.participant_sid == IDENTITY
                     and t.state == "subscribed"), None)

    async def _frames_at_peer(self, sid: str) -> int:
        peer = self.clients.transport("peer")
        assert isinstance(peer, JanusTransport)
        before = peer.frames_received.get(sid, 0)
        with anyio.move_on_after(MEDIA_BOUND):
            await peer.wait_for_frames(sid, before + _FRAMES)
        return peer.frames_received.get(sid, 0) - before

    async def check_media(self, room: Room) -> None:
        """Media flows both ways, within :data:`MEDIA_BOUND` seconds: every subscribed remote
        track's frames arrive (the peer's is always one), and every track the room publishes
        (its ``probe``, published at the first check, among them) reaches the peer.

        Raises:
            MediaFailure: naming what did not flow.
        """
        transport = room.transport
        assert isinstance(transport, JanusTransport)
        if PROBE not in room.local_tracks:
            await room.publish(PROBE, "video")
            if not await room.wait_until(
                    lambda: room.local_tracks[PROBE].state == "published", within=MEDIA_BOUND):
                raise MediaFailure(f"the room's {PROBE} was not published within "
                                   f"{MEDIA_BOUND} s")
        if not await room.wait_until(
                lambda: any(t.state == "subscribed" for t in room.remote_tracks.values()),
                within=MEDIA_BOUND):
            raise MediaFailure(f"the peer's track was not subscribed within {MEDIA_BOUND} s")
        failures: list[str] = []
        async with anyio.create_task_group() as checks:
            for name, track in room.local_tracks.items():
                if track.state == "published":
                    checks.start_soon(self._check_sending, name, failures)
            for sid, remote in room.remote_tracks.items():
                if remote.state == "subscribed":
                    checks.start_soon(partial(check_receiving, within=MEDIA_BOUND), transport, sid,
                                      failures)
        if failures:
            raise MediaFailure(sorted(failures)[0])

    async def _check_sending(self, name: str, failures: list[str]) -> None:
        sid = await self._sid_at_peer(name)
        if sid is None:
            failures.append(f"the room's published {name} was not subscribed by the peer "
                            f"within {MEDIA_BOUND} s")
            return
        arrived = await self._frames_at_peer(sid)
        if arrived < _FRAMES:
            failures.append(f"the room's published {name} reached the peer with {arrived} "
                            f"frame(s) in {MEDIA_BOUND} s")

    def _stop_janus(self) -> None:
        self.janus.__exit__(None, None, None)

    async def __aenter__(self) -> Self:
        await anyio.to_thread.run_sync(self.janus.__enter__)
        self._stack.push_async_callback(anyio.to_thread.run_sync, self._stop_janus)
        await self._stack.enter_async_context(self.clients)
        await self.clients.join("peer", "peer", publish="camera")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()

