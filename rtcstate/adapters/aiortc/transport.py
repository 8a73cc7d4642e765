"""The real WebRTC transport: a client of :class:`~rtcstate.server.room_server.RoomServer`.

::

    transport = AiortcTransport(server.url, token)
    async with rtcstate.connect(transport, ConnectOptions(room_name="standup", identity="bot")):
        ...

aiortc reports nothing while a link is down and closes its peer connections only after about
half a minute, with no ICE restart, so the transport watches for itself: a heartbeat goes to
the server every ``heartbeat_interval`` seconds and anything heard from it counts as an answer;
``heartbeat_timeout`` seconds of silence mean the link is lost (``room.reconnecting``, 53001).
It then tries to resume every ``retry_interval`` seconds; once back (``room.reconnected``) it
publishes its tracks again on new peer connections and the server offers new subscriptions.
If the server no longer holds the session the room is ``disconnected`` (53001); if the room's
reconnect window runs out first, the Room machine ends it (53001) and the transport stops.

Backend exceptions (aiortc, PyAV, websockets) are converted at this boundary by
:func:`map_aiortc_errors` into :class:`~rtcstate.errors.TransportError`, raised ``from`` the
original. aiortc runs on asyncio only: entering the transport under trio raises a RuntimeError.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import anyio
import anyio.abc
import av.error
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.exceptions import InvalidAccessError, InvalidStateError
from aiortc.mediastreams import MediaStreamError
from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from rtcstate.adapters.aiortc.client import AiortcClient
from rtcstate.adapters.aiortc.media import synthetic_track
from rtcstate.errors import AccessTokenError, TransportError, shorten
from rtcstate.logs import get_logger
from rtcstate.models.base import Event, TrackKind
from rtcstate.models.local_track import (
    LocalTrackPublished,
    LocalTrackPublishFailed,
    LocalTrackWarning,
    LocalTrackWarningsCleared,
)
from rtcstate.models.options import ConnectOptions
from rtcstate.models.participant import (
    ParticipantConnected,
    ParticipantDisconnected,
    ParticipantReconnected,
    ParticipantReconnecting,
)
from rtcstate.models.remote_track import (
    RemoteTrackPublished,
    RemoteTrackSubscribed,
    RemoteTrackSubscriptionFailed,
    RemoteTrackSwitchedOff,
    RemoteTrackSwitchedOn,
    RemoteTrackUnpublished,
    RemoteTrackUnsubscribed,
)
from rtcstate.models.room import (
    RoomConnected,
    RoomConnectFailed,
    RoomDisconnected,
)
from rtcstate.server.protocol import (
    MAX_MESSAGE_BYTES,
    MAX_TOKEN_LENGTH,
    Answer,
    Disconnected,
    Join,
    Joined,
    Leave,
    Offer,
    ParticipantInfo,
    ParticipantNotice,
    Ping,
    Problem,
    Publish,
    Published,
    PublishRefused,
    Refused,
    Resubscribe,
    Resume,
    Resumed,
    ServerMessage,
    TrackInfo,
    TrackNotice,
    Unpublish,
    WarningNotice,
    close_peer_connection,
    local_rtc_configuration,
    server_messages,
    set_local_description,
)
from rtcstate.server.tokens import token_identity

__all__ = ["AiortcTransport", "map_aiortc_errors"]

_log = get_logger("rtcstate.aiortc")

TrackSource = Callable[[str, TrackKind], MediaStreamTrack]
"""Makes the media for a track being published: ``(track_name, kind) -> aiortc track``."""


@contextlib.contextmanager
def map_aiortc_errors() -> Iterator[None]:
    """Convert aiortc, PyAV and websockets exceptions into :class:`TransportError`.

    Raises:
        TransportError: for any backend exception, ``from`` the original.
    """
    try:
        yield
    except (InvalidStateError, InvalidAccessError, MediaStreamError) as exc:
        raise TransportError(f"aiortc: {exc or type(exc).__name__}", backend="aiortc") from exc
    except av.error.FFmpegError as exc:
        raise TransportError(f"PyAV: {exc}", backend="aiortc") from exc
    except (InvalidURI, InvalidHandshake) as exc:
        raise TransportError(f"websockets: {exc}", backend="aiortc") from exc


def _dtls_failed(pc: RTCPeerConnection) -> bool:
    """Whether ``pc`` failed in its DTLS handshake (ICE connected, then DTLS failed): 53407."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls.state == "failed" and dtls.transport.state != "failed":
            return True
    return False


