"""The bot behind ``rtcstate join``: one participant over real WebRTC, from a shell.

It joins a room, publishes synthetic tracks, reports every state change to a callback and stays
until the room is disconnected or ``stop`` is set: the lifecycle an application sees, and what
the link-failure tests drive in a network namespace. A short script over the public API.

:class:`AudioRecorder` is its ``--record DIR``: every remote audio track is written to a file
with aiortc's ``MediaRecorder`` for as long as it is subscribed, from the handlers it adds::

    handlers = rtcstate.Handlers()
    recorder = AudioRecorder(Path("recordings"), handlers)
    async with rtcstate.connect(transport, options, handlers=handlers) as room:
        ...
    recorder.files  # one file per subscription: <identity>-<track name>-<n>.wav
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRecorder

from rtcstate.adapters.aiortc.transport import AiortcTransport
from rtcstate.dispatcher import Dispatcher
from rtcstate.handlers import Handlers
from rtcstate.models.base import TrackKind
from rtcstate.models.options import ConnectOptions
from rtcstate.models.state_change import StateChange
from rtcstate.room import Room, connect

__all__ = ["AudioRecorder", "follow_room"]


class AudioRecorder:
    """Records every remote audio track into ``directory`` while it is subscribed.

    Adds its handlers to ``handlers``: a ``MediaRecorder`` starts when a remote audio track
    becomes ``subscribed`` (its media is an aiortc track) and stops, closing the file, when it
    is no longer (unsubscribed, unpublished, or the room ended).

    Attributes:
        files: every file written (or being written), in the order they were started.
    """

    def __init__(self, directory: Path, handlers: Handlers) -> None:
        self.directory = directory
        self.files: list[Path] = []
        self._recording: dict[str, MediaRecorder] = {}
        self._serial = itertools.count(1)
        handlers.on("remote_track", dest="subscribed")(self._start)
        handlers.on("remote_track", dest="unsubscribed")(self._stop)
        handlers.on("remote_track", dest="unpublished")(self._stop)
        handlers.on("remote_track", dest="subscription_failed")(self._stop)

    async def _start(self, change: StateChange, room: Room) -> None:
        track = room.remote_tracks.get(change.id)
        if track is None or track.track_kind != "audio" or change.id in self._recording:
            return
        if not isinstance(track.media, MediaStreamTrack):
            return  # a transport without real media (the memory service)
        self.directory.mkdir(parents=True, exist_ok=True)
        who = track.participant_identity or track.participant_sid
        path = self.directory / f"{who}-{track.track_name or change.id}-{next(self._serial)}.wav"
        recorder = MediaRecorder(str(path))
        recorder.addTrack(track.media)
        self._recording[change.id] = recorder
        self.files.append(path)
        await recorder.start()

    async def _stop(self, change: StateChange, _room: Room) -> None:
        recorder = self._recording.pop(change.id, None)
        if recorder is not None:
            await recorder.stop()

    async def aclose(self) -> None:
        """Stop every recording still running (leaving the room does, through the handlers)."""
        for sid in list(self._recording):
            await self._recording.pop(sid).stop()


async def follow_room(transport: AiortcTransport, options: ConnectOptions,
                      publish: Sequence[tuple[str, TrackKind]],
                      on_change: Callable[[StateChange], object],
                      stop: anyio.Event | None = None,
                      record: Path | None = None) -> str:
    """Join, publish ``publish``, report every change, and leave when the room is
    disconnected or ``stop`` is set; with ``record``, record every remote audio track there
    (:class:`AudioRecorder`). Returns the room's final state.

    Raises:
        ConnectError: joining failed (after the retries ``options.retry`` allows).
        AccessTokenError: the server refused the token (a ConnectError, 20101-20107).
    """
    dispatcher = Dispatcher()
    dispatcher.on_change(on_change)
    handlers = Handlers()
    recorder = AudioRecorder(record, handlers) if record is not None else None
    async with connect(transport, options, dispatcher=dispatcher, handlers=handlers) as room:
        for name, kind in publish:
            await room.publish(name, kind)
        async with anyio.create_task_group() as tasks:
            if stop is not None:
                async def stop_when_told() -> None:
                    await stop.wait()
                    tasks.cancel_scope.cancel()

                tasks.start_soon(stop_when_told)
            await room.wait_until(lambda: room.state == "disconnected", within=float("inf"))
            tasks.cancel_scope.cancel()
    if recorder is not None:
        await recorder.aclose()
    return room.state
