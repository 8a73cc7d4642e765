"""The embedded default transport: an in-process room service on virtual time.

:class:`MemoryRoomService` holds the one private state that all its clients share, like the two
ends of an anyio memory object stream: rooms, participants, publications and subscriptions.
:meth:`MemoryRoomService.transport` makes a :class:`MemoryTransport` for one more local
participant. Everything is deterministic from ``seed`` and runs on the service's
:class:`~rtcstate.clock.VirtualTime`, so an hour-long scenario takes milliseconds.

The service enforces the guide's server-side rules (room full: 53105; room not found with ad-hoc
rooms disabled: 53106; the same identity joining again disconnects the older participant: 53205;
server busy: 53006), the name limits of :mod:`rtcstate.limits` (53100-53102, 53200-53202,
53301-53303), and the publication rules (a name already published: 53304; one track more than
``max_publications``: 53203), and can be told to misbehave: scripted faults (signaling drop, session
expiry, media loss on one track, media-connection failure, switch-off) and random message faults
(drop, duplicate, reorder, delay). :class:`MemoryMediaDevices` simulates capture devices,
including every media error of the guide, a silent microphone and a camera with no frames.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from rtcstate import catalog
from rtcstate.adapters.base import CapturedMedia, MediaConstraints
from rtcstate.clock import VirtualClock, VirtualTime
from rtcstate.errors import error_for
from rtcstate.limits import MAX_PUBLICATIONS, join_refusal, publication_refusal
from rtcstate.models.base import DeviceKind, Event, TrackKind
from rtcstate.models.local_track import (
    LocalTrackPublished,
    LocalTrackPublishFailed,
    LocalTrackWarning,
    LocalTrackWarningsCleared,
    PublishErrorCode,
    publish_error_code,
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
    RoomReconnected,
    RoomReconnecting,
)

__all__ = [
    "DeviceBehaviour",
    "DeliveryStats",
    "MemoryMediaDevices",
    "MemoryRoomService",
    "MemoryTransport",
    "MessageFaults",
    "SimulatedFrame",
    "SimulatedMedia",
]

MEDIA_LOST = "recording-media-lost"


@dataclass(frozen=True, slots=True)
class MessageFaults:
    """Probabilities that the service mishandles one event on its way to a client.

    Each event draws once: dropped, duplicated, delayed by up to ``max_delay`` seconds, or held
    back until the next event to the same client has gone (reordered). The probabilities must
    add up to at most 1.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        total = self.drop + self.duplicate + self.reorder + self.delay
        if min(self.drop, self.duplicate, self.reorder, self.delay) < 0 or total > 1:
            raise ValueError(f"fault probabilities must be >= 0 and add up to <= 1, not {total}")


@dataclass
class DeliveryStats:
    """What the service did with the events it sent to clients."""

    sent: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0
    reordered: int = 0


@dataclass(eq=False)
class _Track:
    sid: str
    name: str
    kind: TrackKind
    publisher: _Participant
    media_flowing: bool = True
    warned: bool = False
    losses: int = 0  # media losses so far: which one a scheduled warning or end is for
    subscribers: set[str] = field(default_factory=set)  # participant sids receiving it


@dataclass(eq=False)
class _Participant:
    sid: str
    identity: str
    room: _Room
    transport: MemoryTransport
    options: ConnectOptions
    tracks: dict[str, _Track] = field(default_factory=dict)
    # (publisher identity, track name) it is not to be subscribed to: subscription rules
    unsubscribed: set[tuple[str, str]] = field(default_factory=set)
    failing_subscriptions: int = 0  # scripted: the next ones fail with 53407


@dataclass(eq=False)
class _Room:
    name: str
    sid: str
    ad_hoc: bool = False
    participants: dict[str, _Participant] = field(default_factory=dict)

    def with_identity(self, identity: str) -> _Participant | None:
        return next((p for p in self.participants.values() if p.identity == identity), None)


