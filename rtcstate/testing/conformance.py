"""Adapter conformance: drive a transport through paths generated from the specs and check that
every machine goes exactly where the model says.

There are paths for four machines (:data:`SUBJECTS`): the Room itself, one of its local track
publications (``camera``), and a participant (``guest``) and its remote track publication, as
the room under test sees them. Each path (the shortest one to an edge of its machine's spec) is
acted out on a live room: local steps through the Room API, the others by asking a
:class:`ConformanceHarness` to make the service or another participant act (fail a join, cut
signaling, refuse a publication, lose a track's media, unsubscribe, switch a track off, have
the guest join, publish, leave). After every step the subject machine's changes so far must be
the path so far, error codes included; the first difference fails naming the step. In pytest,
with rtcstate's plugin (``-p rtcstate.testing.pytest_plugin``), a test that takes the
``conformance_path`` fixture runs once per path::

    async def test_my_adapter(conformance_path: Path) -> None:
        async with MyHarness() as harness:
            await check_path(harness, conformance_path)

(or parametrise it yourself: ``@pytest.mark.parametrize("path", conformance_paths(),
ids=path_id)``).

:func:`check_path` is **asynchronous**: it does nothing until awaited. One that is never awaited
fails the test it was made in (with the plugin) and warns (``RuntimeWarning``) everywhere: a
check that did not run can never look like a pass. For the same reason a step the harness
cannot act out raises :class:`UnsupportedStep` (the plugin reports the test as skipped, with
the harness's reason); it never passes.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Coroutine, Generator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, Self, cast

from rtcstate.adapters.base import Transport
from rtcstate.adapters.memory import MemoryRoomService, MemoryTransport
from rtcstate.dispatcher import Dispatcher
from rtcstate.errors import CatalogError, InvalidEvent
from rtcstate.models.events import parse_event
from rtcstate.models.local_track import LocalTrackPublishFailed
from rtcstate.models.options import ConnectOptions, PreAcquiredTrack, ReconnectPolicy, RetryPolicy
from rtcstate.models.room import RoomConnectFailed, RoomDisconnected, RoomReconnecting
from rtcstate.models.state_change import StateChange
from rtcstate.room import Room, connect
from rtcstate.statemachines import SPECS
from rtcstate.statemachines.local_track import LocalTrackPublicationMachine
from rtcstate.statemachines.participant import ParticipantMachine
from rtcstate.statemachines.remote_track import RemoteTrackPublicationMachine
from rtcstate.statemachines.room import ROOM_SPEC, RoomMachine
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.testing.paths import Path, PathStep, shortest_path_to

__all__ = [
    "GUEST",
    "IDENTITY",
    "LEFT_OUT",
    "OPTIONS",
    "ROOM",
    "SUBJECTS",
    "TRACK",
    "BaseHarness",
    "ConformanceFailure",
    "ConformanceHarness",
    "MediaFailure",
    "MemoryHarness",
    "Pace",
    "PathCheck",
    "PathResult",
    "Subject",
    "UnsupportedStep",
    "check_path",
    "conformance_paths",
    "path_from_json",
    "path_id",
    "path_to_json",
    "room_paths",
]

IDENTITY = "conformance"
"""The identity of the room under test."""
GUEST = "guest"
"""The other participant whose machines the participant and remote-track paths follow."""
ROOM = "conformance-room"
TRACK = "camera"
"""The video track the track paths follow: the room's own (local), or the guest's (remote)."""

OPTIONS = ConnectOptions(room_name=ROOM, identity=IDENTITY, reconnect=ReconnectPolicy(window=10),
                         retry=RetryPolicy(max_attempts=3, initial_delay=1, multiplier=2),
                         notify_warnings=frozenset({"recording-media-lost"}))
"""What the room under test joins with by default (it asks for the media warning, so the
warning edges can be taken)."""

Subject = Literal["room", "local_track", "remote_track", "participant"]
SUBJECTS: tuple[Subject, ...] = ("room", "local_track", "remote_track", "participant")
"""The machines with generated paths, in the order :func:`conformance_paths` gives them."""


@dataclass(frozen=True, slots=True)
class Pace:
    """How long :func:`check_path` waits for a step's change, and for nothing more to happen.

    Attributes:
        within: seconds the change a step causes may take (a timed step adds its timeout).
        settle: seconds to wait after it, so that a change the model does not predict shows.
    """

    within: float = 10.0
    settle: float = 1.0


class ConformanceHarness(Protocol):
    """What the suite needs from an adapter's world to act out a path.

    Every method that makes the service (or the guest) act may raise ``NotImplementedError``
    with the reason when it cannot: the paths needing it raise :class:`UnsupportedStep`
    instead of passing. :class:`BaseHarness` does that for every optional method, so a
    third-party harness subclasses it and implements what its service can do.

    Two attributes are optional: ``options`` (the :class:`ConnectOptions` the room joins
    with; :data:`OPTIONS` by default: a real-time harness shortens the windows there) and
    ``pace`` (a :class:`Pace`). So is ``async check_media(room) -> None``, called after every
    step while the room is connected, which raises :class:`MediaFailure` when media does not
    flow as the states say. A harness without it gets results that say media was not checked.
    """

    def transport(self) -> Transport:
        """A new client of the service under test (for the room under test)."""

    def dispatcher(self) -> Dispatcher:
        """A dispatcher on the service's clock (a ``VirtualClock`` for simulations)."""

    async def fail_next_connect(self, identity: str, code: int) -> None:
        """Make the next join by ``identity`` fail with connection error ``code``."""

    async def interrupt(self, identity: str, code: Literal[53001, 53405]) -> None:
        """Cut ``identity``'s signaling (53001) or media (53405) until :meth:`restore`."""

    async def restore(self, identity: str) -> None:
        """End the interruption now."""

    async def end_session(self, identity: str, code: Literal[53002, 53205]) -> None:
        """End the session (53002), or have the same identity join again (53205)."""

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass (virtual time, or real time for a real service)."""

    async def join_guest(self) -> None:
        """Have :data:`GUEST` join the room (another client of the service)."""

    async def leave(self, identity: str) -> None:
        """Have ``identity`` (the guest) leave the room."""

    async def publish_as(self, identity: str, track_name: str) -> None:
        """Have ``identity`` (the guest) publish a video track ``track_name``."""

    async def unpublish_as(self, identity: str, track_name: str) -> None:
        """Have ``identity`` (the guest) unpublish ``track_name``."""

    async def fail_next_publication(self, identity: str, code: int) -> None:
        """Make the service refuse ``identity``'s next publication with ``code``."""

    async def lose_media(self, identity: str, track_name: str) -> None:
        """Stop the media of ``identity``'s published ``track_name`` until
        :meth:`restore_media` (the service warns ``recording-media-lost``)."""

    async def restore_media(self, identity: str, track_name: str) -> None:
        """Let that track's media flow again."""

    async def fail_next_subscription(self, identity: str) -> None:
        """Make ``identity``'s next subscription fail (53407)."""

    async def unsubscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        """Have the service unsubscribe ``subscriber`` from ``publisher``'s track."""

    async def subscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        """Have the service subscribe ``subscriber`` to ``publisher``'s track again."""

    async def switch_off(self, subscriber: str, publisher: str, track_name: str, *,
                         on: bool = False) -> None:
        """Have the service stop (``on``: resume) forwarding that track to ``subscriber``."""


