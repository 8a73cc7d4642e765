"""Adapter conformance: drive a transport through the Room machine's generated paths and check
that the room goes exactly where the model says.

Each path (the shortest one to every edge of the Room spec) is acted out on a real adapter: local
steps through the Room API, transport-side steps by asking a :class:`ConformanceHarness` to make
the service misbehave (fail a join, cut signaling, restore it, end the session). After every
step, the room's changes so far must equal the path so far; the first difference fails with the
edge that did not happen. In pytest::

    @pytest.mark.parametrize("path", room_paths(), ids=path_id)
    async def test_my_adapter(path):
        async with MyHarness() as harness:
            await check_path(harness, path)

:func:`check_path` is **asynchronous**: it does nothing until awaited. One that is never awaited
fails the test it was made in (with rtcstate's pytest plugin, ``-p rtcstate.testing.pytest_plugin``)
and warns (``RuntimeWarning``) everywhere: a check that did not run can never look like a pass.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, Self

from rtcstate.adapters.base import Transport
from rtcstate.adapters.memory import MemoryRoomService, MemoryTransport
from rtcstate.dispatcher import Dispatcher
from rtcstate.errors import CatalogError, InvalidEvent
from rtcstate.models.events import parse_event
from rtcstate.models.options import ConnectOptions, ReconnectPolicy, RetryPolicy
from rtcstate.models.room import RoomConnectFailed, RoomDisconnected, RoomReconnecting
from rtcstate.models.state_change import StateChange
from rtcstate.room import Room, connect
from rtcstate.statemachines import SPECS
from rtcstate.statemachines.room import ROOM_SPEC, RoomMachine
from rtcstate.testing.paths import Path, PathStep, shortest_path_to

__all__ = [
    "ConformanceFailure",
    "ConformanceHarness",
    "MediaFailure",
    "MemoryHarness",
    "PathCheck",
    "PathResult",
    "check_path",
    "path_from_json",
    "path_id",
    "path_to_json",
    "room_paths",
]

IDENTITY = "conformance"
ROOM = "conformance-room"
OPTIONS = ConnectOptions(room_name=ROOM, identity=IDENTITY, reconnect=ReconnectPolicy(window=10),
                         retry=RetryPolicy(max_attempts=3, initial_delay=1, multiplier=2))


class ConformanceHarness(Protocol):
    """What the suite needs from an adapter's world to act out a path.

    Two members are optional: ``options`` (the :class:`ConnectOptions` the room joins with;
    :data:`OPTIONS` by default: a real-time harness shortens the windows there), and
    ``async check_media(room) -> None``, called after every step while the room is connected,
    which raises :class:`MediaFailure` when media does not flow as the states say. A harness
    without it gets results that say media was not checked.
    """

    def transport(self) -> Transport:
        """A new client of the service under test."""

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


class ConformanceFailure(AssertionError):
    """The adapter did not take an edge the model predicts.

    Attributes:
        edge: the key of the edge that did not happen (``room:reconnecting--reconnected-->...``),
            or, with ``unexpected``, of the edge that happened where the model has none.
        seen: the room's ``(source, event, dest)`` steps as they happened.
        replay: the path as a JSON fixture (:func:`path_from_json`), set by :func:`check_path`.
    """

    replay: str = ""

    def __init__(self, edge: str, expected: Sequence[tuple[str | None, str, str]],
                 seen: Sequence[tuple[str | None, str, str]], *, unexpected: bool = False) -> None:
        self.edge = edge
        self.seen = list(seen)
        self.unexpected = unexpected
        what = f"took {edge}, which the model's path does not" if unexpected else (
            f"did not take {edge}")
        super().__init__(f"the adapter {what}: expected the room to go "
                         f"{_show(expected)}, it went {_show(seen) or 'nowhere'}")


class MediaFailure(AssertionError):
    """The states say media flows, and it does not (a ``subscribed`` track without frames).

    Attributes:
        replay: the path as a JSON fixture (:func:`path_from_json`), set by :func:`check_path`.
    """

    replay: str = ""


@dataclass(frozen=True, slots=True)
class PathResult:
    """What checking one path found: the path, its steps, and whether media was checked."""

    path: str
    steps: int
    media: str
    """``"checked after N steps"``, or why it was not (``"not checked: ..."``)."""


def _show(steps: Sequence[tuple[str | None, str, str]]) -> str:
    return " ; ".join(f"{source} --{event}--> {dest}" for source, event, dest in steps)


_JOINING = ("connecting", "waiting_to_retry")


def room_paths() -> list[Path]:
    """The shortest path to every edge of the Room spec that involves the adapter.

    Left out: the application disconnecting *while joining* (from ``connecting`` or
    ``waiting_to_retry``). That is the Room machine's business, covered by its own tests; an
    adapter has no part in it.
    """
    paths = []
    for edge in ROOM_SPEC.edges():
        if edge.trigger == "disconnect" and edge.source in _JOINING:
            continue
        path = shortest_path_to(lambda: RoomMachine(OPTIONS), edge)
        assert path is not None, f"{edge.key} is unreachable"
        paths.append(path)
    return paths


def path_to_json(path: Path) -> str:
    """``path`` as a replayable JSON fixture: each step's edge key and event."""
    return json.dumps({"steps": [{"edge": step.edge.key,
                                  "event": step.event.model_dump(mode="json")}
                                 for step in path]}, indent=2)