class MemoryRoomService:
    """An in-process room service: the shared state behind any number of :class:`MemoryTransport`.

    Args:
        time: the virtual time to run on (a new one by default).
        seed: seeds every random choice (message faults), for reproducible runs.
        max_participants: per room; one more gets 53105.
        max_publications: tracks one participant may publish at once; one more gets 53203.
        ad_hoc_rooms: create rooms on first join; when False, joining an unknown room gets 53106.
        rooms: rooms that exist from the start.
        latency: seconds each request takes to reach the service.
        media_lost_after: seconds without media before ``recording-media-lost`` (30 in the guide).
        message_faults: random mishandling of events on their way to clients.
    """

    def __init__(self, *, time: VirtualTime | None = None, seed: int = 0,
                 max_participants: int = 50, max_publications: int = MAX_PUBLICATIONS,
                 ad_hoc_rooms: bool = True, rooms: Iterable[str] = (), latency: float = 0.05,
                 media_lost_after: float = 30.0,
                 message_faults: MessageFaults | None = None) -> None:
        self.virtual_time = time or VirtualTime()
        self.random = random.Random(seed)
        self.max_participants = max_participants
        self.max_publications = max_publications
        self.ad_hoc_rooms = ad_hoc_rooms
        self.latency = latency
        self.media_lost_after = media_lost_after
        self.message_faults = message_faults
        self.busy = False
        self.delivery = DeliveryStats()
        self._rooms: dict[str, _Room] = {}
        self._failures: dict[str, list[int]] = {}
        self._publish_failures: dict[str, list[PublishErrorCode]] = {}
        self._interrupted: dict[str, int] = {}  # participant sid -> what broke: 53001 or 53405
        # participant sid -> 53002 or 53205, told when it resumes
        self._verdicts: dict[str, Literal[53002, 53205]] = {}
        self._serial = 0
        for name in rooms:
            self.create_room(name)

    @property
    def clock(self) -> VirtualClock:
        """The virtual clock every timer of the simulation runs on."""
        return self.virtual_time.clock

    # -- set-up and inspection ---------------------------------------------------------------

    def transport(self) -> MemoryTransport:
        """A new client of this service, for one local participant."""
        return MemoryTransport(self)

    def create_room(self, name: str) -> None:
        """Create a room (as the REST API would when ad-hoc rooms are disabled)."""
        if name not in self._rooms:
            self._rooms[name] = _Room(name, self._new_sid("RM"))

    def identities(self, room: str) -> list[str]:
        """Identities in ``room``, in the order they joined."""
        found = self._rooms.get(room)
        return [p.identity for p in found.participants.values()] if found else []

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

    # -- scripted faults -----------------------------------------------------------------------

    def fail_next_joins(self, identity: str, code: int, times: int = 1) -> None:
        """The next ``times`` joins by ``identity`` fail with connection error ``code``.

        Raises:
            ValueError: ``code`` is not a connection error (phase "connect").
        """
        if not any(entry.phase == "connect" for entry in catalog.by_code(code)):
            raise ValueError(f"{code} is not a connection error")
        self._failures.setdefault(identity, []).extend([code] * times)

    def drop_signaling(self, identity: str, *, duration: float | None = None) -> None:
        """Cut ``identity``'s signaling for ``duration`` s: it reconnects if that is within its
        reconnect window, else its window expires (53001). ``None``: until
        :meth:`restore_connection`."""
        self._interrupt(identity, 53001, duration)

    def fail_media_connection(self, identity: str, *, duration: float | None = None) -> None:
        """Break ``identity``'s media connection: 53405 unless it recovers within the window."""
        self._interrupt(identity, 53405, duration)

    def restore_connection(self, identity: str) -> None:
        """End an interruption of ``identity`` now (it reconnects).

        Raises:
            LookupError: ``identity`` is not connected or not interrupted.
        """
        participant = self._participant(identity)
        if participant.sid not in self._interrupted:
            raise LookupError(f"{identity!r} is not interrupted")
        self._restore(participant)

    def expire_session(self, identity: str) -> None:
        """End ``identity``'s session (53002): it is disconnected and removed (a participant
        whose signaling is down hears it when it resumes)."""
        participant = self._participant(identity)
        self._tell_verdict(participant, 53002)
        self._remove(participant)

    def lose_media(self, identity: str, track_name: str, *, duration: float | None = None) -> None:
        """Stop the media of one published track for ``duration`` s (``None``: until
        :meth:`restore_media`).

        After ``media_lost_after`` s without media the publisher gets ``recording-media-lost``
        (if it asked for it); it is cleared when media resumes.

        Raises:
            LookupError: no such participant or track.
        """
        track = self._find_track(identity, track_name)
        track.media_flowing = False
        track.losses += 1
        loss = track.losses
        self.clock.call_later(self.media_lost_after, lambda: self._warn_if_still_lost(track, loss))
        if duration is not None:
            self.clock.call_later(duration, lambda: self._resume_media(track, loss))

    def restore_media(self, identity: str, track_name: str) -> None:
        """End a :meth:`lose_media` loss now.

        Raises:
            LookupError: no such participant or track.
        """
        track = self._find_track(identity, track_name)
        self._resume_media(track, track.losses)

    def fail_next_publications(self, identity: str, code: int, times: int = 1) -> None:
        """The next ``times`` publications by ``identity`` are refused with ``code`` (a code
        a publication can be refused with: 53125, 53203, 53300-53305).

        Raises:
            ValueError: ``code`` is not one of those.
        """
        self._publish_failures.setdefault(identity, []).extend(
            [publish_error_code(code)] * times)

    def fail_next_subscriptions(self, identity: str, times: int = 1) -> None:
        """The next ``times`` subscriptions of ``identity`` fail with 53407 (its media
        connection for them could not be secured)."""
        self._participant(identity).failing_subscriptions += times

    def unsubscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        """Do not subscribe ``subscriber`` to ``publisher``'s track ``track_name`` (published
        now or later), as a subscription rule would: a current subscription ends (it is told
        ``unsubscribed``), and none is made until :meth:`subscribe`.

        Raises:
            LookupError: ``subscriber`` is not connected.
        """
        participant = self._participant(subscriber)
        participant.unsubscribed.add((publisher, track_name))
        track = self._published(participant, publisher, track_name)
        if track is not None and participant.sid in track.subscribers:
            track.subscribers.discard(participant.sid)
            self._deliver(participant.transport, RemoteTrackUnsubscribed(**_ids(track)))

    def subscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        """Lift an :meth:`unsubscribe` rule, and subscribe ``subscriber`` to that track now if
        it is published and not subscribed (after a subscription that failed, say).

        Raises:
            LookupError: ``subscriber`` is not connected.
        """
        participant = self._participant(subscriber)
        participant.unsubscribed.discard((publisher, track_name))
        track = self._published(participant, publisher, track_name)
        if track is not None:
            self._subscribe(track, participant)

    def switch_off(self, subscriber: str, track_sid: str, *, on: bool = False) -> None:
        """Stop (or, with ``on``, resume) forwarding a track to ``subscriber``.

        Raises:
            LookupError: no such participant or track.
        """
        participant, track = self._subscription_of(subscriber, track_sid)
        if participant.sid in track.subscribers:
            cls = RemoteTrackSwitchedOn if on else RemoteTrackSwitchedOff
            self._deliver(participant.transport, cls(**_ids(track)))

    # -- requests from transports --------------------------------------------------------------

    def _later(self, action: Callable[[], None]) -> None:
        self.clock.call_later(self.latency, action)

    def _join(self, transport: MemoryTransport, options: ConnectOptions) -> None:
        room_name = options.room_name
        code = self._connect_failure(options)
        if code is not None:
            self._deliver(transport, RoomConnectFailed.model_validate(
                {"room_name": room_name, "error_code": code}))
            return
        existing = self._rooms.get(room_name)
        older = existing.with_identity(options.identity) if existing else None
        if older is not None:
            self._tell_verdict(older, 53205)
            self._remove(older)  # which may delete the emptied room
        room = self._rooms.get(room_name)
        if room is None:
            room = self._rooms[room_name] = _Room(room_name, self._new_sid("RM"), ad_hoc=True)
        joined = _Participant(self._new_sid("PA"), options.identity, room, transport, options)
        transport.participant = joined
        self._deliver(transport, RoomConnected(room_name=room_name, room_sid=room.sid,
                                               participant_sid=joined.sid))
        for other in room.participants.values():
            self._deliver(transport, ParticipantConnected(participant_sid=other.sid,
                                                          identity=other.identity))
            for track in other.tracks.values():
                self._announce(track, joined)
            self._deliver(other.transport, ParticipantConnected(participant_sid=joined.sid,
                                                                identity=joined.identity))
        room.participants[joined.sid] = joined

    def _connect_failure(self, options: ConnectOptions) -> int | None:
        scripted = self._failures.get(options.identity)
        if scripted:
            return scripted.pop(0)
        refused = join_refusal(options.room_name, options.identity)
        if refused is not None:
            return refused
        if self.busy:
            return 53006
        room = self._rooms.get(options.room_name)
        if room is None and not self.ad_hoc_rooms:
            return 53106
        if room is not None and len(room.participants) >= self.max_participants and (
                room.with_identity(options.identity) is None):
            return 53105
        return None

    def _publish(self, transport: MemoryTransport, name: str, kind: TrackKind) -> None:
        participant = transport.participant
        if participant is None or participant.sid not in participant.room.participants:
            return  # left before the request arrived
        refused: PublishErrorCode | None = publication_refusal(
            name, duplicate=name in participant.tracks,
            full=len(participant.tracks) >= self.max_publications)
        scripted = self._publish_failures.get(participant.identity)
        if refused is None and scripted:
            refused = scripted.pop(0)
        if refused is not None:
            self._deliver(transport, LocalTrackPublishFailed(
                track_name=name, kind=kind, error_code=refused,
                message=f"publication refused: {refused}"))
            return
        track = _Track(self._new_sid("MT"), name, kind, participant)
        participant.tracks[name] = track
        self._deliver(transport, LocalTrackPublished(track_name=name, kind=kind,
                                                     track_sid=track.sid))
        for other in participant.room.participants.values():
            if other is not participant:
                self._announce(track, other)

    def _unpublish(self, transport: MemoryTransport, name: str) -> None:
        participant = transport.participant
        track = participant.tracks.pop(name, None) if participant else None
        if track is not None:
            self._retract(track)

    def _leave(self, transport: MemoryTransport) -> None:
        participant = transport.participant
        if participant is not None and participant.sid in participant.room.participants:
            self._remove(participant)

    # -- internals -----------------------------------------------------------------------------

    def _new_sid(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self._serial:04d}"

    def _participant(self, identity: str) -> _Participant:
        for room in self._rooms.values():
            found = room.with_identity(identity)
            if found is not None:
                return found
        raise LookupError(f"no participant {identity!r} is connected")

    def _find_track(self, identity: str, track_name: str) -> _Track:
        track = self._participant(identity).tracks.get(track_name)
        if track is None:
            raise LookupError(f"{identity!r} publishes no track {track_name!r}")
        return track

    @staticmethod
    def _published(subscriber: _Participant, publisher: str, track_name: str) -> _Track | None:
        other = subscriber.room.with_identity(publisher)
        return other.tracks.get(track_name) if other is not None and other is not subscriber \
            else None

    def _subscription_of(self, subscriber: str, track_sid: str) -> tuple[_Participant, _Track]:
        participant = self._participant(subscriber)
        track = self._track(participant.room, track_sid)
        if track.publisher is participant:
            raise LookupError(f"{subscriber!r} publishes {track_sid!r}; it cannot subscribe")
        return participant, track

    def _track(self, room: _Room, track_sid: str) -> _Track:
        for participant in room.participants.values():
            for track in participant.tracks.values():
                if track.sid == track_sid:
                    return track
        raise LookupError(f"no track {track_sid!r} in room {room.name!r}")

    def _announce(self, track: _Track, to: _Participant) -> None:
        self._deliver(to.transport, RemoteTrackPublished(
            **_ids(track), track_name=track.name, participant_identity=track.publisher.identity))
        self._subscribe(track, to)

    def _subscribe(self, track: _Track, to: _Participant) -> None:
        if to.sid in track.subscribers or (track.publisher.identity, track.name) in to.unsubscribed:
            return
        if to.failing_subscriptions:
            to.failing_subscriptions -= 1
            self._deliver(to.transport, RemoteTrackSubscriptionFailed(
                **_ids(track), error_code=53407, message="scripted subscription failure"))
            return
        track.subscribers.add(to.sid)
        self._deliver(to.transport, RemoteTrackSubscribed(**_ids(track)))

    def _retract(self, track: _Track) -> None:
        for other in track.publisher.room.participants.values():
            if other is not track.publisher:
                if other.sid in track.subscribers:
                    self._deliver(other.transport, RemoteTrackUnsubscribed(**_ids(track)))
                self._deliver(other.transport, RemoteTrackUnpublished(**_ids(track)))
        track.subscribers.clear()

    def _tell_verdict(self, participant: _Participant, code: Literal[53002, 53205]) -> None:
        """Tell ``participant`` its session is over: now, or when it resumes if its signaling
        is down (it cannot hear the server until then)."""
        if self._interrupted.get(participant.sid) == 53001:
            self._verdicts[participant.sid] = code
        else:
            self._deliver(participant.transport,
                          RoomDisconnected(room_name=participant.room.name, error_code=code))

    def _remove(self, participant: _Participant) -> None:
        room = participant.room
        self._interrupted.pop(participant.sid, None)
        room.participants.pop(participant.sid, None)
        if not room.participants and room.ad_hoc and self._rooms.get(room.name) is room:
            del self._rooms[room.name]  # an empty ad-hoc room is gone; joining makes it anew
        for track in list(participant.tracks.values()):
            self._retract(track)
        participant.tracks.clear()
        for other in room.participants.values():
            self._deliver(other.transport, ParticipantDisconnected(
                participant_sid=participant.sid, identity=participant.identity))
        if participant.transport.participant is participant:
            participant.transport.participant = None

    def _interrupt(self, identity: str, code: Literal[53001, 53405],
                   duration: float | None) -> None:
        participant = self._participant(identity)
        room = participant.room
        self._interrupted[participant.sid] = code
        self._deliver(participant.transport, RoomReconnecting(room_name=room.name, error_code=code))
        self._tell_others(participant, ParticipantReconnecting)
        if duration is not None and duration < participant.options.reconnect.window:
            self.clock.call_later(duration, lambda: self._restore(participant))

    def _restore(self, participant: _Participant) -> None:
        verdict = self._verdicts.pop(participant.sid, None)
        if verdict is not None:  # removed while it could not hear: it learns why on resuming
            self._deliver(participant.transport, RoomDisconnected(
                room_name=participant.room.name, error_code=verdict))
        elif participant.sid in participant.room.participants and (
                participant.sid in self._interrupted):
            del self._interrupted[participant.sid]
            self._deliver(participant.transport,
                          RoomReconnected(room_name=participant.room.name))
            self._tell_others(participant, ParticipantReconnected)

    def _tell_others(self, participant: _Participant,
                     cls: type[ParticipantReconnecting | ParticipantReconnected]) -> None:
        for other in participant.room.participants.values():
            if other is not participant:
                self._deliver(other.transport, cls(participant_sid=participant.sid,
                                                   identity=participant.identity))

    def _warn_if_still_lost(self, track: _Track, loss: int) -> None:
        publisher = track.publisher
        if (track.media_flowing or track.losses != loss or track.warned
                or publisher.tracks.get(track.name) is not track
                or MEDIA_LOST not in publisher.options.notify_warnings):
            return
        track.warned = True
        self._deliver(publisher.transport, LocalTrackWarning(
            track_name=track.name, kind=track.kind, track_sid=track.sid, warning=MEDIA_LOST))

    def _resume_media(self, track: _Track, loss: int) -> None:
        if track.media_flowing or track.losses != loss:
            return  # restored already; a later loss is not this one's to end
        track.media_flowing = True
        if track.warned and track.publisher.tracks.get(track.name) is track:
            track.warned = False
            self._deliver(track.publisher.transport, LocalTrackWarningsCleared(
                track_name=track.name, kind=track.kind, track_sid=track.sid))

    def _deliver(self, transport: MemoryTransport, event: Event) -> None:
        self.delivery.sent += 1
        faults = self.message_faults
        if faults is None:
            transport.emit(event)
            return
        draw = self.random.random()
        if draw < faults.drop:
            self.delivery.dropped += 1
            return
        draw -= faults.drop
        if draw < faults.duplicate:
            self.delivery.duplicated += 1
            transport.emit(event)
            transport.emit(event)
            transport.flush_held()
            return
        draw -= faults.duplicate
        if draw < faults.delay:
            self.delivery.delayed += 1
            self.clock.call_later(self.random.uniform(0, faults.max_delay),
                                  lambda: transport.emit(event))
            return
        draw -= faults.delay
        if draw < faults.reorder and transport.held is None:
            self.delivery.reordered += 1
            transport.held = event
            self.clock.call_later(faults.max_delay, transport.flush_held)
            return
        transport.emit(event)
        transport.flush_held()


