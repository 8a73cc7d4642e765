"""The Room API: one object per joined room, its machines, local actions and changes.

::

    handlers = rtcstate.Handlers()
    handlers.on("room", dest="reconnecting")(lambda change, room: print(change.error))
    async with rtcstate.connect(transport, options, handlers=handlers) as room:
        await room.wait_for("local_track", "published", id="camera", within=10)
        await room.background("camera")
        async for change in room.changes():
            ...

``connect`` joins (retrying retryable connection errors per ``options.retry``) and raises the
catalog exception if joining fails. Inside the block the transport's events drive the machines
through a :class:`~rtcstate.dispatcher.Dispatcher`; local actions are events too. An unexpected
disconnect is a :class:`StateChange` carrying the catalog error, as in the guide.

The lost-room rule: the moment the Room machine reaches ``disconnected`` (left, lost, or never
joined), every other machine of the room ends in the same step, before any other event is
processed: local tracks, then remote tracks, then participants, each in the order they were
made. A lost Room's error travels with them (``room_lost``, carrying its code of phase
"disconnect": 53001, 53002, 53205, 53405, 53118, ...); when the application left, or joining
failed, they end as they would on their own (``stop``, ``unpublished``, ``disconnected``).
From then on every event the transport still emits is rejected (reason ``source_closed``), and
every local action raises :class:`~rtcstate.errors.RoomEnded`. Leaving the block disconnects
(if still connected) and cancels every task it started.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Literal, TypeVar, cast

import anyio
import anyio.abc

from rtcstate import catalog
from rtcstate.adapters.base import SupportsRemoteMedia, SupportsVirtualTime, Transport
from rtcstate.clock import TimerHandle
from rtcstate.dispatcher import ChangeStream, Dispatcher
from rtcstate.errors import RoomEnded, RtcRuntimeError, error_for
from rtcstate.handlers import H, Handler, Handlers, check_names
from rtcstate.logs import get_logger
from rtcstate.models.base import Event, FacingMode, MachineKind, TrackKind
from rtcstate.models.local_track import (
    LocalTrackBackground,
    LocalTrackDisable,
    LocalTrackEnable,
    LocalTrackForeground,
    LocalTrackPublish,
    LocalTrackRestart,
    LocalTrackRoomLost,
    LocalTrackStop,
    LocalTrackUnpublish,
)
from rtcstate.models.options import ConnectOptions
from rtcstate.models.participant import ParticipantDisconnected, ParticipantRoomLost
from rtcstate.models.remote_track import RemoteTrackRoomLost, RemoteTrackUnpublished
from rtcstate.models.room import DisconnectErrorCode, RoomConnect, RoomDisconnect
from rtcstate.models.state_change import StateChange
from rtcstate.models.states import AnyState, AnyTrigger, RoomState
from rtcstate.statemachines.local_track import LocalTrackPublicationMachine
from rtcstate.statemachines.participant import ParticipantMachine
from rtcstate.statemachines.remote_track import RemoteTrackPublicationMachine
from rtcstate.statemachines.room import LOST_ROOM_ERRORS, RoomMachine
from rtcstate.statemachines.runtime import LifecycleMachine

__all__ = ["Room", "WaitTimedOut", "connect"]

_log = get_logger("rtcstate")


HANDLER_DRAIN_TIMEOUT = 5.0
"""Seconds the async handlers still queued when a room's block ends may take to run."""


class WaitTimedOut(RtcRuntimeError, TimeoutError):
    """:meth:`Room.wait_for` gave up: the machine did not get there in time."""


async def _awaiting_result(result: Awaitable[object]) -> None:
    await result


def _awaiting(result: Awaitable[object]) -> Handler:
    """An already-started handler call, as a handler the async queue can run in turn."""
    return lambda _change, _room: _awaiting_result(result)

_Action = Literal["connect", "disconnect"]
M = TypeVar("M", bound=LifecycleMachine)
_LOST_ROOM_ERROR_IDS = frozenset(entry.id for entry in LOST_ROOM_ERRORS)


