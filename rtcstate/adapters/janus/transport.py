"""A transport on Janus's VideoRoom: a production SFU, over its JSON API on WebSockets.

::

    transport = JanusTransport("ws://10.0.0.5:8188")
    async with rtcstate.connect(transport, ConnectOptions(room_name="standup", identity="bot")):
        ...

How rtcstate's room maps onto Janus's VideoRoom (the README's Janus section has the table):

* The local participant is one VideoRoom *publisher* whose id is its identity (the plugin runs
  with ``string_ids``); all its tracks go on one peer connection, renegotiated with
  ``configure`` when a track is published or unpublished. A track's sid is ``identity/mid``.
* Each remote track is subscribed on its own subscriber handle and peer connection
  (``streams: [{feed, mid}]``), so one failing subscription touches no other.
* Janus has no event for a lost WebSocket and aiortc reports nothing for half a minute, so the
  transport watches for itself: a ``keepalive`` every ``heartbeat_interval`` seconds, and
  ``heartbeat_timeout`` seconds without a word from Janus mean the link is lost
  (``room.reconnecting``, 53001). It then opens new sockets every ``retry_interval`` seconds
  and ``claim``\\ s its session (Janus keeps it ``reclaim_session_timeout`` seconds):
  ``room.reconnected``, and the room as it is now is told. A session Janus no longer holds
  ends the room (53001); Janus's ``timeout`` (the session expired) ends it with 53002.

Backend exceptions are converted at this boundary (:func:`map_aiortc_errors`,
:func:`map_janus_errors`) into :class:`~rtcstate.errors.TransportError`, raised ``from`` the
original. aiortc runs on asyncio only: entering the transport under trio raises a RuntimeError.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import anyio
import anyio.abc
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed

from rtcstate.adapters.aiortc.client import AiortcClient
from rtcstate.adapters.aiortc.media import synthetic_track
from rtcstate.adapters.aiortc.transport import map_aiortc_errors
from rtcstate.adapters.janus.api import JanusRequestError, JanusSession, Reply, plugin_data
from rtcstate.errors import TransportError
from rtcstate.logs import get_logger
from rtcstate.models.base import TrackKind
from rtcstate.models.local_track import (
    LocalTrackPublished,
    LocalTrackPublishFailed,
    LocalTrackWarning,
    LocalTrackWarningsCleared,
)
from rtcstate.models.options import ConnectOptions
from rtcstate.models.participant import ParticipantConnected, ParticipantDisconnected
from rtcstate.models.remote_track import (
    RemoteTrackPublished,
    RemoteTrackSubscribed,
    RemoteTrackSubscriptionFailed,
    RemoteTrackUnpublished,
    RemoteTrackUnsubscribed,
)
from rtcstate.models.room import (
    RoomConnected,
    RoomConnectFailed,
    RoomDisconnected,
)
from rtcstate.server.protocol import (
    close_peer_connection,
    local_rtc_configuration,
    set_local_description,
)

__all__ = ["JOIN_ERRORS", "PUBLISH_ERRORS", "JanusTransport"]

_log = get_logger("rtcstate.janus")

TrackSource = Callable[[str, TrackKind], MediaStreamTrack]
"""Makes the media for a track being published: ``(track_name, kind) -> aiortc track``."""

JOIN_ERRORS: dict[int, int] = {
    426: 53106,  # no such room (and rooms are not created on demand)
    429: 53104,  # missing element
    433: 53104,  # unauthorized (the room's pin)
    436: 53104,  # the identity is in the room and was not taken over
    458: 53000,  # no such session
}
"""Janus's refusals of a join -> the catalog code of the ``room.connect_failed`` event
(anything else: 53104, Janus's code in the message)."""

PUBLISH_ERRORS: dict[int, int] = {
    432: 53305,  # maximum number of publishers reached: the room's capacity
    434: 53300,  # invalid element
    437: 53304,  # "already publishing"
}
"""Janus's refusals of a publication -> the catalog code of ``local_track.publish_failed``
(anything else: 53300, Janus's code in the message)."""


@dataclass(slots=True)
class _Publication:
    """A local track being published: its media and, once offered, its transceiver."""

    name: str
    kind: TrackKind
    transceiver: RTCRtpTransceiver | None = None
    sid: str | None = None  # set once Janus accepted it (identity/mid)
    warned: bool = False  # Janus said it stopped receiving its media


@dataclass(slots=True)
class _RemoteTrack:
    """A remote track as told to the application, and its subscription."""

    sid: str
    feed: str
    mid: str
    name: str
    kind: TrackKind
    handle: int | None = None
    pc: RTCPeerConnection | None = None
    subscribed: bool = False
    failures: int = 0
    attempt: int = 0
    """Which subscription is current: dropping one, or starting one, moves it on, so that a
    subscription still on its way (the link went, and the resync made another; a failed one's
    retry met the resync's) gives up instead of making a connection nobody would close."""


def _track_sid(feed: str, mid: str) -> str:
    return f"{feed}/{mid}"


def _code_for(table: dict[int, int], exc: JanusRequestError, fallback: int) -> int:
    return table.get(exc.code, fallback)


class JanusTransport(AiortcClient):
    """One local participant's connection to a Janus VideoRoom, over real WebRTC.

    Args:
        url: Janus's ``ws://`` address (its WebSockets transport).
        source: makes the media for each published track; synthetic audio and video by
            default.
        rtc_configuration: for every peer connection; no ICE servers by default, so nothing
            outside the two hosts is contacted.
        heartbeat_interval, heartbeat_timeout: seconds between keepalives, and of silence that
            mean the link is lost.
        retry_interval: seconds between attempts to reclaim the session.
        join_timeout: seconds Janus may take to answer each request of the join.
        subscribe_timeout: seconds a subscription may take to connect before it is reported
            ``subscription_failed`` and asked for again (at most ``subscribe_attempts`` times).
        create_rooms: create a room that does not exist yet (as the reference server does);
            ``False`` makes joining an unknown room a ``connect_failed`` with 53106.
        max_publishers: the publisher limit of rooms this transport creates.
        room_secret: the secret of rooms this transport creates, and the one it uses to take
            over an identity that is already in the room (Janus's ``kick``).
        take_over_identity: join with an identity already in the room by removing the older
            participant, as the guide's service does (it is disconnected with 53205);
            ``False``: the join fails (53104), as Janus itself decides.
        media_probe_interval, media_probe_misses: how the media path is watched while
            signaling is up (:class:`~rtcstate.adapters.aiortc.liveness.MediaLiveness`):
            that many probes unanswered in a row make the Room ``reconnecting`` with 53405,
            and it is ``reconnected`` as soon as one is answered again.

    Attributes:
        emitted: how many events it has put on its event stream.
        frames_received: frames received so far, per remote track sid.
        local_media: the track being sent, per local track name.
    """

    backend = "Janus"

    def __init__(self, url: str, *, source: TrackSource | None = None,
                 rtc_configuration: RTCConfiguration | None = None,
                 heartbeat_interval: float = 0.2, heartbeat_timeout: float = 0.6,
                 retry_interval: float = 0.25, join_timeout: float = 10.0,
                 subscribe_timeout: float = 5.0, subscribe_attempts: int = 3,
                 create_rooms: bool = True, max_publishers: int = 16,
                 room_secret: str | None = None, take_over_identity: bool = True,
                 media_probe_interval: float = 0.5, media_probe_misses: int = 2) -> None:
        if heartbeat_timeout <= heartbeat_interval:
            raise ValueError("heartbeat_timeout must be longer than heartbeat_interval")
        super().__init__(media_probe_interval=media_probe_interval,
                         media_probe_misses=media_probe_misses)
        self.url = url
        self.source: TrackSource = source or (lambda _name, kind: synthetic_track(kind))
        self.rtc_configuration = rtc_configuration or local_rtc_configuration()
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.retry_interval = retry_interval
        self.join_timeout = join_timeout
        self.subscribe_timeout = subscribe_timeout
        self.subscribe_attempts = subscribe_attempts
        self.create_rooms = create_rooms
        self.max_publishers = max_publishers
        self.room_secret = room_secret
        self.take_over_identity = take_over_identity
        self.local_media: dict[str, MediaStreamTrack] = {}
        self._relay = MediaRelay()
        self._session_scope: anyio.CancelScope | None = None
        self._janus: JanusSession | None = None
        self._handle: int | None = None
        self._options: ConnectOptions | None = None
        self._private_id: int | None = None
        self._publications: dict[str, _Publication] = {}
        self._publisher_pc: RTCPeerConnection | None = None
        self._participants: dict[str, str] = {}  # Janus id -> identity, as told
        self._remote: dict[str, _RemoteTrack] = {}  # track sid -> track, as told
        self._negotiating = anyio.Lock()
        self._link_up = False

    # -- the Transport protocol --------------------------------------------------------------

    async def connect(self, options: ConnectOptions) -> None:
        """Open a session, attach to the VideoRoom and join ``options.room_name`` as a
        publisher with ``options.identity`` as its id; the outcome arrives as events.

        A refusal is a ``room.connect_failed`` event carrying the catalog code of
        :data:`JOIN_ERRORS`; Janus out of reach is 53000.

        Raises:
            anyio.ClosedResourceError: the transport was closed.
        """
        tasks = self._check_open()
        self._options = options
        self._leaving = False
        janus = JanusSession(self.url, request_timeout=self.join_timeout)
        try:
            await janus.open(self.join_timeout)
        except (OSError, TimeoutError, TransportError) as exc:
            await janus.close()
            self._fail_join(options, 53000, f"cannot reach {self.url}: {exc}")
            return
        except BaseException:  # cancelled (the room left meanwhile): nothing may stay open
            janus.abort()
            raise
        reader = anyio.CancelScope()
        tasks.start_soon(self._serve_socket, janus, reader)
        try:
            await janus.create()
            handle = await janus.attach()
            joined = await self._join(janus, handle, options)
        except JanusRequestError as exc:
            await self._abandon(janus, reader)
            self._fail_join(options, _code_for(JOIN_ERRORS, exc, 53104), str(exc))
            return
        except (ConnectionClosed, TimeoutError) as exc:
            await self._abandon(janus, reader)
            self._fail_join(options, 53000, f"no answer to the join: {exc!r}")
            return
        except BaseException:
            reader.cancel()
            janus.abort()
            raise
        self._janus, self._handle, self._link_up = janus, handle, True
        self._private_id = cast(int | None, joined.data.get("private_id"))
        self._emit(RoomConnected(room_name=options.room_name,
                                 room_sid=str(joined.data.get("room", options.room_name)),
                                 participant_sid=options.identity))
        for attendee in joined.data.get("attendees") or ():
            self._participant_seen(attendee)
        for publisher in joined.data.get("publishers") or ():
            await self._publisher_seen(publisher)
        tasks.start_soon(self._run, janus, reader)
        self._watch_media_of(options.room_name)

    async def publish(self, track_name: str, kind: TrackKind, media: object | None = None) -> None:
        """Publish a track: add it to the participant's peer connection (renegotiated with
        Janus). ``media`` is an aiortc ``MediaStreamTrack``, or ``None`` for one from
        ``source``.

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
        elif track_name not in self.local_media:
            self.local_media[track_name] = self.source(track_name, kind)
        old_publication = self._publications.pop(track_name, None)
        if old_publication is not None:
            self._retire(old_publication)
        self._publications[track_name] = _Publication(track_name, kind)
        await self._negotiate()

    async def unpublish(self, track_name: str) -> None:
        """Stop publishing a track: take it off the peer connection and stop its media."""
        self._check_open()
        publication = self._publications.pop(track_name, None)
        media = self.local_media.pop(track_name, None)
        if media is not None:
            media.stop()
        if publication is not None:
            self._retire(publication)
            await self._negotiate()

    async def disconnect(self) -> None:
        """Leave the room: ``leave``, destroy the session, close every peer connection.
        Idempotent."""
        self._leaving = True
        janus, self._janus = self._janus, None
        handle, self._handle = self._handle, None
        self._link_up = False
        if self._session_scope is not None:
            self._session_scope.cancel()
        if janus is not None:
            if handle is not None and janus.connected:
                with contextlib.suppress(ConnectionClosed, JanusRequestError, TimeoutError):
                    with anyio.move_on_after(1):
                        await janus.message(handle, {"request": "leave"})
            await janus.close()
        await self._close_media()
        for media in self.local_media.values():
            media.stop()
        self.local_media.clear()
        self._publications.clear()
        self._end_feeds()

    @property
    def connected(self) -> bool:
        """Whether the session's link is up (joined and not interrupted)."""
        return self._link_up

    # -- joining -----------------------------------------------------------------------------

    async def _join(self, janus: JanusSession, handle: int, options: ConnectOptions) -> Reply:
        """Join as a publisher: create the room if it is missing (``create_rooms``), take
        over the identity if it is taken (``take_over_identity``).

        Raises:
            JanusRequestError: Janus refused, and nothing above applies.
        """
        join = {"request": "join", "ptype": "publisher", "room": options.room_name,
                "id": options.identity, "display": options.identity}
        for _attempt in range(3):
            try:
                return await janus.message(handle, join)
            except JanusRequestError as exc:
                if exc.code == 426 and self.create_rooms:
                    await self._create_room(janus, handle, options.room_name)
                elif exc.code == 436 and self.take_over_identity:
                    kick: dict[str, Any] = {"request": "kick", "room": options.room_name,
                                            "id": options.identity}
                    if self.room_secret is not None:
                        kick["secret"] = self.room_secret
                    _log.info("identity_taken_over", room=options.room_name)
                    await janus.message(handle, kick)
                else:
                    raise
        return await janus.message(handle, join)

    async def _create_room(self, janus: JanusSession, handle: int, room: str) -> None:
        create: dict[str, Any] = {"request": "create", "room": room, "permanent": False,
                                  "publishers": self.max_publishers, "notify_joining": True}
        if self.room_secret is not None:
            create["secret"] = self.room_secret
        try:
            await janus.message(handle, create)
        except JanusRequestError as exc:
            if exc.code != 427:  # "already exists": someone else made it meanwhile
                raise
        _log.info("room_created", room=room)

    # -- the session -------------------------------------------------------------------------

    async def _serve_socket(self, janus: JanusSession, scope: anyio.CancelScope) -> None:
        with scope:
            await janus.serve()

    async def _abandon(self, janus: JanusSession, reader: anyio.CancelScope) -> None:
        await janus.close()
        reader.cancel()

    async def _run(self, janus: JanusSession, reader: anyio.CancelScope) -> None:
        """Serve the joined session: notices, keepalives, and a reclaim whenever the link is
        lost."""
        options = self._options
        assert options is not None
        tasks = self._tasks
        assert tasks is not None
        with anyio.CancelScope() as scope:
            self._session_scope = scope
            tasks.start_soon(self._listen, janus)
            while not self._leaving:
                await self._watch(janus)
                if self._leaving:
                    break
                self._link_up = False
                reader.cancel()
                janus.drop()
                _log.info("signaling_lost", room=options.room_name)
                self._tell_condition("reconnecting")
                reclaimed = await self._reclaim(janus)
                if reclaimed is None:
                    break
                if isinstance(reclaimed, int):
                    self._end_session(reclaimed, "Janus no longer holds the session")
                    break
                reader = reclaimed
                self._link_up = True
                self._tell_condition("connected")
                await self._resync(janus)
        self._session_scope = None

    async def _watch(self, janus: JanusSession) -> None:
        """Keep the session alive until Janus has been silent for ``heartbeat_timeout``."""
        with contextlib.suppress(ConnectionClosed):
            while not self._leaving:
                await janus.keepalive()
                await anyio.sleep(self.heartbeat_interval)
                if time.monotonic() - janus.last_heard > self.heartbeat_timeout:
                    return

    async def _reclaim(self, janus: JanusSession) -> anyio.CancelScope | int | None:
        """Open new sockets until one claims the session: the new socket's reader scope, the
        catalog code to end the room with (53001: Janus no longer holds the session), or
        ``None`` if the application left first."""
        tasks = self._tasks
        assert tasks is not None
        while not self._leaving:
            reader = anyio.CancelScope()
            try:
                await janus.open(max(self.heartbeat_timeout, 1.0))
                tasks.start_soon(self._serve_socket, janus, reader)
                with anyio.fail_after(max(self.heartbeat_timeout, 1.0)):
                    await janus.claim()
            except JanusRequestError as exc:
                _log.info("session_not_reclaimed", code=exc.code)
                reader.cancel()
                janus.drop()
                return 53001
            except (OSError, TimeoutError, TransportError, ConnectionClosed):
                reader.cancel()
                janus.drop()
                await anyio.sleep(self.retry_interval)
                continue
            return reader
        return None

    def _end_session(self, code: int, message: str) -> None:
        options = self._options
        assert options is not None
        self._leaving = True
        self._link_up = False
        self._session_ended(code)
        self._emit(RoomDisconnected(room_name=options.room_name,
                                    error_code=code, message=message))  # type: ignore[arg-type]
        if self._session_scope is not None:
            self._session_scope.cancel()

    async def _remake_media(self) -> None:
        """Publish again on a new connection if the publications' one gave up, and subscribe
        again to the tracks whose subscription's connection gave up."""
        if self._publications and self._due_for_remaking("publications", self._publisher_pc):
            _log.info("publication_renewed", tracks=len(self._publications))
            await self._renew_publication()
        for track in list(self._remote.values()):
            if self._due_for_remaking(f"subscription {track.sid}", track.pc):
                _log.info("resubscribe_requested", track=track.sid, reason="media_path")
                await self._subscribe(track)

    async def _renew_publication(self) -> None:
        """Publish every track again on a new peer connection: Janus takes a publisher's new
        connection only after an ``unpublish`` (which the others are told, as an unpublish
        and a publish of the same tracks, with the same sids)."""
        async with self._negotiating:
            janus, handle = self._janus, self._handle
            pc, self._publisher_pc = self._publisher_pc, None
            if pc is not None:
                await close_peer_connection(pc)
            if janus is not None and handle is not None and self._link_up:
                with contextlib.suppress(JanusRequestError, ConnectionClosed, TimeoutError):
                    await janus.message(handle, {"request": "unpublish"})
            await self._negotiate_now()

    def _subscriptions(self) -> dict[str, RTCPeerConnection]:
        return {t.sid: t.pc for t in self._remote.values() if t.pc is not None}

    def _peer_connections(self) -> list[RTCPeerConnection]:
        connections = list(self._subscriptions().values())
        if self._publisher_pc is not None:
            connections.append(self._publisher_pc)
        return connections

    async def _resync(self, janus: JanusSession) -> None:
        """After a reclaim: tell what changed in the room while the link was down, and mend
        the media that did not survive it."""
        options, handle = self._options, self._handle
        assert options is not None
        if handle is None:
            return
        try:
            listed = await janus.message(handle, {"request": "listparticipants",
                                                  "room": options.room_name})
        except (JanusRequestError, ConnectionClosed, TimeoutError) as exc:
            _log.warning("resync_failed", detail=str(exc))
            return
        present = {str(p.get("id")): p for p in listed.data.get("participants") or ()
                   if str(p.get("id")) != options.identity}
        for feed in [feed for feed in self._participants if feed not in present]:
            await self._participant_left(feed)
        for feed, participant in present.items():
            self._participant_seen(participant)
            if participant.get("publisher"):
                streams = await self._feed_streams(janus, feed)
                if streams is not None:
                    await self._streams_seen(feed, streams)
            else:
                await self._feed_unpublished(feed)
        pc = self._publisher_pc
        if pc is not None and pc.connectionState in ("failed", "closed"):
            await self._renew_publication()
        for track in list(self._remote.values()):
            # Subscriptions being made when the link went, and those whose media did not
            # survive the outage, are made again.
            if track.pc is None or track.pc.connectionState in ("failed", "closed"):
                await self._subscribe(track)

    async def _feed_streams(self, janus: JanusSession, feed: str) -> list[dict[str, Any]] | None:
        """A publisher's streams now, asked on a handle that is detached again."""
        options = self._options
        assert options is not None
        handle = await janus.attach()
        try:
            reply = await janus.message(handle, {"request": "join", "ptype": "subscriber",
                                                 "room": options.room_name,
                                                 "streams": [{"feed": feed}]})
        except (JanusRequestError, ConnectionClosed, TimeoutError):
            return None
        finally:
            await janus.detach(handle)
        return [{"type": s.get("type"), "mid": s.get("feed_mid"),
                 "description": s.get("feed_description"), "disabled": not s.get("active")}
                for s in reply.data.get("streams") or ()]

    # -- what Janus tells --------------------------------------------------------------------

    async def _listen(self, janus: JanusSession) -> None:
        with contextlib.suppress(anyio.ClosedResourceError):
            async for notice in janus.notices:
                try:
                    await self._notice(janus, notice)
                except (AttributeError, KeyError, TypeError, ValueError,
                        ValidationError) as exc:  # a malformed notice: logged, skipped
                    _log.error("bad_janus_message", detail=f"{type(exc).__name__}: "
                                                           f"{str(exc)[:200]}")

    async def _notice(self, janus: JanusSession, notice: dict[str, Any]) -> None:
        kind, sender = notice.get("janus"), notice.get("sender")
        if kind == "timeout":
            self._end_session(53002, "Janus timed the session out")
            return
        if sender == self._handle and sender is not None:
            if kind == "event":
                await self._room_event(plugin_data(notice))
            elif kind == "media":
                self._media_notice(notice)
            elif kind == "hangup":
                _log.warning("publisher_hangup", reason=notice.get("reason"))
            return
        track = next((t for t in self._remote.values() if t.handle == sender), None)
        if track is None:
            return
        if kind == "hangup" and not self._leaving:
            _log.warning("subscriber_hangup", track=track.sid, reason=notice.get("reason"))
        elif kind == "event":
            data = plugin_data(notice)
            streams = data.get("streams")
            if data.get("videoroom") == "updated" and isinstance(streams, list) and not any(
                    s.get("active") for s in streams):
                await self._unsubscribed(track)

    async def _room_event(self, data: dict[str, Any]) -> None:
        if data.get("videoroom") == "destroyed":
            self._end_session(53118, "the room was destroyed")
            return
        joining = data.get("joining")
        if isinstance(joining, dict):
            self._participant_seen(joining)
        for publisher in data.get("publishers") or ():
            await self._publisher_seen(publisher)
        unpublished = data.get("unpublished")
        if unpublished is not None and unpublished != "ok":
            await self._feed_unpublished(str(unpublished))
        leaving = data.get("leaving")
        if leaving == "ok":
            if data.get("reason") == "kicked":
                self._end_session(53205, "removed from the room: another participant joined "
                                         "with this identity (Janus: kicked)")
        elif leaving is not None:
            await self._participant_left(str(leaving))
        kicked = data.get("kicked")
        if kicked is not None:
            await self._participant_left(str(kicked))

    def _media_notice(self, notice: dict[str, Any]) -> None:
        """Janus stopped (or started again) receiving a published track's media."""
        options = self._options
        if options is None or "recording-media-lost" not in options.notify_warnings:
            return
        mid = str(notice.get("mid"))
        publication = next((p for p in self._publications.values()
                            if p.sid is not None and p.transceiver is not None
                            and p.transceiver.mid == mid), None)
        if publication is None:
            return
        receiving = bool(notice.get("receiving"))
        if receiving != publication.warned:
            return  # Janus also says when media first arrives: no warning to clear then
        publication.warned = not receiving
        fields: dict[str, Any] = {"track_name": publication.name, "kind": publication.kind,
                                  "track_sid": publication.sid}
        self._emit(LocalTrackWarningsCleared(**fields) if receiving
                   else LocalTrackWarning(**fields, warning="recording-media-lost"))

    # -- the room as this participant sees it ------------------------------------------------

    def _participant_seen(self, participant: dict[str, Any]) -> None:
        feed = str(participant["id"])
        options = self._options
        if feed in self._participants or (options is not None and feed == options.identity):
            return
        identity = str(participant.get("display") or feed)
        # The event first: a name it refuses (empty, too long) leaves the view as it was.
        event = ParticipantConnected(participant_sid=feed, identity=identity)
        self._participants[feed] = identity
        self._emit(event)

    async def _publisher_seen(self, publisher: dict[str, Any]) -> None:
        self._participant_seen(publisher)
        streams = publisher.get("streams")
        if isinstance(streams, list):
            await self._streams_seen(str(publisher["id"]), streams)

    async def _streams_seen(self, feed: str, streams: list[dict[str, Any]]) -> None:
        """A publisher's streams as Janus lists them now: new ones published, gone or
        disabled ones unpublished."""
        if feed not in self._participants:
            return
        active: dict[str, dict[str, Any]] = {}
        for stream in streams:
            if (isinstance(stream, dict) and stream.get("type") in ("audio", "video")
                    and isinstance(stream.get("mid"), str) and not stream.get("disabled")):
                active[_track_sid(feed, stream["mid"])] = stream
        for track in [t for t in self._remote.values() if t.feed == feed]:
            if track.sid not in active:
                await self._track_unpublished(track)
        for sid, stream in active.items():
            if sid in self._remote:
                continue
            mid = str(stream.get("mid"))
            kind = cast(TrackKind, stream["type"])
            track = _RemoteTrack(sid=sid, feed=feed, mid=mid, kind=kind,
                                 name=str(stream.get("description") or f"{kind}-{mid}"))
            event = RemoteTrackPublished(track_sid=sid, participant_sid=feed, kind=kind,
                                         track_name=track.name,
                                         participant_identity=self._participants[feed])
            self._remote[sid] = track
            self._emit(event)
            # In a task: the notices after this one are told in order, not after the
            # subscription's round trips (it gives up on a track unpublished meanwhile).
            tasks = self._tasks
            assert tasks is not None
            tasks.start_soon(self._subscribe, track)

    async def _feed_unpublished(self, feed: str) -> None:
        for track in [t for t in self._remote.values() if t.feed == feed]:
            await self._track_unpublished(track)

    async def _participant_left(self, feed: str) -> None:
        await self._feed_unpublished(feed)
        identity = self._participants.pop(feed, None)
        if identity is not None:
            self._emit(ParticipantDisconnected(participant_sid=feed, identity=identity))

    async def _track_unpublished(self, track: _RemoteTrack) -> None:
        if self._remote.pop(track.sid, None) is None:
            return
        await self._unsubscribed(track)
        self._end_feed(track.sid)
        self._emit(RemoteTrackUnpublished(**self._ids(track)))

    async def _unsubscribed(self, track: _RemoteTrack) -> None:
        """The subscription ended (the track may still be published)."""
        await self._drop_subscription(track)
        if track.subscribed:
            track.subscribed = False
            self._end_feed(track.sid)
            self._emit(RemoteTrackUnsubscribed(**self._ids(track)))

    @staticmethod
    def _ids(track: _RemoteTrack) -> dict[str, Any]:
        return {"track_sid": track.sid, "participant_sid": track.feed, "kind": track.kind}

    # -- subscriptions -----------------------------------------------------------------------

    async def _subscribe(self, track: _RemoteTrack) -> None:
        """Subscribe to one remote track on a handle and peer connection of its own, in place
        of the subscription made or being made before (dropped: one on its way gives up)."""
        janus, options, tasks = self._janus, self._options, self._tasks
        if janus is None or options is None or tasks is None or not self._link_up:
            return
        before = self._take_subscription(track)
        attempt = track.attempt

        def current() -> bool:
            return track.attempt == attempt and track.sid in self._remote

        await self._release_subscription(*before)
        if not current():
            return  # another took its place meanwhile
        try:
            handle = await janus.attach()
            if not current():
                await janus.detach(handle)
                return
            track.handle = handle
            body: dict[str, Any] = {"request": "join", "ptype": "subscriber",
                                    "room": options.room_name,
                                    "streams": [{"feed": track.feed, "mid": track.mid}]}
            if self._private_id is not None:
                body["private_id"] = self._private_id
            offer = await janus.message(handle, body)
        except (JanusRequestError, ConnectionClosed, TimeoutError) as exc:
            _log.info("subscribe_refused", track=track.sid, detail=str(exc))
            if current():
                await self._drop_subscription(track)
            return
        if not current():
            return  # dropped meanwhile, its handle with it
        if offer.jsep is None:
            await self._drop_subscription(track)
            return
        pc = track.pc = self._new_peer_connection()
        connected = anyio.Event()

        @pc.on("track")
        def receive(media: MediaStreamTrack) -> None:
            self._received_track(track.sid, media, tasks)

        @pc.on("connectionstatechange")
        def changed() -> None:
            if track.pc is not pc:
                return
            if pc.connectionState == "connected":
                connected.set()
                track.failures = 0
                if not track.subscribed:
                    track.subscribed = True
                    self._emit(RemoteTrackSubscribed(**self._ids(track)))
            elif pc.connectionState == "failed":
                tasks.start_soon(self._subscription_failed, track, pc, "ICE failed")

        try:
            async with self._negotiating:
                with map_aiortc_errors():
                    await pc.setRemoteDescription(RTCSessionDescription(offer.jsep["sdp"],
                                                                        "offer"))
                    await set_local_description(pc, await pc.createAnswer())
            await janus.message(handle, {"request": "start"},
                                jsep={"type": "answer", "sdp": pc.localDescription.sdp})
        except (JanusRequestError, ConnectionClosed, TimeoutError) as exc:
            _log.info("subscribe_refused", track=track.sid, detail=str(exc))
            if track.pc is pc:
                await self._drop_subscription(track)
            return  # else: dropped meanwhile, this connection with it
        except BaseException:  # cancelled mid-negotiation (the room left): its sockets too
            if track.pc is pc:
                track.pc = None
            await close_peer_connection(pc, end_unstarted_tracks=True)  # shielded
            raise
        if not current():
            return  # dropped while answering: the connection went with it

        async def deadline() -> None:
            with anyio.move_on_after(self.subscribe_timeout):
                await connected.wait()
            if not connected.is_set():
                await self._subscription_failed(
                    track, pc, f"did not connect within {self.subscribe_timeout} s")

        tasks.start_soon(deadline)

    async def _subscription_failed(self, track: _RemoteTrack, pc: RTCPeerConnection,
                                   why: str) -> None:
        if track.pc is not pc or not self._link_up:
            return  # replaced, unpublished or reconnecting meanwhile
        if self._media_failed:
            return  # the media path is down, not this track's: it is made anew with it
        await self._drop_subscription(track)
        if track.subscribed:
            track.subscribed = False
            self._end_feed(track.sid)
            self._emit(RemoteTrackUnsubscribed(**self._ids(track)))
        track.failures += 1
        if track.failures == 1:
            self._emit(RemoteTrackSubscriptionFailed(**self._ids(track), message=why))
        _log.warning("subscription_failed", track=track.sid, detail=why,
                     attempt=track.failures)
        if track.failures < self.subscribe_attempts and track.sid in self._remote:
            await self._subscribe(track)

    async def _drop_subscription(self, track: _RemoteTrack) -> None:
        await self._release_subscription(*self._take_subscription(track))

    @staticmethod
    def _take_subscription(track: _RemoteTrack) -> tuple[RTCPeerConnection | None, int | None]:
        """Make ``track``'s subscription no longer current (one on its way gives up at its
        next step) and take its connection and handle, for :meth:`_release_subscription`."""
        track.attempt += 1
        pc, track.pc = track.pc, None
        handle, track.handle = track.handle, None
        return pc, handle

    async def _release_subscription(self, pc: RTCPeerConnection | None,
                                    handle: int | None) -> None:
        try:
            if handle is not None and self._janus is not None:
                await self._janus.detach(handle)
        finally:
            if pc is not None:
                # Even when cancelled: nothing else holds this connection any more.
                with anyio.CancelScope(shield=True):
                    async with self._negotiating:
                        # A receiver that never started would keep its relay's reader waiting.
                        await close_peer_connection(pc, end_unstarted_tracks=True)

    # -- publications ------------------------------------------------------------------------

    def _retire(self, publication: _Publication) -> None:
        """Take a publication's track off the peer connection (the next offer says so)."""
        transceiver = publication.transceiver
        if transceiver is not None and not transceiver.stopped:
            transceiver.sender.replaceTrack(None)
            transceiver.direction = "inactive"

    async def _negotiate(self) -> None:
        """Offer the publications as they are now, and tell what Janus made of the new ones."""
        async with self._negotiating:
            await self._negotiate_now()

    async def _negotiate_now(self) -> None:
        janus, handle = self._janus, self._handle
        if janus is None or handle is None or not self._link_up:
            return  # offered after the join or the reclaim
        pc = self._publisher_pc
        fresh = pc is None or pc.connectionState in ("failed", "closed")
        if not self._publications:
            if pc is not None:
                self._publisher_pc = None
                with contextlib.suppress(JanusRequestError, ConnectionClosed, TimeoutError):
                    await janus.message(handle, {"request": "unpublish"})
                await close_peer_connection(pc)
            return
        if fresh:
            if pc is not None:
                self._publisher_pc = None  # closed by this transport, not lost
                await close_peer_connection(pc)
            pc = self._publisher_pc = self._new_peer_connection()
            for publication in self._publications.values():
                publication.transceiver = None
        assert pc is not None
        added = [p for p in self._publications.values() if p.transceiver is None]
        if not added and not fresh:
            if not any(t.direction == "inactive" and t.currentDirection != "inactive"
                       for t in pc.getTransceivers()):
                return
        with map_aiortc_errors():
            for publication in added:
                media = self.local_media.get(publication.name)
                if media is None:
                    media = self.local_media[publication.name] = self.source(
                        publication.name, publication.kind)
                publication.transceiver = pc.addTransceiver(
                    self._relay.subscribe(media, buffered=False), direction="sendonly")
            await set_local_description(pc, await pc.createOffer())
        descriptions = [{"mid": p.transceiver.mid, "description": p.name}
                        for p in self._publications.values() if p.transceiver is not None]
        body = {"request": "publish" if fresh else "configure", "descriptions": descriptions}
        try:
            reply = await janus.message(handle, body,
                                        jsep={"type": "offer", "sdp": pc.localDescription.sdp})
        except JanusRequestError as exc:
            await self._refused(added, exc, pc if fresh else None)
            return
        except (ConnectionClosed, TimeoutError):
            return  # the link went: the reclaim offers again
        if reply.jsep is None:
            await self._refused(added, JanusRequestError(0, "no answer to the offer"),
                                pc if fresh else None)
            return
        with map_aiortc_errors():
            await pc.setRemoteDescription(RTCSessionDescription(reply.jsep["sdp"], "answer"))
        options = self._options
        assert options is not None
        for publication in self._publications.values():
            transceiver = publication.transceiver
            if transceiver is None or transceiver.mid is None:
                continue
            sid = _track_sid(options.identity, transceiver.mid)
            if publication.sid != sid:
                first = publication.sid is None
                publication.sid = sid
                if first:
                    self._emit(LocalTrackPublished(track_name=publication.name,
                                                   kind=publication.kind, track_sid=sid))

    async def _refused(self, added: list[_Publication], exc: JanusRequestError,
                       fresh_pc: RTCPeerConnection | None) -> None:
        for publication in added:
            self._publications.pop(publication.name, None)
            self._retire(publication)
            media = self.local_media.pop(publication.name, None)
            if media is not None:
                media.stop()
            code = _code_for(PUBLISH_ERRORS, exc, 53300)
            _log.info("publish_refused", track=publication.name, code=exc.code)
            self._emit(LocalTrackPublishFailed(track_name=publication.name,
                                               kind=publication.kind,
                                               error_code=code,  # type: ignore[arg-type]
                                               message=str(exc)))
        if fresh_pc is not None:
            self._publisher_pc = None
            await close_peer_connection(fresh_pc)

    # -- media -------------------------------------------------------------------------------

    async def _close_media(self) -> None:
        async with self._negotiating:
            closing: list[Awaitable[None]] = []
            pc, self._publisher_pc = self._publisher_pc, None
            if pc is not None:
                closing.append(close_peer_connection(pc))
            for track in self._remote.values():
                track_pc, _handle = self._take_subscription(track)  # the session is gone
                if track_pc is not None:
                    closing.append(close_peer_connection(track_pc, end_unstarted_tracks=True))
            for close in closing:
                await close

    # -- helpers -----------------------------------------------------------------------------

    def _fail_join(self, options: ConnectOptions, code: int, message: str) -> None:
        _log.info("join_failed", room=options.room_name, code=code, detail=message)
        self._emit(RoomConnectFailed(room_name=options.room_name,
                                     error_code=code,  # type: ignore[arg-type]
                                     message=message))