class BaseHarness:
    """A base for harnesses: every step beyond the Room's own raises ``NotImplementedError``
    saying the harness does not support it. Override what the service can do."""

    options = OPTIONS
    pace = Pace()

    def _unsupported(self, what: str) -> NotImplementedError:
        return NotImplementedError(f"{type(self).__name__} cannot {what}")

    async def join_guest(self) -> None:
        raise self._unsupported("have a guest join")

    async def leave(self, identity: str) -> None:
        raise self._unsupported("have a participant leave")

    async def publish_as(self, identity: str, track_name: str) -> None:
        raise self._unsupported("have another participant publish")

    async def unpublish_as(self, identity: str, track_name: str) -> None:
        raise self._unsupported("have another participant unpublish")

    async def fail_next_publication(self, identity: str, code: int) -> None:
        raise self._unsupported("refuse a publication")

    async def lose_media(self, identity: str, track_name: str) -> None:
        raise self._unsupported("lose a track's media")

    async def restore_media(self, identity: str, track_name: str) -> None:
        raise self._unsupported("restore a track's media")

    async def fail_next_subscription(self, identity: str) -> None:
        raise self._unsupported("fail a subscription")

    async def unsubscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        raise self._unsupported("unsubscribe a participant")

    async def subscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        raise self._unsupported("subscribe a participant")

    async def switch_off(self, subscriber: str, publisher: str, track_name: str, *,
                         on: bool = False) -> None:
        raise self._unsupported("switch a track off")