class Room:
    """A room the local participant is in (or was: see :attr:`state`).

    Made by :func:`connect`; not meant to be constructed directly.

    Attributes:
        options: the connect options.
        transport: the transport it runs on.
        dispatcher: the dispatcher its machines run on.
        machine: the Room machine.
        handlers: the application's callbacks (:meth:`on` adds one).
    """

    def __init__(self, transport: Transport, options: ConnectOptions,
                 dispatcher: Dispatcher, handlers: Handlers | None = None) -> None:
        self.options = options
        self.transport = transport
        self.dispatcher = dispatcher
        self.handlers = handlers if handlers is not None else Handlers()
        self._latest: dict[tuple[str, str], StateChange] = {}
        self._handler_calls_send, self._handler_calls = (
            anyio.create_memory_object_stream[tuple[Handler, StateChange]](math.inf))
        self._handler_calls_pending = 0
        self._handlers_idle: anyio.Event | None = None
        # First: handlers hear every change, this machine's first transition included.
        dispatcher.on_change(self._call_handlers)
        self.machine = dispatcher.add(RoomMachine(options))
        for track in options.tracks:
            dispatcher.add(LocalTrackPublicationMachine.for_options(track.name, track.kind,
                                                                   options))
        dispatcher.create_on_event(ParticipantMachine)
        dispatcher.create_on_event(RemoteTrackPublicationMachine)
        dispatcher.on_change(self._react)
        self._events = transport.events()
        self._actions_send, self._actions = anyio.create_memory_object_stream[_Action](math.inf)
        self._pumped = 0
        self._actions_pending = 0
        self._changed: anyio.Event | None = None  # made only while wait_until waits
        self._leaving = False
        self._forgetting: dict[tuple[str, str], TimerHandle] = {}

    # -- what is there ---------------------------------------------------------------------

    @property
    def state(self) -> RoomState:
        """The Room machine's state."""
        return cast(RoomState, self.machine.state)

    @property
    def error(self) -> catalog.CatalogEntry | None:
        """The catalog error of the Room's last transition that carried one (a connection
        error, a reconnect's cause, the error it was lost with), or ``None``."""
        return self.machine.error

    def on(self, machine: MachineKind | None = None, *, dest: AnyState | None = None,
           trigger: AnyTrigger | None = None, id: str | None = None,  # noqa: A002
           ) -> Callable[[H], H]:
        """Add a handler (a decorator): see :class:`~rtcstate.handlers.Handlers`. To hear the
        connection phase too, give :func:`connect` a ``Handlers`` made beforehand.

        Raises:
            ValueError: a machine kind, state or trigger that does not exist.
        """
        return self.handlers.on(machine, dest=dest, trigger=trigger, id=id)

    async def wait_for(self, machine: MachineKind, dest: AnyState, *,
                       id: str | None = None, within: float) -> StateChange:  # noqa: A002
        """Wait until a machine of kind ``machine`` (instance ``id``, or any) is in ``dest``;
        return the change that took it there (at once if it is there already).

        Virtual time on a simulated transport, real time otherwise.

        Raises:
            ValueError: ``dest`` is not a state of ``machine``.
            RoomEnded: the room ended before (waiting for the room itself to be
                ``disconnected`` returns instead).
            WaitTimedOut: ``within`` seconds passed first (also a ``TimeoutError``).
        """
        check_names(machine, dest, None)

        def reached() -> StateChange | None:
            for (kind, instance), change in self._latest.items():
                if kind == machine and (id is None or instance == id) and change.dest == dest:
                    current = self.dispatcher.get(kind, instance)
                    if current is None or current.state == dest:
                        return change
            return None

        ended = await self.wait_until(lambda: reached() is not None or self.machine.is_terminal,
                                      within=within)
        found = reached()
        if found is not None:
            return found
        if ended:
            raise RoomEnded(self.name, self.state, f"wait_for({machine}, {dest})", self.error)
        raise WaitTimedOut(f"no {machine} reached {dest!r} within {within} s")

    @property
    def name(self) -> str:
        """The room name."""
        return self.options.room_name

    @property
    def local_tracks(self) -> Mapping[str, LocalTrackPublicationMachine]:
        """Local track publications, by track name."""
        return self._of_kind("local_track", LocalTrackPublicationMachine)

    @property
    def participants(self) -> Mapping[str, ParticipantMachine]:
        """Remote participants, by participant sid (including those who left, for
        ``options.departed_retention`` seconds)."""
        return self._of_kind("participant", ParticipantMachine)

    @property
    def remote_tracks(self) -> Mapping[str, RemoteTrackPublicationMachine]:
        """Remote track publications, by track sid (including unpublished ones, for
        ``options.departed_retention`` seconds)."""
        return self._of_kind("remote_track", RemoteTrackPublicationMachine)

    def changes(self) -> ChangeStream:
        """Every change from now on: ``async for change in room.changes()`` (ends with the
        block)."""
        return self.dispatcher.changes()

    # -- local actions ---------------------------------------------------------------------

    # Every action below raises RoomEnded (an InvalidTransition), changing and sending nothing,
    # once the Room is disconnected: the lost-room rule in the module docstring.

    async def publish(self, name: str, kind: TrackKind | None = None, *,
                      media: object | None = None) -> StateChange:
        """Publish a local track: a pre-acquired one by name, or a new one (give ``kind``).

        ``media`` is the application's own media for it (an aiortc ``MediaStreamTrack`` on the
        aiortc transport: a file through ``MediaPlayer``, a generated track); by default the
        transport's own source.

        Raises:
            RoomEnded: the room is no longer live.
            InvalidTransition: the track cannot be published in its state.
            ValueError: no track ``name`` exists and no ``kind`` was given, or ``media`` says
                it is of another kind (nothing is changed or sent).
            TypeError: the transport cannot send ``media``.
        """
        self._require_live("publish")
        track = self._find_track(name)
        wanted = kind if kind is not None else (track.track_kind if track else None)
        media_kind = getattr(media, "kind", None)
        if media is not None and media_kind is not None and media_kind != wanted:
            raise ValueError(f"the media for {name!r} is {media_kind}, the track {wanted}")
        if track is None:
            if kind is None:
                raise ValueError(f"no local track {name!r}; give its kind to create one "
                                 f"(known: {sorted(self.local_tracks)})")
            track = self.dispatcher.add(
                LocalTrackPublicationMachine.for_options(name, kind, self.options))
        change = await self._local(LocalTrackPublish(track_name=name, kind=track.track_kind))
        await self._send_publish(name, track.track_kind, media)
        return change

    async def unpublish(self, name: str) -> StateChange:
        """Unpublish a local track, keeping it.

        Raises:
            RoomEnded: the room is no longer live.
            InvalidTransition: the track is not published or publishing.
            ValueError: no track ``name`` exists.
        """
        self._require_live("unpublish")
        change = await self._local(self._track_event(LocalTrackUnpublish, name))
        await self.transport.unpublish(name)
        return change

    async def restart(self, name: str, *, facing_mode: FacingMode | None = None,
                      device_id: str | None = None) -> StateChange:
        """Restart a track's source with new constraints, staying published (camera switch).

        Raises:
            RoomEnded: the room is no longer live.
            InvalidTransition: the track is not on air (``GuardRejected`` for a data track).
            ValueError: no track ``name`` exists.
        """
        self._require_live("restart")
        track = self._track(name)
        return await self._local(LocalTrackRestart(track_name=name, kind=track.track_kind,
                                                   facing_mode=facing_mode, device_id=device_id))

    async def enable(self, name: str) -> StateChange:
        """Enable a disabled local track.

        Raises:
            RoomEnded: the room is no longer live.
            InvalidTransition: the track is not disabled.
            ValueError: no track ``name`` exists.
        """
        self._require_live("enable")
        return await self._local(self._track_event(LocalTrackEnable, name))

    async def disable(self, name: str) -> StateChange:
        """Disable a local track (it stays published).

        Raises:
            RoomEnded: the room is no longer live.
            InvalidTransition: the track is not published.
            ValueError: no track ``name`` exists.
        """
        self._require_live("disable")
        return await self._local(self._track_event(LocalTrackDisable, name))

    async def background(self, name: str = "camera") -> StateChange:
        """The app went to the background: stop and unpublish the camera track (mobile).

        Raises:
            RoomEnded: the room is no longer live.
            InvalidTransition: the track is not on air (``GuardRejected``: not a camera).
            ValueError: no track ``name`` exists.
        """
        self._require_live("background")
        change = await self._local(self._track_event(LocalTrackBackground, name))
        await self.transport.unpublish(name)
        return change

    async def foreground(self, name: str = "camera", *,
                         media: object | None = None) -> StateChange:
        """The app is back: publish a new camera track (``media``, or the transport's own).

        Raises:
            RoomEnded: the room is no longer live.
            InvalidTransition: the track is not backgrounded.
            ValueError: no track ``name`` exists.
        """
        self._require_live("foreground")
        change = await self._local(self._track_event(LocalTrackForeground, name))
        await self._send_publish(name, self._track(name).track_kind, media)
        return change

    async def _send_publish(self, name: str, kind: TrackKind, media: object | None) -> None:
        if media is None:  # the protocol's original form: adapters written before media work
            await self.transport.publish(name, kind)
        else:
            await self.transport.publish(name, kind, media)

    async def stop(self, name: str) -> StateChange:
        """Stop a local track for good (unpublishing it if needed).

        Raises:
            RoomEnded: the room is no longer live (its tracks were stopped with it).
            InvalidTransition: the track is already stopped.
            ValueError: no track ``name`` exists.
        """
        self._require_live("stop")
        was_published = self._track(name).state not in ("created", "unpublished", "backgrounded")
        change = await self._local(self._track_event(LocalTrackStop, name))
        if was_published:
            await self.transport.unpublish(name)
        return change

    async def disconnect(self) -> StateChange | None:
        """Leave the room (do it on page hide); ``None`` if it is already disconnected.

        Every machine of the room ends in the same step (the lost-room rule).
        """
        if self.machine.is_terminal:
            return None
        return await self._local(RoomDisconnect(room_name=self.name))

    # -- waiting ---------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], bool], *, within: float) -> bool:
        """Wait until ``predicate()`` holds (checked after each change), ``within`` s at most.

        On a simulated transport this runs virtual time; otherwise real time. Returns whether
        the predicate holds.
        """
        if isinstance(self.transport, SupportsVirtualTime):
            return await self.transport.virtual_time.run_until(predicate, within=within)
        with anyio.move_on_after(within):
            while not predicate():
                if self._changed is None:
                    self._changed = anyio.Event()
                await self._changed.wait()
        return predicate()

    # -- internals -------------------------------------------------------------------------

    def _of_kind(self, kind: str, cls: type[M]) -> dict[str, M]:
        return {key[1]: machine for key, machine in self.dispatcher.machines.items()
                if key[0] == kind and isinstance(machine, cls)}

    def _find_track(self, name: str) -> LocalTrackPublicationMachine | None:
        track = self.dispatcher.machines.get(("local_track", name))
        return track if isinstance(track, LocalTrackPublicationMachine) else None

    def _track(self, name: str) -> LocalTrackPublicationMachine:
        track = self._find_track(name)
        if track is None:
            raise ValueError(f"no local track {name!r} (known: {sorted(self.local_tracks)})")
        return track

    def _track_event(self, cls: type[Event], name: str) -> Event:
        return cls.model_validate({"track_name": name, "kind": self._track(name).track_kind})

    async def _local(self, event: Event) -> StateChange:
        return await self.dispatcher.submit(event, source="app")

    def _require_live(self, action: str) -> None:
        if self.machine.is_terminal:
            raise RoomEnded(self.name, self.state, action, self.error)

    def _end_machines(self, error: catalog.CatalogEntry | None) -> None:
        """The lost-room rule: every other machine of the room ends in this very step."""
        self.dispatcher.close_source("transport", f"room {self.name!r} is disconnected")
        code = (cast(DisconnectErrorCode, error.code)
                if error is not None and error.id in _LOST_ROOM_ERROR_IDS else None)
        endings: list[Event] = []
        for name, track in self.local_tracks.items():
            if not track.is_terminal:
                fields: dict[str, Any] = {"track_name": name, "kind": track.track_kind}
                endings.append(LocalTrackStop(**fields) if code is None
                               else LocalTrackRoomLost(**fields, error_code=code))
        for sid, remote in self.remote_tracks.items():
            if not remote.is_terminal:
                ids: dict[str, Any] = {"track_sid": sid, "participant_sid": remote.participant_sid,
                       "kind": remote.track_kind}
                endings.append(RemoteTrackUnpublished(**ids) if code is None
                               else RemoteTrackRoomLost(**ids, error_code=code))
        for sid, participant in self.participants.items():
            if not participant.is_terminal:
                who: dict[str, Any] = {"participant_sid": sid, "identity": participant.identity}
                endings.append(ParticipantDisconnected(**who) if code is None
                               else ParticipantRoomLost(**who, error_code=code))
        for event in endings:
            self.dispatcher.follow_up(event, source="room")

    def _call_handlers(self, change: StateChange) -> None:
        self._latest[(change.machine, change.id)] = change
        if change.machine == "remote_track":
            self._track_media(change)
        for handler in self.handlers.matching(change):
            if inspect.iscoroutinefunction(handler):
                self._handler_calls_pending += 1
                self._handler_calls_send.send_nowait((handler, change))
                continue
            try:
                result = handler(change, self)
            except Exception:
                self._handler_failed(handler, change)
                continue
            if inspect.isawaitable(result):  # a callable object whose __call__ is async
                self._handler_calls_pending += 1
                self._handler_calls_send.send_nowait((_awaiting(result), change))

    def _track_media(self, change: StateChange) -> None:
        """A subscribed remote track carries the transport's media object; others none."""
        remote = self.dispatcher.get("remote_track", change.id)
        if not isinstance(remote, RemoteTrackPublicationMachine):
            return
        if change.dest in ("subscribed", "switched_off"):
            if remote.media is None and isinstance(self.transport, SupportsRemoteMedia):
                remote.media = self.transport.remote_media(change.id)
        else:
            remote.media = None

    def _handler_failed(self, handler: Handler, change: StateChange) -> None:
        self.handlers.errors += 1
        _log.exception("handler_failed", handler=getattr(handler, "__qualname__", repr(handler)),
                       machine=change.machine, id=change.id, dest=change.dest)

    async def _run_async_handlers(self) -> None:
        """Async handlers, one at a time, in the order of the changes they were called for."""
        async for handler, change in self._handler_calls:
            try:
                result = handler(change, self)
                if result is not None:
                    await result
            except Exception:
                self._handler_failed(handler, change)
            finally:
                self._handler_calls_pending -= 1
                if not self._handler_calls_pending and self._handlers_idle is not None:
                    self._handlers_idle.set()

    async def _drain_handlers(self, within: float) -> None:
        """Let the async handlers still queued run (the changes of leaving included), for
        ``within`` seconds at most: a handler that never returns cannot hold the exit."""
        with anyio.move_on_after(within):
            while self._handler_calls_pending:
                self._handlers_idle = anyio.Event()
                await self._handlers_idle.wait()

    def _react(self, change: StateChange) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()
        if change.machine != "room":
            if change.machine in ("participant", "remote_track") and change.dest in (
                    "disconnected", "unpublished") and not self.machine.is_terminal:
                self._forget_later(change.machine, change.id)
            return
        if change.dest == "connecting" and change.event == "retry":
            self._queue_action("connect")
        elif change.dest == "disconnected":
            self._end_machines(change.error)
            if not self._leaving:
                self._queue_action("disconnect")  # lost it: tell the transport we are gone too

    def _forget_later(self, kind: str, id: str) -> None:  # noqa: A002 - the domain's word
        """Unregister a departed participant's or unpublished track's machine after the
        retention (a long-lived room would otherwise hold every one that ever was)."""
        retention = self.options.departed_retention
        clock = self.dispatcher.clock
        if retention is None or clock is None:
            return

        def forget() -> None:
            self._forgetting.pop((kind, id), None)
            machine = self.dispatcher.machines.get((kind, id))
            if machine is not None and machine.is_terminal:
                self.dispatcher.remove(machine)
                self._latest.pop((kind, id), None)

        earlier = self._forgetting.pop((kind, id), None)
        if earlier is not None:  # the sid came back and ended again: the retention restarts
            earlier.cancel()
        self._forgetting[(kind, id)] = clock.call_later(retention, forget)

    def _queue_action(self, action: _Action) -> None:
        self._actions_pending += 1
        self._actions_send.send_nowait(action)

    async def _pump(self) -> None:
        async with self._events:
            async for event in self._events:
                self._pumped += 1
                self.dispatcher.send_nowait(event, source="transport")

    async def _act(self) -> None:
        async with self._actions:
            async for action in self._actions:
                try:
                    if action == "connect":
                        await self.transport.connect(self.options)
                    else:
                        await self.transport.disconnect()
                finally:
                    self._actions_pending -= 1

    def _idle(self) -> bool:
        """Caught up with the transport, the queue and the reactions (for virtual time)."""
        transport = self.transport
        caught_up = (not isinstance(transport, SupportsVirtualTime)
                     or transport.emitted == self._pumped)
        return (caught_up and not self.dispatcher.stats.pending and not self._actions_pending
                and not self._handler_calls_pending)

    async def _join(self, within: float) -> None:
        await self._local(RoomConnect(room_name=self.name, identity=self.options.identity))
        await self.transport.connect(self.options)
        ended = await self.wait_until(lambda: self.state in ("connected", "disconnected"),
                                      within=within)
        if self.state == "disconnected":
            raise error_for(self.error or catalog.by_code(53000)[0], "joining failed")
        if not ended:
            await self.disconnect()
            raise error_for(catalog.by_code(53000)[0], f"no answer within {within} s")
        for track in self.options.tracks:
            await self.publish(track.name, media=track.media)

    async def _leave(self) -> None:
        """Bring every machine to a terminal state, as the local participant sees it."""
        self._leaving = True
        for handle in self._forgetting.values():
            handle.cancel()  # the room ends with everything it holds
        self._forgetting.clear()
        await self.disconnect()  # ends every machine of the room, if it had not ended yet
        # Told after, so what it emits on the way out is rejected (its source is closed) and
        # counted, instead of creating machines after the others were ended.
        await self.transport.disconnect()
        await self._catch_up()

    async def _catch_up(self) -> None:
        """Wait until every event the transport has emitted is pumped and applied."""
        statistics = getattr(self._events, "statistics", None)
        while True:
            await anyio.lowlevel.checkpoint()  # lets the pump take what is buffered
            await self.dispatcher.drain()
            if statistics is None or not statistics().current_buffer_used:
                return


