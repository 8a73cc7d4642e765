"""What every client transport on aiortc shares: its event stream, its task group, the
media it receives (one :class:`~rtcstate.adapters.aiortc.media.RemoteMedia` per subscribed
track, frames counted), and the watch on its media path (probes, and the Room events their
answers call for: :mod:`~rtcstate.adapters.aiortc.liveness`,
:mod:`~rtcstate.adapters.connection`).

:class:`~rtcstate.adapters.aiortc.AiortcTransport` (the reference server's client) and
:class:`~rtcstate.adapters.janus.JanusTransport` are built on it.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
import sniffio
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from anyio.streams.memory import MemoryObjectReceiveStream

from rtcstate.adapters.aiortc.liveness import MediaLiveness, VideoStallWatch, consent_expired
from rtcstate.adapters.aiortc.media import RemoteMedia
from rtcstate.adapters.connection import (
    CONNECTED,
    MEDIA_PATH_DOWN,
    Condition,
    ConnectionMonitor,
    MediaState,
    SignalingState,
)
from rtcstate.logs import get_logger
from rtcstate.models.base import Event
from rtcstate.server.protocol import restart_video_reception

__all__ = ["AiortcClient"]

_log = get_logger("rtcstate.media")


class AiortcClient:
    """A base for client transports on aiortc (asyncio only).

    Subclasses implement the requests of :class:`~rtcstate.adapters.base.Transport` and
    :meth:`disconnect`; this class enters and leaves the task group, keeps the event stream,
    and hands out what is received.

    Attributes:
        emitted: how many events it has put on its event stream.
        frames_received: frames received so far, per remote track sid (across resumes).
    """

    backend = "aiortc"
    """The name the asyncio-only refusal uses."""

    rtc_configuration: RTCConfiguration
    """For every peer connection (subclasses set it)."""
    subscribe_timeout: float
    """Seconds a connection may take to connect (subclasses set it); while the media path is
    down, one that has not connected in that time is made anew."""

    def __init__(self, *, media_probe_interval: float = 0.5, media_probe_misses: int = 2) -> None:
        self.liveness = MediaLiveness(media_probe_interval, media_probe_misses)
        self.video_stalls = VideoStallWatch()
        self._monitor: ConnectionMonitor | None = None
        self._made_at: weakref.WeakKeyDictionary[RTCPeerConnection, float] = (
            weakref.WeakKeyDictionary())
        self._remade_at: dict[str, float] = {}
        self._leaving = False
        self.emitted = 0
        self.frames_received: dict[str, int] = {}
        # What is received is read twice: frames are counted, and the application may record.
        self._received = MediaRelay()
        self._feeds: dict[str, RemoteMedia] = {}
        self._frame_arrived: anyio.Event | None = None
        self._send, self._receive = anyio.create_memory_object_stream[Event](math.inf)
        self._tasks: anyio.abc.TaskGroup | None = None
        self._closed = False

    def events(self) -> MemoryObjectReceiveStream[Event]:
        return self._receive

    async def disconnect(self) -> None:
        """Leave the room (subclasses)."""
        raise NotImplementedError

    async def _close_media(self) -> None:
        """Close every peer connection the transport holds (subclasses)."""
        raise NotImplementedError

    @property
    def connected(self) -> bool:
        """Whether signaling is up (subclasses)."""
        raise NotImplementedError

    def _peer_connections(self) -> list[RTCPeerConnection]:
        """Every peer connection the transport holds now (subclasses)."""
        raise NotImplementedError

    def _subscriptions(self) -> dict[str, RTCPeerConnection]:
        """The connection of each subscription, by remote track sid (subclasses)."""
        raise NotImplementedError

    async def _remake_media(self) -> None:
        """The media path is down, or just back: make anew every connection
        :meth:`_due_for_remaking` (subclasses)."""
        raise NotImplementedError

    # -- the media path ----------------------------------------------------------------------

    def _watch_media_of(self, room_name: str) -> None:
        """Joined ``room_name``: watch the media path for as long as the session lasts."""
        monitor = self._monitor = ConnectionMonitor(room_name)
        self.liveness.reset()
        self.video_stalls.reset()
        self._remade_at.clear()
        assert self._tasks is not None
        self._tasks.start_soon(self._watch_media, monitor)

    async def _watch_media(self, monitor: ConnectionMonitor) -> None:
        """Probe the media path while signaling is up, and tell the Room when it fails
        (``reconnecting``, 53405) and when it is answered again (``reconnected``); while it
        is down, make anew the connections that gave up; until the session ends (``monitor``
        is no longer the session's)."""
        while not self._leaving and self._monitor is monitor:
            started = anyio.current_time()
            await self._watch_tick(monitor, started)
            await anyio.sleep(max(0.0, self.liveness.interval
                                  - (anyio.current_time() - started)))

    async def _watch_tick(self, monitor: ConnectionMonitor, now: float) -> None:
        """One look at the media path (see :meth:`_watch_media`), at time ``now``."""
        if not self.connected:
            self.video_stalls.reset()  # what it saw before the outage would read as a stall
            return
        media = await self.liveness.probe(self._peer_connections())
        if not self.connected or self._leaving or self._monitor is not monitor:
            return
        if media is not None:
            was = monitor.condition
            self._tell_condition("connected", media)
            if was == MEDIA_PATH_DOWN and monitor.condition == CONNECTED:
                # What was lost on the way stays lost: frames resume from a keyframe.
                for pc in self._peer_connections():
                    await restart_video_reception(pc)
                # Back on some connections: those that gave up meanwhile (their failures
                # were held) are made anew now, without waiting their turn.
                self._remade_at.clear()
                await self._remake_media()
        if self._media_failed:
            await self._remake_media()
        if monitor.condition == CONNECTED:
            for sid in await self.video_stalls.check(self._subscriptions(),
                                                     self.frames_received, now):
                _log.info("video_reception_restarted", track=sid)
        else:
            self.video_stalls.reset()

    @property
    def _media_failed(self) -> bool:
        """Whether the Room is reconnecting because the media path failed (53405): the
        connections that give up meanwhile are made anew, not told as failures of their
        tracks."""
        monitor = self._monitor
        return monitor is not None and monitor.condition == MEDIA_PATH_DOWN

    def _new_peer_connection(self) -> RTCPeerConnection:
        """A peer connection, watched: if it was connected and its ICE fails, or aioice gave it
        up (its consent to send expired, which closes a connection without its ever being
        ``failed``: :func:`~rtcstate.adapters.aiortc.liveness.consent_expired`), the media
        path has failed, whatever the probes saw so far. A connection the far end closes (a
        server ending a subscription) has not: the signaling says why."""
        pc = RTCPeerConnection(self.rtc_configuration)
        self._made_at[pc] = anyio.current_time()
        was_connected = False

        @pc.on("connectionstatechange")
        def changed() -> None:
            nonlocal was_connected
            state = pc.connectionState
            if state == "connected":
                was_connected = True
            elif (was_connected and self.connected and not self._leaving
                  and self._monitor is not None
                  and (state == "failed" and pc.iceConnectionState == "failed"
                       or state == "closed" and pc in self._peer_connections()
                       and consent_expired(pc))):
                _log.info("media_connection_lost", state=state)
                self._tell_condition("connected", "failed")

        return pc

    def _due_for_remaking(self, what: str, pc: RTCPeerConnection | None) -> bool:
        """Whether the connection of ``what`` (a publication, a subscription), ``pc``, is to
        be made anew now (the media path is down, or just back): there is none, it failed or
        closed, or it has not connected within :attr:`subscribe_timeout`; and ``what`` was not
        made anew in the last :attr:`subscribe_timeout` during this outage (one new connection
        at a time, each given the time a subscription has to connect). Says yes once per
        remaking."""
        now = anyio.current_time()
        last = self._remade_at.get(what)
        if (pc is not None and pc.connectionState == "connected"
                or last is not None and now - last < self.subscribe_timeout):
            return False
        if pc is not None and pc.connectionState not in ("failed", "closed"):
            made_at = self._made_at.get(pc)
            if made_at is not None and now - made_at < self.subscribe_timeout:
                return False  # still connecting, and within its time
        self._remade_at[what] = now
        return True

    def _tell_condition(self, signaling: SignalingState, media: MediaState | None = None) -> None:
        """Emit what the connections being in these states means for the Room, if anything.
        Signaling lost or regained makes the probes' misses stale: they start again."""
        monitor = self._monitor
        assert monitor is not None
        if media is None:
            self.liveness.reset()
        for event in monitor.update(signaling, media):
            if media is not None:
                _log.info("media_path", room=monitor.room_name, media=media,
                          room_state=monitor.condition.state)
            self._emit(event)

    def _session_ended(self, code: int) -> None:
        """The server ended the session with ``code``: no later change is told."""
        if self._monitor is not None:
            self._monitor.condition = Condition("disconnected", code)

    async def aclose(self) -> None:
        """Disconnect, end every task, end the event stream. Idempotent."""
        await self.__aexit__(None, None, None)

    async def __aenter__(self) -> Self:
        if sniffio.current_async_library() != "asyncio":
            self._closed = True
            self._send.close()
            self._receive.close()
            raise RuntimeError(f"the {self.backend} transport runs on asyncio only (aiortc "
                               "does); use the memory transport under trio")
        tasks = anyio.create_task_group()
        await tasks.__aenter__()
        self._tasks = tasks
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._closed:
            return
        with anyio.CancelScope(shield=True):
            await self.disconnect()
        self._closed = True
        self._send.close()
        self._receive.close()
        tasks, self._tasks = self._tasks, None
        try:
            if tasks is not None:
                tasks.cancel_scope.cancel()
                await tasks.__aexit__(None, None, None)  # a task's failure still surfaces
        finally:
            # A connection a task was making as the room left (a subscription, say) is one
            # the disconnect did not see: every task has ended now, so close what is left.
            with anyio.CancelScope(shield=True):
                await self._close_media()

    # -- what is received --------------------------------------------------------------------

    def remote_media(self, track_sid: str) -> RemoteMedia | None:
        """The media of subscribed remote track ``track_sid``: one aiortc ``MediaStreamTrack``
        for the whole subscription (it carries on when the connection under it is made anew),
        which ends when the track is unsubscribed or unpublished."""
        return self._feeds.get(track_sid)

    async def wait_for_frames(self, track_sid: str, at_least: int) -> int:
        """Wait until ``at_least`` frames of remote track ``track_sid`` have arrived (in all,
        across reconnections); return how many have. Bound it with ``anyio.fail_after``."""
        while self.frames_received.get(track_sid, 0) < at_least:
            if self._frame_arrived is None:
                self._frame_arrived = anyio.Event()
            await self._frame_arrived.wait()
        return self.frames_received[track_sid]

    def _received_track(self, track_sid: str, track: MediaStreamTrack,
                        tasks: anyio.abc.TaskGroup) -> None:
        """A peer connection's ``track`` event: count its frames, and feed the track's
        :class:`RemoteMedia`."""
        tasks.start_soon(self._count_frames, track_sid,
                         self._received.subscribe(track, buffered=False))
        feed = self._feeds.get(track_sid)
        if feed is None:
            feed = self._feeds[track_sid] = RemoteMedia(track.kind)
        feed.feed(self._received.subscribe(track))

    def _end_feed(self, track_sid: str) -> None:
        feed = self._feeds.pop(track_sid, None)
        if feed is not None:
            feed.stop()

    def _end_feeds(self) -> None:
        for sid in list(self._feeds):
            self._end_feed(sid)

    async def _count_frames(self, sid: str, track: MediaStreamTrack) -> None:
        self.frames_received.setdefault(sid, 0)
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames_received[sid] += 1
                arrived, self._frame_arrived = self._frame_arrived, None
                if arrived is not None:
                    arrived.set()

    # -- helpers -----------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        if not self._closed:
            self._send.send_nowait(event)
            self.emitted += 1

    def _check_open(self) -> anyio.abc.TaskGroup:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._tasks is None:
            raise RuntimeError("enter the transport first ('async with', or rtcstate.connect)")
        return self._tasks
