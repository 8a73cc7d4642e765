"""The reference room server: WebSocket signaling plus aiortc peer connections.

``rtcstate serve --host 127.0.0.1 --port 7880`` runs one; tests and ``rtcstate demo --transport
aiortc`` start one in-process::

    async with RoomServer(secret) as server:
        transport = AiortcTransport(server.url, create_access_token(secret, ...))

It enforces the rules the memory transport enforces, refusing with the catalog's codes: every
connection starts with a signed access token for the room (a bad, expired or wrong-room token
never joins: 20101-20107); a Room name or identity outside :mod:`rtcstate.limits` is refused
(53100-53102, 53200-53202); a full room refuses the next participant (53105), an unknown room is
refused when ad-hoc rooms are off (53106); the same identity joining again disconnects the older
participant (53205). A publication is refused for a bad track name (53301-53303), a name the
connection already publishes (53304), or one track more than ``max_publications`` (53203). A
message larger than :data:`~rtcstate.server.protocol.MAX_MESSAGE_BYTES` closes that
connection (1009); a malformed one is answered with a ``problem`` and ignored. Neither touches
anyone else.

Media: each published track arrives on its own peer connection and is forwarded to every other
participant through aiortc's ``MediaRelay``, on one peer connection per subscription. A watchdog
reads every published track: when no frame has arrived for ``media_timeout`` seconds the
publisher is told ``recording-media-lost`` (if it asked), and told it is cleared when frames
come back. A participant that stops sending (its heartbeat is silent for ``heartbeat_timeout``)
is *interrupted*: the others see it reconnecting, and it may resume within ``reconnect_window``
seconds, after which it is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.exceptions import InvalidAccessError, InvalidStateError
from aiortc.mediastreams import MediaStreamError
from pydantic import BaseModel, ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from rtcstate import catalog
from rtcstate.errors import AccessTokenError
from rtcstate.limits import MAX_PUBLICATIONS, join_refusal, publication_refusal
from rtcstate.logs import get_logger
from rtcstate.models.base import TrackKind
from rtcstate.models.local_track import PublishErrorCode, publish_error_code
from rtcstate.server.protocol import (
    MAX_MESSAGE_BYTES,
    Answer,
    Disconnected,
    Join,
    Joined,
    Leave,
    Offer,
    ParticipantInfo,
    ParticipantNotice,
    Ping,
    Pong,
    Problem,
    Publish,
    Published,
    PublishRefused,
    Refused,
    Resubscribe,
    Resume,
    Resumed,
    TrackInfo,
    TrackNotice,
    Unpublish,
    WarningNotice,
    client_messages,
    close_peer_connection,
    local_rtc_configuration,
    restart_video_reception,
    set_local_description,
)
from rtcstate.server.tokens import check_secret, verify_access_token

__all__ = ["RoomServer", "ServerStats", "serve_forever"]

_log = get_logger("rtcstate.server")
MEDIA_LOST = "recording-media-lost"
VIDEO_STALLED_AFTER = 1.0
"""Seconds without a frame after which a published video track's reception is restarted
(:func:`~rtcstate.server.protocol.restart_video_reception`), and again each such period."""


@dataclass
class ServerStats:
    """What the server has seen: connections, refusals, problems, interruptions."""

    connections: int = 0
    turned_away: int = 0
    joined: int = 0
    refused: int = 0
    problems: int = 0
    interrupted: int = 0
    resumed: int = 0


@dataclass(eq=False)
class _Track:
    sid: str
    name: str
    kind: TrackKind
    publisher: _Participant
    pc: RTCPeerConnection | None = None
    source: MediaStreamTrack | None = None
    last_frame: float = field(default_factory=time.monotonic)
    frames: int = 0
    warned: bool = False
    announced: bool = False
    watch: anyio.CancelScope | None = None
    lost_until: float = 0.0  # a scripted media loss: frames are ignored until then

    @property
    def lost(self) -> bool:
        return self.lost_until > time.monotonic()

    def info(self) -> TrackInfo:
        return TrackInfo(sid=self.sid, name=self.name, kind=self.kind,
                         participant_sid=self.publisher.sid)


@dataclass(eq=False)
class _Subscription:
    pc: RTCPeerConnection
    offer_id: int
    sender: RTCRtpSender | None = None
    feed: MediaStreamTrack | None = None  # what the sender forwards when it is switched on


@dataclass(frozen=True, slots=True)
class _Verdict:
    """Why a participant that could not be told was removed, for when it tries to resume."""

    code: int
    identity: str
    resume_key: str
    until: float


@dataclass(eq=False)
class _Participant:
    sid: str
    identity: str
    room: _Room
    resume_key: str
    notify_warnings: frozenset[str]
    ws: ServerConnection | None = None
    tracks: dict[str, _Track] = field(default_factory=dict)
    # the track names offered on the current connection: a second offer is a duplicate (53304)
    offered: set[str] = field(default_factory=set)
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    # (publisher identity, track name) it is not to be subscribed to: subscription rules
    unsubscribed: set[tuple[str, str]] = field(default_factory=set)
    switched_off: set[str] = field(default_factory=set)  # track sids not forwarded to it
    expiry: asyncio.TimerHandle | None = None

    def info(self) -> ParticipantInfo:
        tracks = tuple(t.info() for t in self.tracks.values() if t.announced)
        return ParticipantInfo(sid=self.sid, identity=self.identity,
                               reconnecting=self.ws is None, tracks=tracks)


@dataclass(eq=False)
class _Room:
    name: str
    sid: str
    ad_hoc: bool = False
    participants: dict[str, _Participant] = field(default_factory=dict)


_FINGERPRINT = re.compile(r"(a=fingerprint:\S+ )([0-9A-Fa-f:]+)")


class RoomServer:
    """A room service on WebSocket signaling and aiortc media (asyncio only).

    Args:
        secret: the key access tokens are signed with (32 bytes or more).
        host: the address to listen on (loopback by default).
        port: the port; 0 picks a free one (see :attr:`url`).
        max_participants: per room; one more is refused with 53105.
        max_publications: tracks one participant may publish at once; one more is refused
            with 53203.
        ad_hoc_rooms: create rooms on first join; when False, unknown rooms are refused (53106).
        rooms: rooms that exist from the start.
        reconnect_window: seconds an interrupted participant is held for it to resume.
        heartbeat_timeout: seconds of silence after which a participant is interrupted.
        media_timeout: seconds without frames on a published track before
            ``recording-media-lost`` (30 in the guide).
        join_deadline: seconds a connection has, in all, to join or resume; then it is closed
            (pings do not extend it).
        max_connections, max_connections_per_address: open signaling connections at once, in
            all and from one IP address; one more is told ``problem`` and closed.
        rtc_configuration: for every peer connection; no ICE servers by default.

    Raises:
        ValueError: ``secret`` is shorter than 32 bytes.
    """

    def __init__(self, secret: str, *, host: str = "127.0.0.1", port: int = 0,
                 max_participants: int = 50, max_publications: int = MAX_PUBLICATIONS,
                 ad_hoc_rooms: bool = True,
                 rooms: Iterable[str] = (), reconnect_window: float = 30.0,
                 heartbeat_timeout: float = 1.0, media_timeout: float = 30.0,
                 join_deadline: float = 10.0, max_connections: int = 1000,
                 max_connections_per_address: int = 50,
                 rtc_configuration: RTCConfiguration | None = None) -> None:
        check_secret(secret)
        self.secret = secret
        self.host = host
        self.port = port
        self.max_participants = max_participants
        self.max_publications = max_publications
        self.ad_hoc_rooms = ad_hoc_rooms
        self.reconnect_window = reconnect_window
        self.heartbeat_timeout = heartbeat_timeout
        self.media_timeout = media_timeout
        self.join_deadline = join_deadline
        self.max_connections = max_connections
        self.max_connections_per_address = max_connections_per_address
        self.rtc_configuration = rtc_configuration or local_rtc_configuration()
        self.stats = ServerStats()
        self._open: dict[str, int] = {}  # IP address -> open signaling connections
        self._rooms: dict[str, _Room] = {}
        self._failures: dict[str, list[int]] = {}
        self._publish_failures: dict[str, list[PublishErrorCode]] = {}
        self._broken_dtls: dict[str, int] = {}  # identity -> subscription offers to spoil
        self._verdicts: dict[str, _Verdict] = {}
        self._cut: dict[str, float] = {}  # participant sid -> until when its resumes fail
        self._pcs: set[RTCPeerConnection] = set()
        self._serial = itertools.count(1)
        self._offer_ids = itertools.count(1)
        self._relay = MediaRelay()
        # Closing a peer connection while another task gathers its candidates leaks the sockets
        # made after the close: negotiations and closes take turns.
        self._negotiating = anyio.Lock()
        self._server: Server | None = None
        self._tasks: anyio.abc.TaskGroup | None = None
        for name in rooms:
            self.create_room(name)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``ws://host:port`` of the running server.

        Raises:
            RuntimeError: the server is not running.
        """
        if self._server is None:
            raise RuntimeError("the server is not running; use 'async with RoomServer(...)'")
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://{self.host}:{port}"

    async def __aenter__(self) -> Self:
        tasks = anyio.create_task_group()
        await tasks.__aenter__()
        self._tasks = tasks
        try:
            self._server = await serve(self._connection, self.host, self.port,
                                       max_size=MAX_MESSAGE_BYTES, ping_interval=None,
                                       close_timeout=1)
        except BaseException:
            tasks.cancel_scope.cancel()
            await tasks.__aexit__(None, None, None)
            raise
        _log.info("server_started", url=self.url)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool | None:
        with anyio.CancelScope(shield=True):
            await self._shut_down()
        tasks, self._tasks = self._tasks, None
        if tasks is None:
            return None
        tasks.cancel_scope.cancel()
        return await tasks.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        """Stop listening, close every connection and peer connection. Idempotent."""
        await self.__aexit__(None, None, None)

    async def _shut_down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for room in self._rooms.values():
            for participant in list(room.participants.values()):
                if participant.expiry is not None:
                    participant.expiry.cancel()
            room.participants.clear()
        self._rooms = {name: room for name, room in self._rooms.items() if not room.ad_hoc}
        for pc in list(self._pcs):  # every peer connection ever made and not yet closed
            await self._close_pc(pc)

    # -- administration ----------------------------------------------------------------------

    def create_room(self, name: str) -> None:
        """Create a room (needed before joining when ad-hoc rooms are off)."""
        if name not in self._rooms:
            self._rooms[name] = _Room(name, self._sid("RM"))

    def identities(self, room: str) -> list[str]:
        """Identities in ``room`` (interrupted ones included), in the order they joined."""
        found = self._rooms.get(room)
        return [p.identity for p in found.participants.values()] if found else []

    def frames_from(self, identity: str, track_name: str) -> int:
        """Frames the server has received on ``identity``'s published track ``track_name``
        (across its reconnections); 0 if there is no such track."""
        try:
            track = self._find(identity).tracks.get(track_name)
        except LookupError:
            return 0
        return track.frames if track is not None else 0

    def track_sid(self, identity: str, track_name: str) -> str:
        """The sid of ``identity``'s published track ``track_name``.

        Raises:
            LookupError: no such participant or track.
        """
        return self._find_track(identity, track_name).sid

    @property
    def rooms(self) -> list[str]:
        """The rooms that exist: those created, and ad-hoc ones while someone is in them."""
        return list(self._rooms)

    @property
    def open_peer_connections(self) -> int:
        """Peer connections made and not yet closed (0 once everyone has left)."""
        return len(self._pcs)

    def expire_session(self, identity: str) -> None:
        """End ``identity``'s session (53002): it is told, disconnected and removed, at once
        (a synchronous call, like every fault of both room services).

        Raises:
            LookupError: no such participant is connected.
            RuntimeError: the server is not running.
        """
        participant, tasks = self._running(identity)

        async def expire() -> None:
            await self._send(participant, Disconnected(code=53002))
            await self._remove(participant, verdict=53002)

        tasks.start_soon(expire)

    def fail_next_joins(self, identity: str, code: int, times: int = 1) -> None:
        """The next ``times`` joins by ``identity`` are refused with connection error ``code``
        (53000, 53006, ...), as a flaky or busy service would.

        Raises:
            ValueError: ``code`` is not a connection error (phase "connect").
        """
        if not any(entry.phase == "connect" for entry in catalog.by_code(code)):
            raise ValueError(f"{code} is not a connection error")
        self._failures.setdefault(identity, []).extend([code] * times)

    def fail_next_subscriptions(self, identity: str, times: int = 1) -> None:
        """The next ``times`` subscriptions of ``identity`` fail with 53407: their offers carry
        a certificate fingerprint that is not the server's, so ICE connects and then the
        subscriber's DTLS handshake fails, as when something on the path alters the media
        traffic."""
        self._broken_dtls[identity] = self._broken_dtls.get(identity, 0) + times

    def fail_next_publications(self, identity: str, code: int, times: int = 1) -> None:
        """The next ``times`` publications by ``identity`` are refused with ``code`` (a code
        a publication can be refused with: 53125, 53203, 53300-53305).

        Raises:
            ValueError: ``code`` is not one of those.
        """
        self._publish_failures.setdefault(identity, []).extend(
            [publish_error_code(code)] * times)

    def lose_media(self, identity: str, track_name: str, *, duration: float | None = None) -> None:
        """Stop the media of ``identity``'s published track ``track_name`` for ``duration`` s
        (``None``: until :meth:`restore_media`), as a network that drops it would: the server
        takes none of its frames and forwards none. After ``media_timeout`` s the publisher
        gets ``recording-media-lost`` (if it asked for it), cleared when media flows again.

        Raises:
            LookupError: no such participant or track.
        """
        track = self._find_track(identity, track_name)
        track.lost_until = math.inf if duration is None else time.monotonic() + duration
        self._forward_all(track)
        if duration is not None and self._tasks is not None:
            async def resume() -> None:
                await anyio.sleep(duration)
                self._forward_all(track)

            self._tasks.start_soon(resume)

    def restore_media(self, identity: str, track_name: str) -> None:
        """End a :meth:`lose_media` loss now.

        Raises:
            LookupError: no such participant or track.
        """
        track = self._find_track(identity, track_name)
        track.lost_until = 0.0
        self._forward_all(track)

    def unsubscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        """Do not subscribe ``subscriber`` to ``publisher``'s track ``track_name`` (published
        now or later), as a subscription rule would: a current subscription is closed and it
        is told ``unsubscribed``; it is not offered the track (not after a resume either) until
        :meth:`subscribe`.

        Raises:
            LookupError: ``subscriber`` is not connected.
            RuntimeError: the server is not running.
        """
        participant, tasks = self._running(subscriber)
        participant.unsubscribed.add((publisher, track_name))
        track = self._published(participant, publisher, track_name)
        if track is None:
            return

        async def unsubscribe() -> None:
            subscription = participant.subscriptions.pop(track.sid, None)
            if subscription is not None:
                await self._close_pc(subscription.pc)
            await self._send(participant, TrackNotice(change="unsubscribed", track=track.info()))

        tasks.start_soon(unsubscribe)

    def subscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        """Lift an :meth:`unsubscribe` rule, and offer ``subscriber`` that track now if it is
        published (after a subscription that failed for good, say).

        Raises:
            LookupError: ``subscriber`` is not connected.
            RuntimeError: the server is not running.
        """
        participant, tasks = self._running(subscriber)
        participant.unsubscribed.discard((publisher, track_name))
        track = self._published(participant, publisher, track_name)
        if track is not None:
            tasks.start_soon(self._subscribe, participant, track)

    def switch_off(self, subscriber: str, track_sid: str, *, on: bool = False) -> None:
        """Stop (or, with ``on``, resume) forwarding track ``track_sid`` to ``subscriber``, as
        a bandwidth policy would; it is told ``switched_off`` (``switched_on``). The
        subscription itself stays.

        Raises:
            LookupError: no such participant or track.
            RuntimeError: the server is not running.
        """
        participant, tasks = self._running(subscriber)
        track = self._track(participant.room, track_sid)
        if track is None or track.publisher is participant:
            raise LookupError(f"no track {track_sid!r} of another participant in "
                              f"{subscriber!r}'s room")
        if on:
            participant.switched_off.discard(track.sid)
        else:
            participant.switched_off.add(track.sid)
        subscription = participant.subscriptions.get(track.sid)
        if subscription is not None:
            self._forward(participant, track, subscription)
        tasks.start_soon(self._send, participant, TrackNotice(
            change="switched_on" if on else "switched_off", track=track.info()))

    def drop_signaling(self, identity: str, *, duration: float | None = 0.0) -> None:
        """Cut ``identity``'s signaling connection now, as a network fault would, and turn its
        attempts to come back away for ``duration`` seconds (``None``: until
        :meth:`restore_connection`). It resumes if that is within its reconnect window.

        Raises:
            LookupError: no such participant is connected.
        """
        participant = self._find(identity)
        self._cut[participant.sid] = math.inf if duration is None else time.monotonic() + duration
        if participant.ws is not None:
            participant.ws.transport.abort()

    def _find_track(self, identity: str, track_name: str) -> _Track:
        track = self._find(identity).tracks.get(track_name)
        if track is None:
            raise LookupError(f"{identity!r} publishes no track {track_name!r}")
        return track

    def _running(self, identity: str) -> tuple[_Participant, anyio.abc.TaskGroup]:
        """``identity``'s participant (``LookupError`` if none), and the task group faults
        run in (``RuntimeError`` if the server is not running)."""
        participant = self._find(identity)
        if self._tasks is None:
            raise RuntimeError("the server is not running")
        return participant, self._tasks

    @staticmethod
    def _published(subscriber: _Participant, publisher: str, track_name: str) -> _Track | None:
        other = next((p for p in subscriber.room.participants.values()
                      if p.identity == publisher and p is not subscriber), None)
        return other.tracks.get(track_name) if other is not None else None

    def _forward(self, subscriber: _Participant, track: _Track,
                 subscription: _Subscription) -> None:
        """Forward the track's frames on the subscription unless it is switched off or its
        media is lost."""
        if subscription.sender is not None:
            on = track.sid not in subscriber.switched_off and not track.lost
            subscription.sender.replaceTrack(subscription.feed if on else None)

    def _forward_all(self, track: _Track) -> None:
        for other in list(track.publisher.room.participants.values()):
            subscription = other.subscriptions.get(track.sid)
            if subscription is not None:
                self._forward(other, track, subscription)

    def restore_connection(self, identity: str) -> None:
        """Let ``identity`` come back now (ends a :meth:`drop_signaling` outage).

        Raises:
            LookupError: no such participant is connected.
        """
        self._cut.pop(self._find(identity).sid, None)

    # -- connections -------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        self.stats.connections += 1
        address = str(ws.remote_address[0]) if ws.remote_address else "?"
        if (sum(self._open.values()) >= self.max_connections
                or self._open.get(address, 0) >= self.max_connections_per_address):
            self.stats.turned_away += 1
            _log.warning("connection_refused", address=address, open=self._open.get(address, 0))
            with contextlib.suppress(ConnectionClosed):
                await ws.send(Problem(message="too many connections; try again later")
                              .model_dump_json())
            ws.transport.abort()
            return
        self._open[address] = self._open.get(address, 0) + 1
        try:
            await self._serve_connection(ws)
        finally:
            self._open[address] -= 1
            if not self._open[address]:
                del self._open[address]

    async def _serve_connection(self, ws: ServerConnection) -> None:
        participant: _Participant | None = None
        join_by = time.monotonic() + self.join_deadline
        try:
            while True:
                try:
                    wait = (self.heartbeat_timeout if participant
                            else max(0.0, join_by - time.monotonic()))
                    with anyio.fail_after(wait):
                        raw = await ws.recv()
                except TimeoutError:
                    if participant is None:
                        _log.info("join_deadline_passed", deadline=self.join_deadline)
                    else:
                        _log.info("heartbeat_lost", identity=participant.identity)
                    break
                try:
                    message = client_messages.validate_json(raw)
                except ValidationError as exc:
                    self.stats.problems += 1
                    problem = exc.errors(include_url=False, include_input=False)[0]
                    await ws.send(Problem(message=f"invalid message: {problem['msg']}")
                                  .model_dump_json())
                    continue
                if participant is None or participant.ws is not ws:
                    if participant is not None:
                        break  # this connection was superseded by a resume
                    if isinstance(message, Join | Resume):
                        participant = await self._admit(ws, message)
                    elif isinstance(message, Ping):
                        await ws.send(Pong(n=message.n).model_dump_json())
                    else:
                        await ws.send(Problem(message="join first").model_dump_json())
                    continue
                if isinstance(message, Leave):
                    await self._remove(participant)
                    participant = None
                    break
                try:
                    await self._handle(participant, message)
                except (InvalidStateError, InvalidAccessError, ValueError) as exc:
                    # A stale answer (its offer was replaced meanwhile) or a bad SDP.
                    self.stats.problems += 1
                    _log.warning("message_failed", type=message.type, detail=str(exc))
                    await ws.send(Problem(message=f"{message.type} failed: {exc}")
                                  .model_dump_json())
        except ConnectionClosed:
            pass
        finally:
            if participant is not None and participant.ws is ws:
                await self._interrupt(participant)
            ws.transport.abort()

    async def _admit(self, ws: ServerConnection, message: Join | Resume) -> _Participant | None:
        try:
            grant = verify_access_token(message.token, self.secret, room=message.room)
        except AccessTokenError as exc:
            self.stats.refused += 1
            _log.info("join_refused", code=exc.code, reason=exc.reason)
            await ws.send(Refused(code=exc.code or 20101, message=str(exc)).model_dump_json())
            return None
        if isinstance(message, Resume):
            if self._cut.get(message.participant_sid, 0.0) > time.monotonic():
                ws.transport.abort()  # an outage: the client does not get through
                return None
            self._cut.pop(message.participant_sid, None)
            return await self._resume(ws, message, grant.identity)
        code = self._join_failure(grant.room, grant.identity)
        if code is not None:
            self.stats.refused += 1
            _log.info("join_refused", code=code)
            await ws.send(Refused(code=code, message=f"join refused: {code}").model_dump_json())
            return None
        existing = self._rooms.get(grant.room)
        older = next((p for p in existing.participants.values()
                      if p.identity == grant.identity), None) if existing else None
        if older is not None:
            await self._send(older, Disconnected(code=53205))
            await self._remove(older, verdict=53205)  # which may delete the emptied room
        room = self._rooms.get(grant.room)
        if room is None:
            room = self._rooms[grant.room] = _Room(grant.room, self._sid("RM"), ad_hoc=True)
        joined = _Participant(self._sid("PA"), grant.identity, room,
                              secrets.token_urlsafe(16), frozenset(message.notify_warnings), ws)
        others = [p.info() for p in room.participants.values()]
        room.participants[joined.sid] = joined
        try:
            await ws.send(Joined(room_sid=room.sid, participant_sid=joined.sid,
                                 resume_key=joined.resume_key, participants=tuple(others))
                          .model_dump_json())
            await self._tell_others(joined, ParticipantNotice(change="connected",
                                                              participant=joined.info()))
            await self._subscribe_to_others(joined)
        except BaseException:  # half joined: nobody may be left holding a ghost
            with anyio.CancelScope(shield=True):
                await self._remove(joined)
            raise
        self.stats.joined += 1
        _log.info("joined", room=room.name, identity=joined.identity, sid=joined.sid)
        return joined

    def _join_failure(self, room_name: str, identity: str) -> int | None:
        scripted = self._failures.get(identity)
        if scripted:
            return scripted.pop(0)
        refused = join_refusal(room_name, identity)
        if refused is not None:
            return refused
        room = self._rooms.get(room_name)
        if room is None:
            return None if self.ad_hoc_rooms else 53106
        already = any(p.identity == identity for p in room.participants.values())
        if len(room.participants) >= self.max_participants and not already:
            return 53105
        return None

    async def _resume(self, ws: ServerConnection, message: Resume,
                      identity: str) -> _Participant | None:
        room = self._rooms.get(message.room)
        participant = room.participants.get(message.participant_sid) if room else None
        if (participant is None or participant.identity != identity
                or not secrets.compare_digest(participant.resume_key, message.resume_key)):
            code = self._verdict_for(message, identity)
            await ws.send(Refused(code=code, message="the session is gone").model_dump_json())
            return None
        old = participant.ws
        if old is not None:  # the client noticed the loss before the server did
            old.transport.abort()
        else:
            await self._tell_others(participant, ParticipantNotice(
                change="reconnected", participant=participant.info()))
        if participant.expiry is not None:
            participant.expiry.cancel()
            participant.expiry = None
        await self._close_media(participant)
        participant.ws = ws
        participant.offered.clear()  # the client offers its publications again
        self.stats.resumed += 1
        _log.info("resumed", identity=identity, sid=participant.sid)
        others = tuple(p.info() for p in participant.room.participants.values()
                       if p is not participant)
        await ws.send(Resumed(participants=others).model_dump_json())
        await self._subscribe_to_others(participant)
        return participant

    def _verdict_for(self, message: Resume, identity: str) -> int:
        """What a participant resuming a session that is gone is told: the verdict given while
        it was away (53002, 53205), or 53001."""
        verdict = self._verdicts.pop(message.participant_sid, None)
        if (verdict is not None and verdict.identity == identity
                and verdict.until > time.monotonic()
                and secrets.compare_digest(verdict.resume_key, message.resume_key)):
            return verdict.code
        return 53001

    async def _handle(self, participant: _Participant, message: BaseModel) -> None:
        if isinstance(message, Ping):
            await self._send(participant, Pong(n=message.n))
        elif isinstance(message, Publish):
            await self._publish(participant, message)
        elif isinstance(message, Unpublish):
            participant.offered.discard(message.name)
            track = participant.tracks.pop(message.name, None)
            if track is not None:
                await self._retract(track)
        elif isinstance(message, Answer):
            subscription = participant.subscriptions.get(message.track_sid)
            if subscription is None or subscription.offer_id != message.offer_id:
                _log.info("stale_answer", track=message.track_sid, offer=message.offer_id)
                return  # its offer was replaced (or its track is gone) meanwhile
            await subscription.pc.setRemoteDescription(
                RTCSessionDescription(message.sdp, "answer"))
        elif isinstance(message, Resubscribe):
            track = self._track(participant.room, message.track_sid)
            if track is not None and track.publisher is not participant:
                await self._subscribe(participant, track)
        else:
            await self._send(participant, Problem(message=f"unexpected {message}"))

    # -- media -------------------------------------------------------------------------------

    async def _publish(self, participant: _Participant, message: Publish) -> None:
        # A track it published before a resume is offered again, and is not one more; nor
        # is one offered again because its connection gave up (``renew``).
        refused: PublishErrorCode | None = publication_refusal(
            message.name, duplicate=(message.name in participant.offered
                                     and not (message.renew
                                              and message.name in participant.tracks)),
            full=(message.name not in participant.tracks
                  and len(participant.tracks) >= self.max_publications))
        scripted = self._publish_failures.get(participant.identity)
        if refused is None and scripted and message.name not in participant.tracks:
            refused = scripted.pop(0)
        if refused is not None:
            _log.info("publish_refused", identity=participant.identity, code=refused)
            await self._send(participant, PublishRefused(
                name=message.name, code=refused, message=f"publication refused: {refused}"))
            return
        participant.offered.add(message.name)
        track = participant.tracks.get(message.name)
        announce = track is None
        if track is None:
            track = _Track(self._sid("MT"), message.name, message.kind, participant)
            participant.tracks[message.name] = track
        elif track.pc is not None:  # published again (after a resume): a new connection
            old, track.pc = track.pc, None
            await self._close_pc(old)
        pc = track.pc = self._new_pc()
        received: list[MediaStreamTrack] = []
        pc.on("track", received.append)

        async def discard() -> None:
            if track.pc is pc:
                track.pc = None
            await self._close_pc(pc)

        try:
            async with self._negotiating:
                await pc.setRemoteDescription(RTCSessionDescription(message.sdp, "offer"))
                await set_local_description(pc, await pc.createAnswer())
        except BaseException:  # a bad offer, or cancelled: this connection serves nobody
            participant.offered.discard(message.name)  # a better offer may follow
            if announce and participant.tracks.get(message.name) is track:
                del participant.tracks[message.name]  # never announced: forget it
            await discard()
            raise
        if not (self._held(participant) and participant.tracks.get(message.name) is track
                and track.pc is pc):
            await discard()  # left, unpublished or published again meanwhile
            return
        if not received:
            participant.offered.discard(message.name)
            await discard()
            if announce:  # nobody has heard of it: forget it
                del participant.tracks[message.name]
            await self._send(participant, Problem(message=f"the offer for {message.name!r} "
                                                  "carries no track"))
            return
        track.source = received[0]
        track.last_frame = time.monotonic()
        self._watch(track)
        await self._send(participant, Published(name=track.name, kind=track.kind, sid=track.sid,
                                                sdp=pc.localDescription.sdp))
        if announce:
            # Set and told in one step: whoever joins later finds it in the room instead.
            track.announced = True
            await self._tell_others(participant, TrackNotice(change="published",
                                                             track=track.info()))
        for other in list(participant.room.participants.values()):
            if other is not participant and other.ws is not None:
                await self._subscribe(other, track, replace=not announce)

    async def _subscribe(self, subscriber: _Participant, track: _Track,
                         *, replace: bool = True) -> None:
        """Offer ``track`` to ``subscriber`` on a new peer connection; with ``replace`` False,
        keep a subscription it already has."""
        if (track.source is None or not track.announced or subscriber.ws is None
                or (track.publisher.identity, track.name) in subscriber.unsubscribed):
            return
        if not replace and track.sid in subscriber.subscriptions:
            return
        # Claimed before any await: a concurrent offer for the same track replaces this one,
        # and the answer to a replaced offer is recognised by its offer id and ignored.
        old = subscriber.subscriptions.pop(track.sid, None)
        subscription = _Subscription(self._new_pc(), next(self._offer_ids))
        subscriber.subscriptions[track.sid] = subscription
        pc = subscription.pc
        if old is not None:
            await self._close_pc(old.pc)

        def current() -> bool:
            return (subscriber.subscriptions.get(track.sid) is subscription
                    and self._held(subscriber) and subscriber.ws is not None
                    and track.publisher.tracks.get(track.name) is track
                    and track.source is not None)

        async def discard() -> None:
            if subscriber.subscriptions.get(track.sid) is subscription:
                del subscriber.subscriptions[track.sid]
            await self._close_pc(pc)

        try:
            async with self._negotiating:
                if current():
                    assert track.source is not None
                    subscription.feed = self._relay.subscribe(track.source, buffered=False)
                    subscription.sender = pc.addTrack(subscription.feed)
                    self._forward(subscriber, track, subscription)
                    await set_local_description(pc, await pc.createOffer())
        except BaseException:
            await discard()
            raise
        if not current():  # replaced, left or unpublished meanwhile
            await discard()
            return
        sdp = pc.localDescription.sdp
        if self._broken_dtls.get(subscriber.identity, 0) > 0:
            self._broken_dtls[subscriber.identity] -= 1
            sdp = _FINGERPRINT.sub(lambda m: m[1] + re.sub("[0-9A-F]", "0", m[2]), sdp)
        await self._send(subscriber, Offer(track=track.info(), offer_id=subscription.offer_id,
                                           sdp=sdp))

    async def _subscribe_to_others(self, subscriber: _Participant) -> None:
        """Offer ``subscriber`` every track the others in its room publish (keeping any
        subscription a concurrent publication has already offered it)."""
        for other in list(subscriber.room.participants.values()):
            if other is not subscriber:
                for track in list(other.tracks.values()):
                    await self._subscribe(subscriber, track, replace=False)

    def _watch(self, track: _Track) -> None:
        """Read the track's frames: the relay needs a reader, and the watchdog its times."""
        if track.watch is not None:
            track.watch.cancel()
        scope = track.watch = anyio.CancelScope()
        source = track.source
        assert source is not None
        assert self._tasks is not None
        reader = self._relay.subscribe(source, buffered=False)

        async def read() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    await reader.recv()
                    if track.lost:
                        continue  # dropped on the way, as far as anyone can tell
                    track.last_frame = time.monotonic()
                    track.frames += 1
                    if track.warned:
                        track.warned = False
                        await self._warn(track, cleared=True)

        async def watchdog() -> None:
            restarted = 0.0
            while True:
                await anyio.sleep(min(self.media_timeout / 4, 0.25))
                now = time.monotonic()
                silent = now - track.last_frame
                if silent >= self.media_timeout and not track.warned:
                    track.warned = True
                    await self._warn(track, cleared=False)
                if (silent >= VIDEO_STALLED_AFTER and now - restarted >= VIDEO_STALLED_AFTER
                        and track.kind == "video" and track.pc is not None):
                    # Frames held behind packets an outage lost, or none coming: either way
                    # the next ones get through (and the publisher sends a keyframe).
                    restarted = now
                    await restart_video_reception(track.pc)

        async def watch() -> None:
            with scope:
                async with anyio.create_task_group() as both:
                    both.start_soon(read)
                    both.start_soon(watchdog)

        self._tasks.start_soon(watch)

    async def _warn(self, track: _Track, *, cleared: bool) -> None:
        publisher = track.publisher
        if MEDIA_LOST in publisher.notify_warnings and publisher.tracks.get(track.name) is track:
            _log.info("media_warning", track=track.sid, cleared=cleared)
            await self._send(publisher, WarningNotice(name=track.name, kind=track.kind,
                                                      sid=track.sid, warning=MEDIA_LOST,
                                                      cleared=cleared))

    async def _retract(self, track: _Track) -> None:
        if track.watch is not None:
            track.watch.cancel()
        if track.pc is not None:
            await self._close_pc(track.pc)
        publisher = track.publisher
        for other in list(publisher.room.participants.values()):
            subscription = other.subscriptions.pop(track.sid, None)
            if subscription is not None:
                await self._close_pc(subscription.pc)
            if other is not publisher:
                await self._send(other, TrackNotice(change="unpublished", track=track.info()))

    async def _close_media(self, participant: _Participant) -> None:
        """Close the subscriptions of ``participant`` (its publications stay, to be renewed)."""
        subscriptions = list(participant.subscriptions.values())
        participant.subscriptions.clear()
        for subscription in subscriptions:
            await self._close_pc(subscription.pc)

    def _new_pc(self) -> RTCPeerConnection:
        """A peer connection, registered until :meth:`_close_pc` (shutting down closes all)."""
        pc = RTCPeerConnection(self.rtc_configuration)
        self._pcs.add(pc)
        return pc

    async def _close_pc(self, pc: RTCPeerConnection) -> None:
        """Close ``pc`` to the end: a close cut short by a cancellation leaves sockets open."""
        self._pcs.discard(pc)
        with anyio.CancelScope(shield=True):
            async with self._negotiating:
                await close_peer_connection(pc, end_unstarted_tracks=True)

    # -- leaving -----------------------------------------------------------------------------

    async def _interrupt(self, participant: _Participant) -> None:
        participant.ws = None
        self.stats.interrupted += 1
        _log.info("interrupted", identity=participant.identity, sid=participant.sid)
        await self._close_media(participant)
        await self._tell_others(participant, ParticipantNotice(change="reconnecting",
                                                               participant=participant.info()))
        tasks = self._tasks

        def expire() -> None:
            participant.expiry = None
            if participant.ws is None and tasks is not None:
                tasks.start_soon(self._remove, participant)

        participant.expiry = asyncio.get_running_loop().call_later(self.reconnect_window, expire)

    async def _remove(self, participant: _Participant, *, verdict: int | None = None) -> None:
        """Remove ``participant``; one that could not hear ``verdict`` (53002, 53205) because
        its signaling was down is told when it tries to resume, within the reconnect window."""
        room = participant.room
        if room.participants.pop(participant.sid, None) is None:
            return
        if verdict is not None and participant.ws is None:
            now = time.monotonic()
            self._verdicts = {sid: v for sid, v in self._verdicts.items() if v.until > now}
            self._verdicts[participant.sid] = _Verdict(
                verdict, participant.identity, participant.resume_key,
                now + self.reconnect_window)
        if not room.participants and room.ad_hoc and self._rooms.get(room.name) is room:
            del self._rooms[room.name]  # an empty ad-hoc room is gone; joining makes it anew
        if participant.expiry is not None:
            participant.expiry.cancel()
        ws, participant.ws = participant.ws, None
        for track in list(participant.tracks.values()):
            await self._retract(track)
        participant.tracks.clear()
        await self._close_media(participant)
        if ws is not None:
            ws.transport.abort()
        _log.info("left", identity=participant.identity, sid=participant.sid)
        await self._tell_others(participant, ParticipantNotice(change="disconnected",
                                                               participant=participant.info()))

    # -- helpers -----------------------------------------------------------------------------

    def _sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._serial):04d}"

    def _held(self, participant: _Participant) -> bool:
        """Whether ``participant`` is still in its room (connected or interrupted)."""
        return participant.room.participants.get(participant.sid) is participant

    @staticmethod
    def _track(room: _Room, sid: str) -> _Track | None:
        for participant in room.participants.values():
            for track in participant.tracks.values():
                if track.sid == sid:
                    return track
        return None

    def _find(self, identity: str) -> _Participant:
        for room in self._rooms.values():
            for participant in room.participants.values():
                if participant.identity == identity:
                    return participant
        raise LookupError(f"no participant {identity!r} is connected")

    async def _tell_others(self, participant: _Participant, message: BaseModel) -> None:
        for other in list(participant.room.participants.values()):
            if other is not participant:
                await self._send(other, message)

    async def _send(self, participant: _Participant, message: BaseModel) -> None:
        ws = participant.ws
        if ws is None:
            return  # interrupted: it hears about the room again when it resumes
        with contextlib.suppress(ConnectionClosed):
            await ws.send(message.model_dump_json())


async def serve_forever(server: RoomServer, on_ready: Callable[[str], object]) -> None:
    """Run ``server`` until cancelled (what ``rtcstate serve`` does); ``on_ready(url)`` once it
    listens."""
    async with server:
        on_ready(server.url)
        await anyio.sleep_forever()