Step = tuple[str | None, str, str, int | None]
"""A step as seen: (source, trigger, dest, error code)."""


class ConformanceFailure(AssertionError):
    """The adapter did not take an edge the model predicts.

    Attributes:
        edge: the key of the edge that did not happen (``room:reconnecting--reconnected-->...``),
            or, with ``unexpected``, of the edge that happened where the model has none.
        seen: the subject machine's ``(source, event, dest, error code)`` steps as they
            happened.
        replay: the path as a JSON fixture (:func:`path_from_json`), set by :func:`check_path`.
    """

    replay: str = ""

    def __init__(self, edge: str, expected: Sequence[Step], seen: Sequence[Step], *,
                 unexpected: bool = False) -> None:
        self.edge = edge
        self.seen = list(seen)
        self.unexpected = unexpected
        what = f"took {edge}, which the model's path does not" if unexpected else (
            f"did not take {edge}")
        kind = edge.split(":", 1)[0]
        super().__init__(f"the adapter {what}: expected the {kind} to go "
                         f"{_show(expected)}, it went {_show(seen) or 'nowhere'}")


class MediaFailure(AssertionError):
    """The states say media flows, and it does not (a ``subscribed`` track without frames).

    Attributes:
        replay: the path as a JSON fixture (:func:`path_from_json`), set by :func:`check_path`.
    """

    replay: str = ""


class UnsupportedStep(Exception):
    """The harness cannot act out a step of the path: it was not checked (and did not pass).

    Attributes:
        path: the path's id; ``step``: the key of the edge it could not cause.
    """

    def __init__(self, path: str, step: str, reason: str) -> None:
        self.path = path
        self.step = step
        super().__init__(f"{path}: cannot act out {step}: {reason}")


@dataclass(frozen=True, slots=True)
class PathResult:
    """What checking one path found: the path, its steps, and whether media was checked."""

    path: str
    steps: int
    media: str
    """``"checked after N steps"``, or why it was not (``"not checked: ..."``)."""


def _show(steps: Sequence[Step]) -> str:
    return " ; ".join(f"{source} --{event}{f'[{code}]' if code else ''}--> {dest}"
                      for source, event, dest, code in steps)


# -- paths -------------------------------------------------------------------------------------

_JOINING = ("connecting", "waiting_to_retry")
LEFT_OUT: dict[str, str] = {
    **{f"room:{state}--disconnect-->disconnected":
       "the application leaving while joining is the Room machine's own business"
       for state in _JOINING},
    "local_track:created--room_lost-->stopped":
        "the Room publishes a pre-acquired track as soon as it is connected: no live room is "
        "lost holding one that is still created",
    "local_track:publishing--room_lost-->stopped":
        "a publication is answered within the service's latency: losing the room in between "
        "would need a service that can hold its answer back",
}
"""Edges no path is generated for, and why (an adapter takes no part in them, or no live room
can reach them)."""


def _factory(subject: Subject) -> Callable[[], LifecycleMachine]:
    if subject == "room":
        return lambda: RoomMachine(OPTIONS)
    if subject == "local_track":
        return lambda: LocalTrackPublicationMachine.for_options(TRACK, "video", OPTIONS)
    if subject == "remote_track":
        return lambda: RemoteTrackPublicationMachine("TR-guest", "PA-guest", "video",
                                                     track_name=TRACK, participant_identity=GUEST)
    return lambda: ParticipantMachine("PA-guest", GUEST)