def path_from_json(text: str) -> Path:
    """The path a :func:`path_to_json` fixture holds.

    Raises:
        ValueError: the fixture is not one (bad JSON, an unknown edge, an invalid event).
    """
    edges = {edge.key: edge for spec in SPECS.values() for edge in spec.edges()}
    try:
        steps = json.loads(text)["steps"]
        return [PathStep(edges[step["edge"]], parse_event(step["event"])) for step in steps]
    except (json.JSONDecodeError, KeyError, TypeError, InvalidEvent) as exc:
        raise ValueError(f"not a conformance path fixture: {type(exc).__name__}: {exc}") from exc


def path_id(path: Path) -> str:
    """A readable test id: the edge the path ends with."""
    return path[-1].edge.key


@dataclass
class _Run:
    harness: ConformanceHarness
    path: Path
    seen: list[StateChange]

    def expect(self, upto: int) -> None:
        """The room's steps so far must be the path's first ``upto`` steps, exactly."""
        expected = [(s.edge.source, s.edge.trigger, s.edge.dest) for s in self.path[:upto]]
        seen = [(c.source, c.event, c.dest) for c in self.seen]
        if seen == expected:
            return
        for index, want in enumerate(expected):
            if index >= len(seen) or seen[index] != want:
                raise ConformanceFailure(self.path[index].edge.key, expected, seen)
        extra = seen[len(expected)]
        raise ConformanceFailure(f"room:{extra[0]}--{extra[1]}-->{extra[2]}", expected, seen,
                                 unexpected=True)

    async def cause(self, room: Room, index: int) -> None:
        step = self.path[index]
        event = step.event
        trigger = step.edge.trigger
        if trigger == "reconnecting":
            assert isinstance(event, RoomReconnecting)
            await self.harness.interrupt(IDENTITY, event.error_code)
        elif trigger == "reconnected":
            await self.harness.restore(IDENTITY)
        elif trigger == "disconnected" and step.edge.source == "reconnecting":
            await self.harness.advance(_options(self.harness).reconnect.window + 1)
        elif trigger == "disconnected":
            assert isinstance(event, RoomDisconnected)
            assert event.error_code in (53002, 53205)
            await self.harness.end_session(IDENTITY, event.error_code)
        elif trigger == "disconnect":
            await room.disconnect()
        else:  # pragma: no cover - every post-join trigger of the Room spec is listed above
            raise ValueError(f"no way to cause {step.edge.key}")
        await self.harness.advance(1)


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
    """
    return PathCheck(_check_path(harness, path), f"check_path(<{type(harness).__name__}>, "
                                                 f"{path_id(path)})")


async def _check_path(harness: ConformanceHarness, path: Path) -> PathResult:
    # The join runs to `connected` or `disconnected` in one go; a path ending earlier is a
    # prefix of that run.
    joined = next((i + 1 for i, s in enumerate(path) if s.edge.dest in ("connected",
                                                                        "disconnected")),
                  len(path))
    for step in path[:joined]:
        if isinstance(step.event, RoomConnectFailed):
            await harness.fail_next_connect(IDENTITY, step.event.error_code)
    seen: list[StateChange] = []
    dispatcher = harness.dispatcher()
    dispatcher.on_change(lambda change: seen.append(change) if change.machine == "room" else None)
    run = _Run(harness, path, seen)
    check_media = getattr(harness, "check_media", None)
    media_checks = 0

    async def media_after(index: int, room: Room) -> None:
        nonlocal media_checks
        if check_media is None or room.state != "connected":
            return
        try:
            await check_media(room)
        except MediaFailure as exc:
            step = path[index - 1].edge.key if index else "the join"
            raise MediaFailure(f"after step {index} ({step}) of {path_id(path)}: {exc}") from None
        media_checks += 1

    try:
        await _act_out(harness, path, run, joined, dispatcher, media_after)
    except (ConformanceFailure, MediaFailure) as exc:
        exc.replay = path_to_json(path)
        raise
    del seen[len(path):]  # leaving the room adds its own steps after the path
    try:
        run.expect(len(path))
    except ConformanceFailure as exc:
        exc.replay = path_to_json(path)
        raise
    if check_media is None:
        media = f"not checked: {type(harness).__name__} has no check_media"
    elif media_checks:
        media = f"checked after {media_checks} step(s)"
    else:
        media = "not checked: the room was never connected on this path"
    return PathResult(path_id(path), len(path), media)


async def _act_out(harness: ConformanceHarness, path: Path, run: _Run, joined: int,
                   dispatcher: Dispatcher,
                   media_after: Callable[[int, Room], Awaitable[None]]) -> None:
    try:
        async with connect(harness.transport(), _options(harness),
                           dispatcher=dispatcher) as room:
            if joined < len(path):
                run.expect(joined)
            await media_after(joined, room)
            for index in range(joined, len(path)):
                await run.cause(room, index)
                run.expect(index + 1)
                await media_after(index + 1, room)
    except CatalogError:
        pass  # a join that fails is checked below, like any other path


class MemoryHarness:
    """The conformance harness for :class:`~rtcstate.adapters.memory.MemoryRoomService`.

    ``transport_class`` lets a test swap in a subclass (a deliberately broken adapter).
    """

    def __init__(self, transport_class: type[MemoryTransport] = MemoryTransport) -> None:
        self.service = MemoryRoomService(rooms=[ROOM])
        self.transport_class = transport_class
        self._extra: list[MemoryTransport] = []

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
        again = self.service.transport()
        self._extra.append(again)
        await again.connect(ConnectOptions(room_name=ROOM, identity=identity))

    async def advance(self, seconds: float) -> None:
        await self.service.virtual_time.advance(seconds)

    async def aclose(self) -> None:
        """Close the extra clients it made."""
        for transport in self._extra:
            await transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