@dataclass(frozen=True, slots=True)
class SimulatedFrame:
    """One frame of :class:`SimulatedMedia`: its index and its time on the virtual clock."""

    index: int
    at: float


class SimulatedMedia:
    """What a :class:`MemoryTransport` hands over for a subscribed remote track: frames on
    virtual time (50 per second for audio, 30 for video, from the subscription on), so
    application code that reads received media runs on the simulation too.

    ``await media.recv()`` returns the next :class:`SimulatedFrame`: at once if its time has
    passed (frames wait for their reader, like a receive buffer), else when it comes. Frames
    due before the subscription ended are still read; after them ``recv`` raises
    ``anyio.EndOfStream``.
    """

    def __init__(self, kind: TrackKind, track_sid: str, clock: VirtualClock) -> None:
        self.kind = kind
        self.track_sid = track_sid
        self._clock = clock
        self._period = 1 / 50 if kind == "audio" else 1 / 30
        self._start = clock.now()
        self._next = 0
        self._ended_at: float | None = None
        self._ended = anyio.Event()

    @property
    def ended(self) -> bool:
        """Whether the subscription has ended (frames due before it may remain to read)."""
        return self._ended_at is not None

    async def recv(self) -> SimulatedFrame:
        """The next frame. Raises ``anyio.EndOfStream`` after the last one."""
        due_at = self._start + (self._next + 1) * self._period
        if self._ended_at is not None and due_at > self._ended_at:
            raise anyio.EndOfStream
        if self._clock.now() < due_at:
            due = anyio.Event()
            handle = self._clock.call_later(due_at - self._clock.now(), due.set)
            async with anyio.create_task_group() as tasks:
                async def at_end() -> None:
                    await self._ended.wait()
                    tasks.cancel_scope.cancel()

                tasks.start_soon(at_end)
                await due.wait()
                tasks.cancel_scope.cancel()
            handle.cancel()
            if not due.is_set():  # ended first
                raise anyio.EndOfStream
        self._next += 1
        return SimulatedFrame(self._next - 1, due_at)

    def stop(self) -> None:
        """End the media (the transport does this when the subscription ends)."""
        if self._ended_at is None:
            self._ended_at = self._clock.now()
        self._ended.set()