def conformance_paths(subject: Subject | None = None) -> list[Path]:
    """The shortest path to every edge of ``subject``'s spec (of every subject's, in
    :data:`SUBJECTS` order, by default) that a live room can take.

    Left out (:data:`LEFT_OUT` says why): the application leaving *while joining* (the Room
    machine's business, covered by its own tests), a pre-acquired track lost before it was
    published (no live room holds one), and a track lost while its publication awaits the
    service's answer (a few milliseconds no harness can stretch).
    """
    paths = []
    for kind in (subject,) if subject is not None else SUBJECTS:
        spec = SPECS[kind]
        for edge in spec.edges():
            if edge.key in LEFT_OUT:
                continue
            path = shortest_path_to(_factory(kind), edge)
            assert path is not None, f"{edge.key} is unreachable"
            if edge.trigger == "room_lost":
                path[-1] = _lost_with_session_end(path[-1])
            paths.append(path)
    return paths


def _lost_with_session_end(step: PathStep) -> PathStep:
    """The room lost by its session ending (53002) rather than its reconnect window (53001,
    the first the spec lists): at once, so no timer of the subject's (a warning's escalation)
    fires first. The Room's own paths take the window."""
    event = type(step.event).model_validate({**step.event.model_dump(), "error_code": 53002})
    return PathStep(step.edge, event)


def room_paths() -> list[Path]:
    """The Room's paths: ``conformance_paths("room")``."""
    return conformance_paths("room")


def path_to_json(path: Path) -> str:
    """``path`` as a replayable JSON fixture: each step's edge key and event."""
    return json.dumps({"steps": [{"edge": step.edge.key,
                                  "event": step.event.model_dump(mode="json")}
                                 for step in path]}, indent=2)


def path_from_json(text: str) -> Path:
    """The path a :func:`path_to_json` fixture holds.

    Raises:
        ValueError: the fixture is not one (bad JSON, an unknown edge, an invalid event, or
            steps of more than one machine).
    """
    edges = {edge.key: edge for spec in SPECS.values() for edge in spec.edges()}
    try:
        steps = json.loads(text)["steps"]
        path = [PathStep(edges[step["edge"]], parse_event(step["event"])) for step in steps]
    except (json.JSONDecodeError, KeyError, TypeError, InvalidEvent) as exc:
        raise ValueError(f"not a conformance path fixture: {type(exc).__name__}: {exc}") from exc
    kinds = {step.edge.key.split(":", 1)[0] for step in path}
    if len(kinds) != 1 or not kinds <= set(SUBJECTS):
        raise ValueError(f"not a conformance path fixture: steps of {sorted(kinds) or 'none'}, "
                         f"not of one of {', '.join(SUBJECTS)}")
    return path


def path_id(path: Path) -> str:
    """A readable test id: the edge the path ends with."""
    return path[-1].edge.key


def _subject(path: Path) -> Subject:
    return cast(Subject, path[-1].edge.key.split(":", 1)[0])


def _code(event: object) -> int | None:
    code = getattr(event, "error_code", None)
    return code if isinstance(code, int) else None


# -- acting a path out ---------------------------------------------------------------------------

never_awaited: list[str] = []
"""Checks made but garbage-collected without being awaited, described; the pytest plugin fails
the test that made one (and empties the list)."""


class PathCheck:
    """The check of one path, to be awaited (what :func:`check_path` returns)."""

    __slots__ = ("_awaited", "_run", "description")

    def __init__(self, run: Coroutine[object, object, PathResult], description: str) -> None:
        self._run = run
        self._awaited = False
        self.description = description

    def __await__(self) -> Generator[object, None, PathResult]:
        self._awaited = True
        return self._run.__await__()

    def __del__(self) -> None:
        if not self._awaited:
            self._run.close()
            never_awaited.append(self.description)
            warnings.warn(f"{self.description} was never awaited: the path did not run",
                          RuntimeWarning, stacklevel=1)


def _options(harness: ConformanceHarness) -> ConnectOptions:
    options = getattr(harness, "options", OPTIONS)
    assert isinstance(options, ConnectOptions)
    return options