async def _close_now(pc: RTCPeerConnection) -> None:
    """Close ``pc`` to the end (:func:`~rtcstate.server.protocol.close_peer_connection`)."""
    await close_peer_connection(pc)


def _with_code(cls: type[RoomConnectFailed | RoomDisconnected | LocalTrackPublishFailed],
               fields: dict[str, Any], code: int | None, fallback: int, message: str) -> Event:
    """``cls`` with ``fields``, carrying the server's ``code``, or ``fallback`` if the catalog
    has no such error for that event (the server's code is kept in the message)."""
    try:
        return cls.model_validate({**fields, "error_code": code, "message": message})
    except ValidationError:
        return cls.model_validate({**fields, "error_code": fallback,
                                   "message": f"{message} ({code})"})


class AiortcTransport(AiortcClient):
    """One local participant's connection to a :class:`RoomServer`, over real WebRTC.

    Args:
        url: the server's ``ws://`` address.
        token: an access token for the room (see
            :func:`~rtcstate.server.tokens.create_access_token`).
        source: makes the media for each published track; synthetic audio and video by
            default (use aiortc's ``MediaPlayer`` for files and devices).
        rtc_configuration: for every peer connection; no ICE servers by default, so nothing
            outside the two hosts is contacted.
        heartbeat_interval, heartbeat_timeout: seconds between heartbeats, and of silence that
            mean the link is lost.
        retry_interval: seconds between attempts to resume.
        join_timeout: seconds to wait for the server to answer a join.
        subscribe_timeout: seconds a subscription may take to connect before it is reported
            ``subscription_failed`` and asked for again (at most ``subscribe_attempts`` times).
        media_probe_interval, media_probe_misses: how the media path is watched while
            signaling is up (:class:`~rtcstate.adapters.aiortc.liveness.MediaLiveness`):
            that many probes unanswered in a row make the Room ``reconnecting`` with 53405,
            and it is ``reconnected`` as soon as one is answered again.

    Attributes:
        emitted: how many events it has put on its event stream.
        frames_received: frames received so far, per remote track sid.
        local_media: the track being sent, per local track name.
    """

    def __init__(self, url: str, token: str, *, source: TrackSource | None = None,
                 rtc_configuration: RTCConfiguration | None = None,
                 heartbeat_interval: float = 0.2, heartbeat_timeout: float = 0.6,
                 retry_interval: float = 0.25, join_timeout: float = 10.0,
                 subscribe_timeout: float = 5.0, subscribe_attempts: int = 3,
                 media_probe_interval: float = 0.5, media_probe_misses: int = 2) -> None:
        if heartbeat_timeout <= heartbeat_interval:
            raise ValueError("heartbeat_timeout must be longer than heartbeat_interval")
        super().__init__(media_probe_interval=media_probe_interval,
                         media_probe_misses=media_probe_misses)
        self.url = url
        self.token = token
        self.source: TrackSource = source or (lambda _name, kind: synthetic_track(kind))
        self.rtc_configuration = rtc_configuration or local_rtc_configuration()
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.retry_interval = retry_interval
        self.join_timeout = join_timeout
        self.subscribe_timeout = subscribe_timeout
        self.subscribe_attempts = subscribe_attempts
        self.local_media: dict[str, MediaStreamTrack] = {}
        # aiortc stops the track a sender sent once its connection closes: each connection
        # sends a relay of the local track, which outlives every connection it is sent on.
        self._relay = MediaRelay()
        self._subscribe_failures: dict[str, int] = {}
        # participant sid -> (identity, reconnecting), as told to the application
        self._view_participants: dict[str, tuple[str, bool]] = {}
        self._view_tracks: dict[str, TrackInfo] = {}
        self._session: anyio.CancelScope | None = None
        self._ws: ClientConnection | None = None
        self._options: ConnectOptions | None = None
        self._joined: Joined | None = None
        self._publishing: dict[str, TrackKind] = {}
        self._announced: set[str] = set()
        self._publishers: dict[str, RTCPeerConnection] = {}
        self._subscribers: dict[str, RTCPeerConnection] = {}
        self._subscribed: set[str] = set()
        # Closing a peer connection while it gathers candidates leaks the sockets made after
        # the close: negotiations and closes take turns.
        self._negotiating = anyio.Lock()
        self._last_heard = 0.0
        self._pings = 0

    # -- the Transport protocol --------------------------------------------------------------

    async def connect(self, options: ConnectOptions) -> None:
        """Open signaling and join; the outcome arrives as events.

        A refusal (the access token, 20101-20107; the Room name or identity; a full or unknown
        Room) is a ``room.connect_failed`` event carrying the server's code.

        Raises:
            AccessTokenError: the token is empty or too long to be one (20101), or it is for
                another identity than ``options.identity``
                (20103, reason ``identity_mismatch``): the server would seat that identity
                while the Room believed it was this one. Nothing is sent.
            anyio.ClosedResourceError: the transport was closed.
        """
        tasks = self._check_open()
        if not self.token.strip() or len(self.token) > MAX_TOKEN_LENGTH:
            raise AccessTokenError.for_code(
                20101, "the token is empty" if not self.token.strip()
                else f"the token is {len(self.token)} characters, over {MAX_TOKEN_LENGTH}")
        holder = token_identity(self.token)
        if holder is not None and holder != options.identity:
            raise AccessTokenError.for_code(
                20103, f"the token is for identity {shorten(repr(holder), 40)}, not "
                       f"{shorten(repr(options.identity), 40)}", reason="identity_mismatch")
        self._options = options
        self._leaving = False
        try:
            ws = await self._open()
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self._fail_join(options, f"cannot reach {self.url}: {exc}")
            return
        try:
            with anyio.fail_after(self.join_timeout):
                await ws.send(Join(room=options.room_name, token=self.token,
                                   notify_warnings=tuple(sorted(options.notify_warnings)))
                              .model_dump_json())
                answer = await self._next(ws)
        except (ConnectionClosed, TimeoutError) as exc:
            await ws.close()
            self._fail_join(options, f"no answer to the join: {exc}")
            return
        except BaseException:  # cancelled (the room left meanwhile): nothing may stay open
            ws.transport.abort()
            raise
        if isinstance(answer, Refused):  # the token, the names, the room: the join's end
            await ws.close()
            _log.info("join_refused", room=options.room_name, code=answer.code)
            self._emit(_with_code(RoomConnectFailed, {"room_name": options.room_name},
                                  answer.code, 53000, answer.message))
            return
        if not isinstance(answer, Joined):
            await ws.close()
            self._fail_join(options, f"unexpected answer to the join: {answer.type}")
            return
        self._joined = answer
        self._emit(RoomConnected(room_name=options.room_name, room_sid=answer.room_sid,
                                 participant_sid=answer.participant_sid))
        await self._reconcile_or_abort(ws, answer.participants)
        tasks.start_soon(self._run, ws)
        self._watch_media_of(options.room_name)

    async def publish(self, track_name: str, kind: TrackKind, media: object | None = None) -> None:
        """Publish a track on a new peer connection: ``media`` (an aiortc ``MediaStreamTrack``:
        a file through ``MediaPlayer``, a generated track, ...) or a new one from ``source``.

        Raises:
            TypeError: ``media`` is not an aiortc ``MediaStreamTrack`` of kind ``kind``.
            TransportError: aiortc could not make the offer.
            anyio.ClosedResourceError: the transport was closed.
        """
        self._check_open()
        if media is not None:
            if not isinstance(media, MediaStreamTrack) or media.kind != kind:
                raise TypeError(f"media for a {kind} track is an aiortc {kind} "
                                f"MediaStreamTrack, not {media!r}")
            old = self.local_media.pop(track_name, None)
            if old is not None and old is not media:
                old.stop()
            self.local_media[track_name] = media
        self._publishing[track_name] = kind
        ws = self._ws
        if ws is not None:
            await self._offer(ws, track_name, kind, fresh_media=media is None)

    async def unpublish(self, track_name: str) -> None:
        """Stop publishing a track: close its peer connection and stop its media."""
        self._check_open()
        await self._drop_publication(track_name)
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(Unpublish(name=track_name).model_dump_json())

    async def disconnect(self) -> None:
        """Leave the room: tell the server, close every peer connection. Idempotent."""
        self._leaving = True
        ws, self._ws = self._ws, None
        if self._session is not None:
            self._session.cancel()
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(Leave().model_dump_json())
            await ws.close()
        await self._close_media()
        for media in self.local_media.values():
            media.stop()
        self.local_media.clear()
        self._end_feeds()

    @property
    def connected(self) -> bool:
        """Whether signaling is up (joined and not interrupted)."""
        return self._ws is not None

    def _peer_connections(self) -> list[RTCPeerConnection]:
        return [*self._publishers.values(), *self._subscribers.values()]

    def _subscriptions(self) -> dict[str, RTCPeerConnection]:
        return dict(self._subscribers)

    async def _remake_media(self) -> None:
        """Offer again the publications whose connection gave up (the server renews it, and
        offers the subscribers new ones), and ask again for the subscriptions whose
        connection gave up (the server offers new ones)."""
        ws = self._ws
        if ws is None:
            return
        for name, kind in list(self._publishing.items()):
            if self._due_for_remaking(f"publication {name}", self._publishers.get(name)):
                _log.info("publication_renewed", track=name)
                await self._offer(ws, name, kind, fresh_media=False, renew=True)
        for sid, pc in list(self._subscribers.items()):
            if self._due_for_remaking(f"subscription {sid}", pc):
                _log.info("resubscribe_requested", track=sid, reason="media_path")
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(Resubscribe(track_sid=sid).model_dump_json())

    # -- the session -------------------------------------------------------------------------

    async def _run(self, ws: ClientConnection) -> None:
        """Serve one joined session: run signaling, and resume it whenever the link is lost."""
        options = self._options
        assert options is not None
        with anyio.CancelScope() as scope:
            self._session = scope
            while not self._leaving:
                self._ws = ws
                for name, kind in list(self._publishing.items()):
                    await self._offer(ws, name, kind, fresh_media=False)
                reason = await self._signal(ws)
                self._ws = None
                if reason is not None:  # the server ended the session
                    self._session_ended(reason)
                    self._emit(_with_code(RoomDisconnected, {"room_name": options.room_name},
                                          reason, 53001, "ended by the server"))
                    break
                if self._leaving:
                    break
                _log.info("signaling_lost", room=options.room_name)
                self._tell_condition("reconnecting")
                await self._close_media()
                resumed = await self._resume()
                if resumed is None:  # left meanwhile
                    break
                if isinstance(resumed, int):  # the server's verdict: 53001, 53002 or 53205
                    self._session_ended(resumed)
                    self._emit(_with_code(RoomDisconnected, {"room_name": options.room_name},
                                          resumed, 53001,
                                          "the server no longer holds the session"))
                    break
                ws, room_now = resumed
                self._tell_condition("connected")
                await self._reconcile_or_abort(ws, room_now.participants)
        self._session = None
        await self._close_media()

    async def _signal(self, ws: ClientConnection) -> int | None:
        """Heartbeat and handle messages until the link is lost (``None``) or the server ends
        the session (its catalog code)."""
        ended: list[int] = []
        self._last_heard = time.monotonic()
        async with anyio.create_task_group() as tasks:

            async def beat() -> None:
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        self._pings += 1
                        await ws.send(Ping(n=self._pings).model_dump_json())
                        await anyio.sleep(self.heartbeat_interval)
                        if time.monotonic() - self._last_heard > self.heartbeat_timeout:
                            break
                tasks.cancel_scope.cancel()

            async def listen() -> None:
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        message = await self._next(ws)
                        if isinstance(message, Disconnected):
                            ended.append(message.code)
                            break
                        await self._handle(ws, message)
                tasks.cancel_scope.cancel()

            tasks.start_soon(beat)
            tasks.start_soon(listen)
        ws.transport.abort()  # whatever is left of it: no close handshake over a dead link
        return ended[0] if ended else None

    async def _reconcile_or_abort(self, ws: ClientConnection,
                                  participants: tuple[ParticipantInfo, ...]) -> None:
        """:meth:`_reconcile` before ``ws`` is the session's (``_run`` makes it so, and a
        disconnect closes only that one): cancelled meanwhile, ``ws`` is abandoned."""
        try:
            await self._reconcile(participants)
        except BaseException:
            ws.transport.abort()
            raise

    async def _resume(self) -> tuple[ClientConnection, Resumed] | int | None:
        """Try to resume until the server answers: the new connection, or the code of its
        refusal (53001 when it no longer holds the session, or the verdict it gave meanwhile:
        53002, 53205); ``None`` if the application left first."""
        options, joined = self._options, self._joined
        assert options is not None
        assert joined is not None
        while not self._leaving:
            try:
                ws = await self._open()
            except (OSError, TimeoutError, InvalidHandshake):
                await anyio.sleep(self.retry_interval)
                continue
            try:
                with anyio.fail_after(max(self.heartbeat_timeout, 1.0)):
                    await ws.send(Resume(room=options.room_name, token=self.token,
                                         participant_sid=joined.participant_sid,
                                         resume_key=joined.resume_key).model_dump_json())
                    answer = await self._next(ws)
            except (TimeoutError, ConnectionClosed):
                ws.transport.abort()
                await anyio.sleep(self.retry_interval)
                continue
            except BaseException:  # cancelled: the application left meanwhile
                ws.transport.abort()
                raise
            if isinstance(answer, Resumed):
                return ws, answer
            ws.transport.abort()
            return answer.code if isinstance(answer, Refused) else 53001
        return None

    async def _open(self) -> ClientConnection:
        with anyio.fail_after(max(self.heartbeat_timeout, 1.0)):
            return await ws_connect(self.url, max_size=MAX_MESSAGE_BYTES, ping_interval=None,
                                    close_timeout=0.5, open_timeout=None)

    async def _next(self, ws: ClientConnection) -> ServerMessage:
        """The next server message (problems are logged and skipped)."""
        while True:
            raw = await ws.recv()
            self._last_heard = time.monotonic()
            try:
                message = server_messages.validate_json(raw)
            except ValidationError as exc:
                _log.error("bad_server_message", detail=str(exc))
                continue
            if isinstance(message, Problem):
                _log.warning("server_problem", message=message.message)
                continue
            return message

    async def _handle(self, ws: ClientConnection, message: BaseModel) -> None:
        if isinstance(message, Published):
            pc = self._publishers.get(message.name)
            if pc is None:
                return  # unpublished meanwhile
            with map_aiortc_errors():
                await pc.setRemoteDescription(RTCSessionDescription(message.sdp, "answer"))
            if message.name not in self._announced:
                self._announced.add(message.name)
                self._emit(LocalTrackPublished(track_name=message.name, kind=message.kind,
                                               track_sid=message.sid))
        elif isinstance(message, PublishRefused):
            await self._publish_refused(message)
        elif isinstance(message, Offer):
            await self._answer(ws, message)
        elif isinstance(message, ParticipantNotice):
            info = message.participant
            if message.change == "disconnected":
                self._participant_left(info.sid)
            else:
                self._participant_seen(info, reconnecting=message.change == "reconnecting")
        elif isinstance(message, TrackNotice):
            await self._track_notice(message)
        elif isinstance(message, WarningNotice):
            fields: dict[str, Any] = {"track_name": message.name, "kind": message.kind,
                      "track_sid": message.sid}
            self._emit(LocalTrackWarningsCleared(**fields) if message.cleared
                       else LocalTrackWarning(**fields, warning=message.warning))

    # -- media -------------------------------------------------------------------------------

    async def _offer(self, ws: ClientConnection, name: str, kind: TrackKind,
                     *, fresh_media: bool, renew: bool = False) -> None:
        async with self._negotiating:
            await self._offer_now(ws, name, kind, fresh_media=fresh_media, renew=renew)

    async def _offer_now(self, ws: ClientConnection, name: str, kind: TrackKind,
                         *, fresh_media: bool, renew: bool) -> None:
        if name not in self._publishing:
            return  # unpublished while this offer waited its turn
        await self._close_publisher(name)
        media = self.local_media.get(name)
        if fresh_media or media is None:
            if media is not None:
                media.stop()
            media = self.local_media[name] = self.source(name, kind)
        pc = self._new_peer_connection()
        self._publishers[name] = pc
        with map_aiortc_errors():
            pc.addTrack(self._relay.subscribe(media, buffered=False))
            await set_local_description(pc, await pc.createOffer())
        with contextlib.suppress(ConnectionClosed):
            await ws.send(Publish(name=name, kind=kind, sdp=pc.localDescription.sdp,
                                  renew=renew).model_dump_json())

    async def _publish_refused(self, refusal: PublishRefused) -> None:
        """The server refused a publication: forget it, and tell why (its catalog code)."""
        kind = await self._drop_publication(refusal.name)
        if kind is None:
            return  # unpublished meanwhile
        _log.info("publish_refused", track=refusal.name, code=refusal.code)
        self._emit(_with_code(LocalTrackPublishFailed, {"track_name": refusal.name, "kind": kind},
                              refusal.code, 53300, refusal.message))

    async def _drop_publication(self, name: str) -> TrackKind | None:
        """Forget publication ``name``: its connection closed, its media stopped. Returns its
        kind, or ``None`` if it was not being published."""
        kind = self._publishing.pop(name, None)
        self._announced.discard(name)
        async with self._negotiating:
            await self._close_publisher(name)
        media = self.local_media.pop(name, None)
        if media is not None:
            media.stop()
        return kind

    async def _answer(self, ws: ClientConnection, offer: Offer) -> None:
        info = offer.track
        old = self._subscribers.pop(info.sid, None)
        if old is not None:
            await self._close_pc(old)
        pc = self._new_peer_connection()
        self._subscribers[info.sid] = pc
        tasks = self._tasks
        assert tasks is not None
        connected = anyio.Event()

        @pc.on("track")
        def receive(track: MediaStreamTrack) -> None:
            self._received_track(info.sid, track, tasks)

        @pc.on("connectionstatechange")
        def changed() -> None:
            if self._subscribers.get(info.sid) is not pc:
                return
            if pc.connectionState == "connected":
                connected.set()
                self._subscribe_failures.pop(info.sid, None)
                if info.sid not in self._subscribed:
                    self._subscribed.add(info.sid)
                    self._emit(RemoteTrackSubscribed(**self._ids(info)))
            elif pc.connectionState == "failed":
                dtls = _dtls_failed(pc)
                tasks.start_soon(self._subscription_failed, ws, info, pc,
                                 "DTLS handshake failed" if dtls else "ICE failed",
                                 53407 if dtls else None)

        async with self._negotiating:  # not closed while it gathers candidates
            if self._subscribers.get(info.sid) is not pc:
                await _close_now(pc)
                return  # replaced or closed while it waited its turn
            with map_aiortc_errors():
                await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
                await set_local_description(pc, await pc.createAnswer())
        with contextlib.suppress(ConnectionClosed):
            await ws.send(Answer(track_sid=info.sid, offer_id=offer.offer_id,
                                 sdp=pc.localDescription.sdp).model_dump_json())

        async def deadline() -> None:
            with anyio.move_on_after(self.subscribe_timeout):
                await connected.wait()
            if not connected.is_set():
                await self._subscription_failed(ws, info, pc, "did not connect within "
                                                f"{self.subscribe_timeout} s")

        tasks.start_soon(deadline)

    async def _subscription_failed(self, ws: ClientConnection, info: TrackInfo,
                                   pc: RTCPeerConnection, why: str,
                                   code: Literal[53407] | None = None) -> None:
        """A subscription that did not connect is a ``subscription_failed`` change (carrying
        53407 when its DTLS handshake failed), then asked for again, ``subscribe_attempts``
        times at most."""
        if self._subscribers.get(info.sid) is not pc or self._ws is not ws:
            return  # replaced, unpublished or reconnecting meanwhile
        if self._media_failed:
            return  # the media path is down, not this track's: it is made anew with it
        del self._subscribers[info.sid]
        await self._close_pc(pc)
        if info.sid in self._subscribed:  # it was receiving before (a re-feed failed)
            self._subscribed.discard(info.sid)
            self._end_feed(info.sid)
            self._emit(RemoteTrackUnsubscribed(**self._ids(info)))
        failures = self._subscribe_failures[info.sid] = (
            self._subscribe_failures.get(info.sid, 0) + 1)
        if failures == 1:  # retries that fail too leave it subscription_failed
            self._emit(RemoteTrackSubscriptionFailed(**self._ids(info), error_code=code,
                                                     message=why))
        _log.warning("subscription_failed", track=info.sid, detail=why, code=code,
                     attempt=failures)
        if failures < self.subscribe_attempts:
            _log.info("resubscribe_requested", track=info.sid, attempt=failures + 1)
            with contextlib.suppress(ConnectionClosed):
                await ws.send(Resubscribe(track_sid=info.sid).model_dump_json())

    @staticmethod
    def _ids(info: TrackInfo) -> dict[str, Any]:
        return {"track_sid": info.sid, "participant_sid": info.participant_sid,
                "kind": info.kind}

    # -- the room as this participant sees it ------------------------------------------------
    # Every participant and track event goes through these, so the view is what was told, and
    # a resume (or the join) tells only the difference between the room now and that view.

    async def _reconcile(self, participants: tuple[ParticipantInfo, ...]) -> None:
        """Tell what changed between the room the server describes and what was told before."""
        present = {p.sid: p for p in participants}
        published = {t.sid for p in participants for t in p.tracks}
        for sid, track in list(self._view_tracks.items()):
            if sid not in published:
                await self._track_unpublished(track)
        for sid in list(self._view_participants):
            if sid not in present:
                self._participant_left(sid)
        for participant in participants:
            self._participant_seen(participant, reconnecting=participant.reconnecting)
            for track in participant.tracks:
                self._track_published(track)

    def _participant_seen(self, info: ParticipantInfo, *, reconnecting: bool) -> None:
        ids: dict[str, Any] = {"participant_sid": info.sid, "identity": info.identity}
        known = self._view_participants.get(info.sid)
        if known is None:
            self._emit(ParticipantConnected(**ids))
        if reconnecting != (known is not None and known[1]):
            self._emit(ParticipantReconnecting(**ids) if reconnecting
                       else ParticipantReconnected(**ids))
        self._view_participants[info.sid] = (info.identity, reconnecting)

    def _participant_left(self, sid: str) -> None:
        known = self._view_participants.pop(sid, None)
        if known is not None:
            self._emit(ParticipantDisconnected(participant_sid=sid, identity=known[0]))

    def _track_published(self, info: TrackInfo) -> None:
        if info.sid in self._view_tracks:
            return  # told already (the join's list and a notice can overlap)
        self._view_tracks[info.sid] = info
        publisher = self._view_participants.get(info.participant_sid)
        self._emit(RemoteTrackPublished(track_sid=info.sid, participant_sid=info.participant_sid,
                                        kind=info.kind, track_name=info.name,
                                        participant_identity=publisher[0] if publisher else None))

    async def _track_notice(self, message: TrackNotice) -> None:
        info = message.track
        if message.change == "published":
            self._track_published(info)
        elif message.change == "unpublished":
            await self._track_unpublished(info)
        elif message.change == "unsubscribed":
            await self._unsubscribed(info)
        elif info.sid in self._subscribed:  # switched off or on: its subscription stays
            self._emit(RemoteTrackSwitchedOn(**self._ids(info)) if message.change == "switched_on"
                       else RemoteTrackSwitchedOff(**self._ids(info)))

    async def _unsubscribed(self, info: TrackInfo) -> None:
        """The service ended this subscription (it is still published)."""
        pc = self._subscribers.pop(info.sid, None)
        if pc is not None:
            await self._close_pc(pc)
        self._subscribe_failures.pop(info.sid, None)
        if info.sid in self._subscribed:
            self._subscribed.discard(info.sid)
            self._end_feed(info.sid)
            self._emit(RemoteTrackUnsubscribed(**self._ids(info)))

    async def _track_unpublished(self, info: TrackInfo) -> None:
        if self._view_tracks.pop(info.sid, None) is None:
            return  # never told, or told already
        await self._unsubscribed(info)
        self._end_feed(info.sid)
        self._emit(RemoteTrackUnpublished(**self._ids(info)))

    async def _close_publisher(self, name: str) -> None:
        """Close a publication's connection (the caller holds the negotiation lock)."""
        pc = self._publishers.pop(name, None)
        if pc is not None:
            await _close_now(pc)

    async def _close_pc(self, pc: RTCPeerConnection) -> None:
        async with self._negotiating:
            await _close_now(pc)

    async def _close_media(self) -> None:
        """Close every peer connection (the local media tracks are kept for republishing)."""
        async with self._negotiating:
            await self._close_media_now()

    async def _close_media_now(self) -> None:
        publishers = list(self._publishers.values())
        subscribers = list(self._subscribers.values())
        self._publishers.clear()
        self._subscribers.clear()
        for pc in publishers + subscribers:
            await _close_now(pc)

    # -- helpers -----------------------------------------------------------------------------

    def _fail_join(self, options: ConnectOptions, message: str) -> None:
        _log.info("join_failed", room=options.room_name, detail=message)
        self._emit(RoomConnectFailed(room_name=options.room_name, error_code=53000,
                                     message=message))