class MemoryTransport:
    """One local participant's connection to a :class:`MemoryRoomService`.

    Attributes:
        emitted: how many events it has put on its event stream.
    """

    def __init__(self, service: MemoryRoomService) -> None:
        self._service = service
        self._send, self._receive = anyio.create_memory_object_stream[Event](math.inf)
        self.participant: _Participant | None = None
        self.held: Event | None = None
        self.emitted = 0
        self.closed = False
        self._media: dict[str, SimulatedMedia] = {}

    @property
    def virtual_time(self) -> VirtualTime:
        """The service's virtual time."""
        return self._service.virtual_time

    @property
    def service(self) -> MemoryRoomService:
        """The service this transport is a client of."""
        return self._service

    def events(self) -> MemoryObjectReceiveStream[Event]:
        return self._receive

    async def connect(self, options: ConnectOptions) -> None:
        self._check_open()
        self._service._later(lambda: self._service._join(self, options))

    async def publish(self, track_name: str, kind: TrackKind, media: object | None = None) -> None:
        """Publish ``track_name``; ``media`` may be any object (nothing is really sent)."""
        self._check_open()
        self._service._later(lambda: self._service._publish(self, track_name, kind))

    async def unpublish(self, track_name: str) -> None:
        self._check_open()
        self._service._unpublish(self, track_name)

    async def disconnect(self) -> None:
        self._service._leave(self)

    async def aclose(self) -> None:
        if not self.closed:
            self._service._leave(self)
            self.closed = True
            for media in self._media.values():
                media.stop()
            self._media.clear()
            self._send.close()
            self._receive.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def emit(self, event: Event) -> None:
        """Put one event on the stream (the service's delivery path); dropped once closed."""
        if not self.closed:
            if isinstance(event, RemoteTrackSubscribed) and event.track_sid not in self._media:
                self._media[event.track_sid] = SimulatedMedia(
                    event.kind, event.track_sid, self._service.clock)
            elif isinstance(event, RemoteTrackUnsubscribed | RemoteTrackUnpublished):
                media = self._media.pop(event.track_sid, None)
                if media is not None:
                    media.stop()
            self._send.send_nowait(event)
            self.emitted += 1

    def remote_media(self, track_sid: str) -> SimulatedMedia | None:
        """The :class:`SimulatedMedia` of subscribed remote track ``track_sid``, if any."""
        return self._media.get(track_sid)

    def flush_held(self) -> None:
        """Release an event held back to be reordered."""
        held, self.held = self.held, None
        if held is not None:
            self.emit(held)

    def pending(self) -> int:
        """Events emitted and not yet read from the stream."""
        return self._receive.statistics().current_buffer_used

    def _check_open(self) -> None:
        if self.closed:
            raise anyio.ClosedResourceError