def check_path(harness: ConformanceHarness, path: Path) -> PathCheck:
    """Act ``path`` out on the harness's adapter and check every step: **await** the result
    (``result = await check_path(harness, path)``, a :class:`PathResult`); nothing runs until
    then.

    Raises (when awaited):
        ConformanceFailure: naming the first edge the adapter did not take.
        MediaFailure: naming the step after which media did not flow as the states say.
        UnsupportedStep: the harness cannot cause a step of this path.
    """
    return PathCheck(_Run(harness, path).check(), f"check_path(<{type(harness).__name__}>, "
                                                  f"{path_id(path)})")


class _Run:
    """One path acted out: the subject machine's changes, and how each step is caused."""

    def __init__(self, harness: ConformanceHarness, path: Path) -> None:
        self.harness = harness
        self.path = path
        self.subject = _subject(path)
        self.options = _options(harness)
        pace = getattr(harness, "pace", Pace())
        assert isinstance(pace, Pace)
        self.pace = pace
        self.seen: list[StateChange] = []
        self.appeared = False  # a remote track or participant machine came into being
        self.media_checks = 0
        self.check_media = getattr(harness, "check_media", None)

    # -- the subject ---------------------------------------------------------------------

    def _record(self, dispatcher: Dispatcher, change: StateChange) -> None:
        if change.machine != self.subject:
            return
        if self.subject == "local_track" and change.id != TRACK:
            return
        if self.subject in ("remote_track", "participant"):
            machine = dispatcher.machines.get((change.machine, change.id))
            identity = getattr(machine, "participant_identity" if self.subject == "remote_track"
                               else "identity", None)
            name = getattr(machine, "track_name", TRACK)
            if identity != GUEST or name != TRACK:
                return
            if change.source is None:
                self.appeared = True
                return  # coming into being is not a step of the path
        self.seen.append(change)

    def expect(self, upto: int, *, answer_may_follow: bool = False,
               rest_ignored: bool = False) -> None:
        """The subject's steps so far must be the path's first ``upto`` steps, exactly.

        With ``answer_may_follow``, the service's answer to the last step may follow (the path
        ends in a state the adapter leaves by itself, ``publishing``); with ``rest_ignored``,
        whatever comes after is not looked at (leaving the room ends every machine)."""
        expected: list[Step] = [(s.edge.source, s.edge.trigger, s.edge.dest, _code(s.event))
                                for s in self.path[:upto]]
        seen: list[Step] = [(c.source, c.event, c.dest, c.error.code if c.error else None)
                            for c in self.seen]
        if answer_may_follow and upto and self.path[upto - 1].edge.dest in _ANSWERED and (
                len(seen) > upto and seen[upto][0] == self.path[upto - 1].edge.dest
                and seen[:upto] == expected):
            del seen[upto]
        if rest_ignored:
            del seen[upto:]
        if seen == expected:
            return
        for index, want in enumerate(expected):
            if index >= len(seen) or seen[index] != want:
                raise ConformanceFailure(self.path[index].edge.key, expected, seen)
        extra = seen[len(expected)]
        raise ConformanceFailure(f"{self.subject}:{extra[0]}--{extra[1]}-->{extra[2]}",
                                 expected, seen, unexpected=True)

    # -- running -------------------------------------------------------------------------

    async def check(self) -> PathResult:
        try:
            await self._act_out()
        except (ConformanceFailure, MediaFailure) as exc:
            exc.replay = path_to_json(self.path)
            raise
        if self.check_media is None:
            media = f"not checked: {type(self.harness).__name__} has no check_media"
        elif self.media_checks:
            media = f"checked after {self.media_checks} step(s)"
        else:
            media = "not checked: the room was never connected on this path"
        return PathResult(path_id(self.path), len(self.path), media)

    async def _act_out(self) -> None:
        path = self.path
        options = self.options
        # The Room's join runs to `connected` or `disconnected` in one go: a room path's steps
        # up to there are that run. A pre-acquired track stopped before it is published is
        # the local path that needs a refused join.
        joined = 0
        if self.subject == "room":
            joined = next((i + 1 for i, s in enumerate(path)
                           if s.edge.dest in ("connected", "disconnected")), len(path))
            for step in path[:joined]:
                if isinstance(step.event, RoomConnectFailed):
                    await self._do(step, self.harness.fail_next_connect, IDENTITY,
                                   step.event.error_code)
        elif self.subject == "local_track" and path[0].edge.trigger == "stop":
            options = options.model_copy(update={"tracks": (PreAcquiredTrack(name=TRACK,
                                                                              kind="video"),)})
            await self._do(path[0], self.harness.fail_next_connect, IDENTITY, _refusal_code())
            joined = 1
        dispatcher = self.harness.dispatcher()
        dispatcher.on_change(lambda change: self._record(dispatcher, change))
        try:
            async with connect(self.harness.transport(), options,
                               dispatcher=dispatcher) as room:
                if joined < len(path):
                    self.expect(joined)
                await self._media_after(joined, room)
                await self._set_up(room)
                for index in range(joined, len(path)):
                    if not self._follows(index):
                        await self._cause(room, index)
                    last = index + 1 == len(path)
                    if path[index].edge.dest in _ANSWERED and not last and not self._follows(
                            index + 1):
                        continue  # the next step is to come before the answer: cause it now
                    await room.wait_until(self._reached(index + 1),
                                          within=self._timeout(index) + self.pace.within)
                    if self._follows(index + 1):
                        continue  # checked with the step that follows by itself
                    await self.harness.advance(self.pace.settle)
                    self.expect(index + 1, answer_may_follow=last)
                    await self._media_after(index + 1, room)
        except CatalogError:
            pass  # a join that fails is checked below, like any other path
        self.expect(len(path), answer_may_follow=True, rest_ignored=True)

    def _reached(self, steps: int) -> Callable[[], bool]:
        return lambda: len(self.seen) >= steps

    async def _media_after(self, index: int, room: Room) -> None:
        if self.check_media is None or room.state != "connected":
            return
        try:
            await self.check_media(room)
        except MediaFailure as exc:
            step = self.path[index - 1].edge.key if index else "the join"
            raise MediaFailure(f"after step {index} ({step}) of {path_id(self.path)}: "
                               f"{exc}") from None
        self.media_checks += 1

    async def _do(self, step: PathStep, action: Callable[..., Coroutine[object, object, None]],
                  *args: object, **kwargs: object) -> None:
        """Ask the harness to act; one that cannot makes the path unsupported."""
        try:
            await action(*args, **kwargs)
        except NotImplementedError as exc:
            raise UnsupportedStep(path_id(self.path), step.edge.key,
                                  str(exc) or type(self.harness).__name__) from exc

    def _timeout(self, index: int) -> float:
        """How long the state the step leaves may wait before its timeout fires it."""
        edge = self.path[index].edge
        if edge.key == "room:reconnecting--disconnected-->disconnected":
            return self.options.reconnect.window
        if edge.trigger == "escalate":
            return self.options.warning_escalation_timeout
        if edge.trigger == "room_lost" and _code(self.path[index].event) == 53001:
            return self.options.reconnect.window
        return 0.0

    async def _set_up(self, room: Room) -> None:
        """The guest joins (and publishes the track a remote path follows)."""
        if self.subject == "participant":
            await self._do(self.path[0], self.harness.join_guest)
            await self._appear("participant", "connected", room)
        elif self.subject == "remote_track":
            first = self.path[0]
            await self._do(first, self.harness.join_guest)
            if not self._follows(0):  # it is to stay `published`: not subscribed at once
                await self._do(first, self.harness.unsubscribe, IDENTITY, GUEST, TRACK)
            await self._prepare(0)
            await self._do(first, self.harness.publish_as, GUEST, TRACK)
            await self._appear("remote_track", "published", room)

    async def _appear(self, kind: str, state: str, room: Room) -> None:
        """The guest's machine must come into being (in ``state``) within the pace."""
        if not await room.wait_until(lambda: self.appeared, within=self.pace.within):
            raise ConformanceFailure(f"{kind}:(new)--{state}-->{state}",
                                     [(None, state, state, None)], [])

    def _follows(self, index: int) -> bool:
        """Whether step ``index`` is what the adapter does by itself after the step before (a
        publication's answer; a remote track's subscription after it is published)."""
        if index >= len(self.path):
            return False
        edge = self.path[index].edge
        if self.subject == "remote_track" and index == 0:
            return edge.trigger in ("subscribed", "subscription_failed")
        return index > 0 and (self.path[index - 1].edge.trigger, edge.trigger) in _FOLLOWS

    async def _prepare(self, index: int) -> None:
        """Set up the fault that makes step ``index`` fail as the path says (a refused
        publication, a failing subscription), before what causes it."""
        step = self.path[index]
        if isinstance(step.event, LocalTrackPublishFailed):
            await self._do(step, self.harness.fail_next_publication, IDENTITY,
                           step.event.error_code)
        elif step.edge.trigger == "subscription_failed":
            await self._do(step, self.harness.fail_next_subscription, IDENTITY)

    async def _cause(self, room: Room, index: int) -> None:
        step = self.path[index]
        edge = step.edge
        h = self.harness
        await self._prepare(index)
        if self._follows(index + 1):
            await self._prepare(index + 1)
        trigger, source = edge.trigger, edge.source
        if self._timeout(index) and trigger != "room_lost":
            return  # the clock takes it
        if trigger == "room_lost":
            await self._lose_room(step)
        elif self.subject == "room":
            await self._cause_room(room, step)
        elif self.subject == "local_track":
            if trigger == "publish":
                await room.publish(TRACK, "video")
            elif trigger == "warning":
                await self._do(step, h.lose_media, IDENTITY, TRACK)
            elif trigger == "warnings_cleared":
                await self._do(step, h.restore_media, IDENTITY, TRACK)
            else:  # unpublish, stop, disable, enable, restart, background, foreground
                await getattr(room, trigger)(TRACK)
        elif self.subject == "remote_track":
            if trigger == "unpublished" and source in ("subscribed", "switched_off"):
                # The guest unpublishing unsubscribes it first; straight from here only the
                # room under test leaving ends it (the lost-room rule).
                await room.disconnect()
            elif trigger == "unpublished":
                await self._do(step, h.unpublish_as, GUEST, TRACK)
            elif trigger == "unsubscribed":
                await self._do(step, h.unsubscribe, IDENTITY, GUEST, TRACK)
            elif trigger in ("switched_off", "switched_on"):
                await self._do(step, h.switch_off, IDENTITY, GUEST, TRACK,
                               on=trigger == "switched_on")
            else:  # subscribed, subscription_failed: from unsubscribed or subscription_failed
                await self._do(step, h.subscribe, IDENTITY, GUEST, TRACK)
        elif trigger == "reconnecting":
            await self._do(step, h.interrupt, GUEST, 53001)
        elif trigger == "reconnected":
            await self._do(step, h.restore, GUEST)
        elif source == "reconnecting":  # disconnected while away: the service gives up on it
            await self._do(step, h.end_session, GUEST, 53002)
        else:
            await self._do(step, h.leave, GUEST)

    async def _cause_room(self, room: Room, step: PathStep) -> None:
        event = step.event
        trigger = step.edge.trigger
        if trigger == "reconnecting":
            assert isinstance(event, RoomReconnecting)
            await self._do(step, self.harness.interrupt, IDENTITY, event.error_code)
        elif trigger == "reconnected":
            await self._do(step, self.harness.restore, IDENTITY)
        elif trigger == "disconnected":
            assert isinstance(event, RoomDisconnected)
            assert event.error_code in (53002, 53205)
            await self._do(step, self.harness.end_session, IDENTITY, event.error_code)
        elif trigger == "disconnect":
            await room.disconnect()
        else:  # pragma: no cover - every post-join trigger of the Room spec is listed above
            raise ValueError(f"no way to cause {step.edge.key}")

    async def _lose_room(self, step: PathStep) -> None:
        """The room under test is lost with the step's code: its window expires (53001) or its
        session ends (53002)."""
        code = _code(step.event)
        if code == 53001:
            await self._do(step, self.harness.interrupt, IDENTITY, 53001)
        elif code == 53002:
            await self._do(step, self.harness.end_session, IDENTITY, 53002)
        else:
            raise UnsupportedStep(path_id(self.path), step.edge.key,
                                  f"no harness step loses the room with {code}")