@asynccontextmanager
async def connect(transport: Transport, options: ConnectOptions, *,
                  handlers: Handlers | None = None, dispatcher: Dispatcher | None = None,
                  connect_timeout: float = 60.0) -> AsyncIterator[Room]:
    """Join a room over ``transport``; leaving the block leaves the room and cleans up.

    Args:
        transport: any :class:`~rtcstate.adapters.base.Transport`; closed on exit.
        options: what to join and how.
        handlers: callbacks that hear every change from the first (``idle -> connecting``).
        dispatcher: where the machines run (a new one by default, on the transport's virtual
            time if it has one). Pass one that already holds device machines to see everything
            in one place.
        connect_timeout: seconds to wait for the join (retries included).

    Raises:
        ConnectError: the catalog exception for the connection error (any code of phase
            "connect": 53000, 53105, 53106, 53405, an ``AccessTokenError`` for 20101-20107,
            ...), after the retries ``options.retry`` allows.
        DisconnectError: the room was lost while joining (53205 by a second join, say).
    """
    if dispatcher is None:
        clock = (transport.virtual_time.clock if isinstance(transport, SupportsVirtualTime)
                 else None)
        dispatcher = Dispatcher(clock=clock)
    room = Room(transport, options, dispatcher, handlers)
    unregister: Callable[[], None] | None = None
    if isinstance(transport, SupportsVirtualTime):
        unregister = transport.virtual_time.register(room._idle)
    # Exceptions are carried out of the task groups and re-raised as they are: a caller
    # writes `except RoomNotFoundError`, not `except* ...` through three nested groups.
    failure: Exception | None = None
    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(transport)
            await stack.enter_async_context(dispatcher)
            tasks = await stack.enter_async_context(anyio.create_task_group())
            tasks.start_soon(room._pump)
            tasks.start_soon(room._run_async_handlers)
            tasks.start_soon(room._act)
            try:
                await room._join(connect_timeout)
            except Exception as exc:  # re-raised below, unwrapped
                failure = exc
            if failure is None:
                try:
                    yield room
                except Exception as exc:  # re-raised below, unwrapped
                    failure = exc
            with anyio.CancelScope(shield=True):
                await room._leave()
                if isinstance(transport, SupportsVirtualTime):
                    await transport.virtual_time.settle()
                else:
                    await dispatcher.drain()
                await room._drain_handlers(HANDLER_DRAIN_TIMEOUT)
            tasks.cancel_scope.cancel()
    finally:
        dispatcher.open_source("transport")
        room._actions_send.close()
        room._actions.close()
        room._handler_calls_send.close()
        room._handler_calls.close()
        if unregister is not None:
            unregister()
    if failure is not None:
        raise failure