DeviceBehaviour = Literal[
    "ok", "denied", "dismissed", "disabled_in_system", "not_found", "in_use",
    "overconstrained", "insecure_context", "silent", "no_frames",
]
"""How a simulated device answers: each media error of the guide, or a preflight problem."""

_FAILURES: dict[str, str] = {
    "denied": "Permission denied",
    "dismissed": "Permission dismissed",
    "disabled_in_system": "Permission denied by system",
    "not_found": "Requested device not found",
    "in_use": "Could not start {source} source",
    "insecure_context": "navigator.mediaDevices is undefined",
}

_TALKING = [40.0, 120.0, 200.0, 90.0] * 128


class MemoryMediaDevices:
    """Simulated capture devices, one behaviour per kind (changeable between calls).

    ``overconstrained`` fails only when a specific ``device_id`` is asked for, so the guide's
    fall-back to the default device succeeds.
    """

    def __init__(self, *, microphone: DeviceBehaviour = "ok",
                 camera: DeviceBehaviour = "ok") -> None:
        self.behaviour: dict[DeviceKind, DeviceBehaviour] = {
            "microphone": microphone, "camera": camera}
        self.active: set[DeviceKind] = set()

    async def acquire(self, kind: DeviceKind, constraints: MediaConstraints) -> CapturedMedia:
        behaviour = self.behaviour[kind]
        if behaviour == "overconstrained" and constraints.device_id is not None:
            raise error_for(catalog.by_name("OverconstrainedError")[0],
                            detail=f"deviceId {constraints.device_id!r} not found")
        template = _FAILURES.get(behaviour)
        if template is not None:
            message = template.format(source="audio" if kind == "microphone" else "video")
            raise error_for(catalog.by_message(message), detail=message)
        self.active.add(kind)
        label = "Built-in Microphone" if kind == "microphone" else (
            "Back Camera" if constraints.facing_mode == "environment" else "Front Camera")
        return CapturedMedia(kind, label, constraints.device_id)

    async def release(self, media: CapturedMedia) -> None:
        self.active.discard(media.kind)

    async def audio_frames(self, media: CapturedMedia, count: int) -> list[list[float]]:
        silent = self.behaviour["microphone"] == "silent"
        return [[0.0] * len(_TALKING) if silent else list(_TALKING) for _ in range(count)]

    async def video_frames(self, media: CapturedMedia, seconds: float) -> int:
        return 0 if self.behaviour["camera"] == "no_frames" else int(30 * seconds)


def _ids(track: _Track) -> dict[str, Any]:
    return {"track_sid": track.sid, "participant_sid": track.publisher.sid, "kind": track.kind}