_ANSWERED = ("publishing",)
"""States the adapter leaves by itself (with the service's answer)."""
_FOLLOWS = {("publish", "published"), ("publish", "publish_failed"),
            ("foreground", "published"), ("foreground", "publish_failed")}


def _refusal_code() -> int:
    """A connection error the Room gives up on at once (as the generated Room path to
    ``connecting --connect_failed--> disconnected`` does)."""
    edge = next(e for e in ROOM_SPEC.edges()
                if e.trigger == "connect_failed" and e.dest == "disconnected")
    path = shortest_path_to(_factory("room"), edge)
    assert path is not None
    code = _code(path[-1].event)
    assert code is not None
    return code


# -- the in-memory service ----------------------------------------------------------------------


class MemoryHarness(BaseHarness):
    """The conformance harness for :class:`~rtcstate.adapters.memory.MemoryRoomService`: every
    step of every path (virtual time, so a whole run takes a second or two).

    ``transport_class`` lets a test swap in a subclass (a deliberately broken adapter).
    """

    def __init__(self, transport_class: type[MemoryTransport] = MemoryTransport) -> None:
        self.service = MemoryRoomService(rooms=[ROOM], media_lost_after=2.0)
        self.transport_class = transport_class
        self._clients: dict[str, MemoryTransport] = {}
        self._stack = AsyncExitStack()

    def transport(self) -> Transport:
        return self.transport_class(self.service)

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(clock=self.service.clock)

    async def fail_next_connect(self, identity: str, code: int) -> None:
        self.service.fail_next_joins(identity, code)

    async def interrupt(self, identity: str, code: Literal[53001, 53405]) -> None:
        if code == 53001:
            self.service.drop_signaling(identity)
        else:
            self.service.fail_media_connection(identity)

    async def restore(self, identity: str) -> None:
        self.service.restore_connection(identity)

    async def end_session(self, identity: str, code: Literal[53002, 53205]) -> None:
        if code == 53002:
            self.service.expire_session(identity)
            return
        await self._join(f"{identity}#again", identity)

    async def advance(self, seconds: float) -> None:
        await self.service.virtual_time.advance(seconds)

    async def _join(self, key: str, identity: str) -> MemoryTransport:
        client = await self._stack.enter_async_context(self.service.transport())
        self._clients[key] = client
        await client.connect(ConnectOptions(room_name=ROOM, identity=identity))
        return client

    async def join_guest(self) -> None:
        await self._join(GUEST, GUEST)

    async def leave(self, identity: str) -> None:
        await self._clients.pop(identity).disconnect()

    async def publish_as(self, identity: str, track_name: str) -> None:
        await self._clients[identity].publish(track_name, "video")

    async def unpublish_as(self, identity: str, track_name: str) -> None:
        await self._clients[identity].unpublish(track_name)

    async def fail_next_publication(self, identity: str, code: int) -> None:
        self.service.fail_next_publications(identity, code)

    async def lose_media(self, identity: str, track_name: str) -> None:
        self.service.lose_media(identity, track_name)

    async def restore_media(self, identity: str, track_name: str) -> None:
        self.service.restore_media(identity, track_name)

    async def fail_next_subscription(self, identity: str) -> None:
        self.service.fail_next_subscriptions(identity)

    async def unsubscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        self.service.unsubscribe(subscriber, publisher, track_name)

    async def subscribe(self, subscriber: str, publisher: str, track_name: str) -> None:
        self.service.subscribe(subscriber, publisher, track_name)

    async def switch_off(self, subscriber: str, publisher: str, track_name: str, *,
                         on: bool = False) -> None:
        self.service.switch_off(subscriber, self.service.track_sid(publisher, track_name), on=on)

    async def aclose(self) -> None:
        """Close the other clients it made."""
        self._clients.clear()
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

