"""The dispatcher: applies events to registered machines strictly in order, and keeps time.

Every event offered to a dispatcher is accounted for: it is *applied* (one :class:`StateChange`,
given to every listener) or *rejected* (one structured log line with the reason, and a count in
:attr:`Dispatcher.stats`); the machine is unchanged by a rejected event. Timeouts of the state a
machine enters (retry back-off, reconnect window, warning escalation) run on the dispatcher's
:class:`~rtcstate.clock.Clock` and come back as ordinary events through the same queue; leaving
the state disarms its timeout. A dispatcher keeps its timeouts in a heap of its own, with one
clock timer for the earliest: entering a timed state is a push, leaving it marks the entry
stale (dropped when it comes up), so entering and leaving a timed state costs next to
nothing.

Two ways to drive it:

* **async**: ``async with Dispatcher() as d:`` runs a worker task; ``await d.send(event)``
  queues, ``await d.drain()`` waits until everything queued is processed, and
  ``d.changes()`` gives an async stream of changes. Leaving the block processes what is queued,
  cancels pending timeouts and ends every stream; no task outlives it. Works on asyncio and trio.
* **step**: without entering it, :meth:`Dispatcher.dispatch` processes one event now and
  returns its change (or raises why not); with a :class:`~rtcstate.clock.VirtualClock`,
  ``clock.advance(s)`` fires due timeouts synchronously. Hypothesis state machines use this.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from rtcstate.clock import AnyioClock, Clock, TimerHandle, VirtualClock
from rtcstate.errors import (
    GuardRejected,
    InvalidEvent,
    InvalidTransition,
    RtcRuntimeError,
    UnknownMachine,
    shorten,
)
from rtcstate.logs import get_logger
from rtcstate.models.base import Event
from rtcstate.models.events import parse_event
from rtcstate.models.state_change import StateChange
from rtcstate.statemachines import SPECS
from rtcstate.statemachines.runtime import LifecycleMachine, _event_facts
from rtcstate.statemachines.spec import Timeout

__all__ = [
    "ChangeStream",
    "DispatchStats",
    "Dispatcher",
    "HandlingFailed",
    "RawEvent",
    "SourceClosed",
    "SourceStats",
    "StaleTimeout",
]

_log = get_logger("rtcstate")

M = TypeVar("M", bound=LifecycleMachine)
RawEvent = Event | Mapping[str, object] | str | bytes
"""What a dispatcher accepts: an event model, or a dict or JSON document to validate."""
ChangeListener = Callable[[StateChange], object]


class ChangeStream:
    """Every change from the moment it was opened until the dispatcher's block ends.

    ``async for change in stream`` closes it when the changes end; to stop earlier, use it as
    ``async with stream: async for change in stream: ... break``. Unbounded: a slow reader
    never loses a change (it holds them in memory instead).
    """

    def __init__(self, receive: MemoryObjectReceiveStream[StateChange]) -> None:
        self._receive = receive

    def __aiter__(self) -> ChangeStream:
        return self

    async def __anext__(self) -> StateChange:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._receive.close()
            raise StopAsyncIteration from None

    async def receive(self) -> StateChange:
        """The next change. Raises ``anyio.EndOfStream`` once the dispatcher's block ended."""
        return await self._receive.receive()

    def close(self) -> None:
        """Stop receiving (the dispatcher forgets this stream)."""
        self._receive.close()

    async def aclose(self) -> None:
        """:meth:`close`, for ``contextlib.aclosing`` and friends."""
        self.close()

    async def __aenter__(self) -> ChangeStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class StaleTimeout(RtcRuntimeError):
    """A timeout fired for a state its machine has already left (it lost a race in the queue)."""


class SourceClosed(RtcRuntimeError):
    """An event from a source that :meth:`Dispatcher.close_source` closed (a transport whose
    room has ended, say).

    Attributes:
        source: the closed source.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        super().__init__(f"events from {source!r} are no longer taken: {reason}")


@dataclass(slots=True)
class SourceStats:
    """What became of the events from one source (``"app"``, ``"transport"``, ``"clock"``)."""

    received: int = 0
    applied: int = 0
    rejected: int = 0


@dataclass
class DispatchStats:
    """Counts of what a dispatcher was offered and what became of it.

    ``received == applied + rejected + pending`` at all times, in total and per source. The
    totals are sums over :attr:`by_source` (one counter per event, not two, on the hot path).
    """

    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    listener_errors: int = 0
    by_source: dict[str, SourceStats] = field(default_factory=dict)

    @property
    def received(self) -> int:
        """Events offered, from every source."""
        return sum(counts.received for counts in self.by_source.values())

    @property
    def applied(self) -> int:
        """Events applied, from every source."""
        return sum(counts.applied for counts in self.by_source.values())

    @property
    def rejected(self) -> int:
        """Events rejected, from every source."""
        return sum(counts.rejected for counts in self.by_source.values())

    @property
    def pending(self) -> int:
        """Events received and not yet applied or rejected."""
        return sum(counts.received - counts.applied - counts.rejected
                   for counts in self.by_source.values())

    def _received(self, source: str) -> SourceStats:
        counts = self.by_source.get(source)
        if counts is None:
            counts = self.by_source[source] = SourceStats()
        counts.received += 1
        return counts


class _Outcome:
    """Where :meth:`Dispatcher.submit` waits for its event's change or rejection."""

    __slots__ = ("change", "done", "error")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.change: StateChange | None = None
        self.error: RtcRuntimeError | None = None


class _Item(NamedTuple):
    raw: RawEvent | _TimerFired
    source: str
    counts: SourceStats
    outcome: _Outcome | None = None


@dataclass(frozen=True, slots=True)
class _TimerFired:
    """A state timeout that fell due: its event, for the dispatcher's entry number ``entry``
    (a later entry of the same state has another)."""

    machine: LifecycleMachine
    event: Event
    entry: int


_DUE = 1e-9
"""Seconds short of a deadline that count as on it (float arithmetic)."""

_heappush = heapq.heappush
_Deadline = list[Any]
"""A timed state entered: ``[deadline, entry, machine, timeout]``. Entries are numbered in the
order made (unique, so a heap never compares further); leaving the state sets ``machine`` to
``None`` in place (a list, not a tuple, for that), which makes the entry stale."""


_COMPACT_ABOVE = 1024
"""Stale entries a dispatcher's heap of deadlines may hold beyond twice its live ones."""

_CREATION_EVENTS = frozenset(spec.created_by for spec in SPECS.values() if spec.created_by)

_routes: dict[type[Event], tuple[str, str, str, bool]] = {}


def _route(model: type[Event]) -> tuple[str, str, str, bool]:
    """What the dispatcher reads of an event class, read once per class: its machine kind, the
    field naming the machine, its trigger (``runtime._event_facts``: a pydantic model class's
    attributes are slow to read), and whether it creates machines."""
    route = _routes[model] = (*_event_facts(model), model in _CREATION_EVENTS)
    return route


class HandlingFailed(RtcRuntimeError):
    """An event could not be handled because of an unexpected exception (a bug in a guard, an
    effect or a machine factory, say); it was rejected and the dispatcher went on. The
    original exception is ``__cause__``."""


def _reason(exc: RtcRuntimeError) -> str:
    if isinstance(exc, HandlingFailed):
        return "handling_failed"
    if isinstance(exc, InvalidEvent):
        return "invalid_event"
    if isinstance(exc, StaleTimeout):
        return "stale_timeout"
    if isinstance(exc, SourceClosed):
        return "source_closed"
    if isinstance(exc, GuardRejected):
        return "guard_rejected"
    if isinstance(exc, InvalidTransition):
        return "invalid_transition"
    if isinstance(exc, UnknownMachine):
        return "unknown_machine"
    return type(exc).__name__  # pragma: no cover - every runtime rejection is listed above


class Dispatcher:
    """Routes events to machines by ``(kind, id)`` and applies them one at a time, in order.

    Args:
        clock: where timeouts are scheduled. ``None`` means real time: an
            :class:`~rtcstate.clock.AnyioClock` created when the dispatcher is entered.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock
        self._machines: dict[tuple[str, str], LifecycleMachine] = {}
        # The timed state each machine is in (its entry, also in the heap until it comes
        # up), and the one clock timer.
        self._entered: dict[LifecycleMachine, _Deadline] = {}
        self._deadlines: list[_Deadline] = []
        self._entries = itertools.count()
        self._compact_above = _COMPACT_ABOVE
        self._alarm: TimerHandle | None = None
        self._armed: float | None = None  # the deadline the clock timer is set for
        self._listeners: list[ChangeListener] = []
        self._creatable: dict[str, Callable[[Event], LifecycleMachine]] = {}
        self._streams: list[MemoryObjectSendStream[StateChange]] = []
        self._queue: MemoryObjectSendStream[_Item] | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._idle: anyio.Event | None = None
        self._follow_ups: list[_Item] = []
        self._closed_sources: dict[str, str] = {}
        self.stats = DispatchStats()

    # -- machines --------------------------------------------------------------------------

    @property
    def clock(self) -> Clock | None:
        """The clock timeouts run on (``None`` until entered, when real time was chosen)."""
        return self._clock

    @property
    def running(self) -> bool:
        """Whether the dispatcher's block is active (its worker is processing the queue)."""
        return self._queue is not None

    @property
    def machines(self) -> Mapping[tuple[str, str], LifecycleMachine]:
        """Every registered machine, by ``(kind, id)``."""
        return self._machines

    def add(self, machine: M) -> M:
        """Register ``machine`` so events naming its kind and id reach it; returns it.

        Raises:
            ValueError: a machine with the same kind and id is already registered.
        """
        key = (machine.kind, machine.id)
        if key in self._machines:
            raise ValueError(
                f"a {machine.kind} machine with id {machine.id!r} is already registered")
        self._machines[key] = machine
        self._schedule_timeout(machine)
        return machine

    def create_on_event(self, machine_class: type[LifecycleMachine]) -> None:
        """Create machines of ``machine_class`` when their spec's ``created_by`` event names an
        unknown instance (a remote participant joining, a remote track published), or one
        whose machine has ended (it left, or was unpublished, and is back: a new machine
        takes the old one's place). Naming one whose machine is still running is an
        ``invalid_transition`` ("it already exists").

        Raises:
            TypeError: the spec has no ``created_by`` event.
        """
        if machine_class.spec.created_by is None:
            raise TypeError(f"{machine_class.spec.kind} machines are not created by events")
        self._creatable[machine_class.spec.kind] = machine_class.from_event

    def remove(self, machine: LifecycleMachine) -> None:
        """Unregister ``machine`` and cancel its pending timeout. Raises ``KeyError``."""
        del self._machines[(machine.kind, machine.id)]
        self._leave_timed(machine)

    def get(self, kind: str, id: str) -> LifecycleMachine:  # noqa: A002 - the domain's word
        """The machine registered as ``(kind, id)``.

        Raises:
            UnknownMachine: none is.
        """
        try:
            return self._machines[(kind, id)]
        except KeyError:
            raise UnknownMachine(kind, id) from None

    # -- listeners -------------------------------------------------------------------------

    def on_change(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener(change)`` after every applied event; returns a function to stop.

        Listeners run in the dispatcher's order, before the next event is processed. An
        exception from a listener is a bug in the listener: it propagates (and, in async mode,
        ends the dispatcher's block with it).
        """
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def changes(self) -> ChangeStream:
        """Every change from now on, as a :class:`ChangeStream` (``async for change in ...``)."""
        send, receive = anyio.create_memory_object_stream[StateChange](math.inf)
        self._streams.append(send)
        return ChangeStream(receive)

    # -- step API --------------------------------------------------------------------------

    def dispatch(self, raw: RawEvent, *, source: str = "app") -> StateChange:
        """Process one event now: validate, route, apply, tell listeners, schedule its timeout.

        The rejection is logged and counted too, so that the totals hold whichever API is used.

        Raises:
            InvalidEvent: the input is not a valid event.
            UnknownMachine: no machine is registered for its target.
            InvalidTransition: the target's state does not allow it (``GuardRejected``: a guard).
            HandlingFailed: an unexpected exception while handling it (chained).
            RuntimeError: events are queued (they would be overtaken); use :meth:`send`.
        """
        if self._queue is not None and self.stats.pending:
            raise RuntimeError(
                f"{self.stats.pending} queued event(s) would be overtaken; use send()")
        counts = self.stats.by_source.get(source)  # stats._received(source), inlined
        if counts is None:
            counts = self.stats.by_source[source] = SourceStats()
        counts.received += 1
        change = self._apply(raw, source, counts)
        if self._follow_ups:
            self._apply_follow_ups()
        return change

    # -- async API -------------------------------------------------------------------------

    async def send(self, raw: RawEvent, *, source: str = "app") -> None:
        """Queue an event; it is processed after every event queued before it.

        Never raises for a bad event: rejections are logged and counted (under ``source`` in
        :attr:`DispatchStats.by_source` too).

        Raises:
            RuntimeError: the dispatcher is not running (use ``async with``).
        """
        self.send_nowait(raw, source=source)
        await anyio.lowlevel.checkpoint()

    def send_nowait(self, raw: RawEvent, *, source: str = "app") -> None:
        """Queue an event without yielding to other tasks; see :meth:`send`."""
        self._enqueue(raw, source)

    def follow_up(self, raw: RawEvent, *, source: str = "app") -> None:
        """From a listener: process ``raw`` right after the change being delivered, ahead of
        everything queued, so that a reaction and its cause are one step for every other
        event (the Room ends its machines this way the moment it is lost).

        Follow-ups run in the order given, after the change has reached every listener and
        stream, and before :meth:`submit` or :meth:`dispatch` return for the event that caused
        them. Accounted for like any event (never raises for a bad one).
        """
        self._follow_ups.append(_Item(raw, source, self.stats._received(source)))

    def close_source(self, source: str, reason: str) -> None:
        """Reject every event from ``source`` processed from now on (already queued ones too)
        with :class:`SourceClosed` and ``reason``, until :meth:`open_source`."""
        self._closed_sources[source] = reason

    def open_source(self, source: str) -> None:
        """Take events from ``source`` again (see :meth:`close_source`)."""
        self._closed_sources.pop(source, None)

    async def submit(self, raw: RawEvent, *, source: str = "app") -> StateChange:
        """Queue an event and wait for it to be processed, in order; return its change.

        Raises:
            InvalidEvent, UnknownMachine, InvalidTransition, HandlingFailed: as
                :meth:`dispatch` (also logged and counted).
            RuntimeError: the dispatcher is not running.
        """
        outcome = _Outcome()
        self._enqueue(raw, source, outcome)
        await outcome.done.wait()
        if outcome.error is not None:
            raise outcome.error
        assert outcome.change is not None
        return outcome.change

    async def drain(self) -> None:
        """Wait until every queued event (and any timeout it fired meanwhile) is processed."""
        while self.stats.pending:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    async def advance(self, seconds: float) -> None:
        """With a :class:`VirtualClock`: move time forward, processing events in between.

        Each due timeout is fired at its own instant and processed (with whatever it causes)
        before time moves on, exactly as it would be in real time.

        Raises:
            TypeError: the clock is not a ``VirtualClock``.
        """
        clock = self._clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("advance() needs a VirtualClock; real time advances by itself")
        target = clock.now() + seconds
        await self.drain()
        while (deadline := clock.next_deadline()) is not None and deadline <= target:
            clock.advance_to(deadline)
            await self.drain()
        clock.advance_to(target)

    async def __aenter__(self) -> Dispatcher:
        if self._task_group is not None:
            raise RuntimeError("this dispatcher is already running")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        if self._clock is None:
            self._clock = AnyioClock(task_group)
        send, receive = anyio.create_memory_object_stream[_Item](math.inf)
        self._queue = send
        task_group.start_soon(self._worker, receive)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool | None:
        task_group = self._task_group
        assert task_group is not None
        try:
            if exc_type is None:
                await self.drain()
        finally:
            self._stop_timeouts()
            if self._queue is not None:
                self._queue.close()
            for stream in self._streams:
                stream.close()
            self._streams.clear()
            task_group.cancel_scope.cancel()
            self._task_group = None
            self._queue = None
        return await task_group.__aexit__(exc_type, exc, tb)

    # -- internals -------------------------------------------------------------------------

    def _enqueue(self, raw: RawEvent | _TimerFired, source: str,
                 outcome: _Outcome | None = None) -> None:
        if self._queue is None:
            raise RuntimeError("the dispatcher is not running; use 'async with' or dispatch()")
        self._queue.send_nowait(_Item(raw, source, self.stats._received(source), outcome))

    async def _worker(self, receive: MemoryObjectReceiveStream[_Item]) -> None:
        async with receive:
            async for item in receive:
                outcome = item.outcome
                try:
                    change = self._apply(item.raw, item.source, item.counts)
                except RtcRuntimeError as exc:  # logged and counted by _apply
                    if outcome is not None:
                        outcome.error = exc
                else:
                    if outcome is not None:
                        outcome.change = change
                if self._follow_ups:
                    self._apply_follow_ups()
                if outcome is not None:
                    outcome.done.set()
                if self._idle is not None and not self.stats.pending:
                    self._idle.set()
                    self._idle = None

    def _apply(self, raw: RawEvent | _TimerFired, source: str,
               counts: SourceStats) -> StateChange:
        """Apply one item; a rejection is logged and counted, then raised."""
        # The hot path of every event: attribute loads are kept to a minimum on purpose.
        event: Event | None = None
        try:
            if self._closed_sources and source in self._closed_sources:
                event = raw.event if isinstance(raw, _TimerFired) else None
                raise SourceClosed(source, self._closed_sources[source])
            if type(raw) is _TimerFired:
                event = raw.event
                self._claim_timer(raw)
                machine: LifecycleMachine | None = raw.machine
                _, _, trigger, creates = _routes.get(type(event)) or _route(type(event))
            else:
                event = parse_event(raw)
                kind, target_field, trigger, creates = (_routes.get(type(event))
                                                        or _route(type(event)))
                machine = self._machines.get((kind, getattr(event, target_field)))
            at = event.at
            now = None
            if at is None:
                clock = self._clock
                at = now = clock.now() if clock is not None else 0.0
            if creates:
                machine = self._create(event, machine)
                change = machine.created(event, at=at)
                moves, timeout = True, machine.spec.timeouts.get(change.dest)
            elif machine is None:
                raise UnknownMachine(event.machine, event.target_id)
            else:
                change, taken = machine._apply_routed(event, at, trigger)  # routed just above
                moves, timeout = taken.moves, taken.timeout
        except RtcRuntimeError as exc:
            counts.rejected += 1
            self._reject(exc, event, source)
            raise
        except Exception as exc:  # nothing one event does may stop the run
            failed = HandlingFailed(f"{type(exc).__name__} while handling the event: "
                                    f"{shorten(str(exc))}")
            counts.rejected += 1
            self._reject(failed, event, source, exc)
            raise failed from exc
        counts.applied += 1
        if moves:
            entered = self._entered
            if entered:  # some machine is in a timed state: this one may have left it
                left = entered.pop(machine, None)  # _leave_timed(), inlined: the hot path
                if left is not None:
                    self._left_timed(left)
            if timeout is not None:
                self._enter_timed(machine, timeout, now)
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:  # the change stands; a listener's bug is logged, not fatal
                self.stats.listener_errors += 1
                _log.exception("listener_failed", listener=getattr(listener, "__qualname__",
                                                                   repr(listener)),
                               machine=change.machine, id=change.id, trigger=change.event)
        if self._streams:
            for stream in list(self._streams):
                try:
                    stream.send_nowait(change)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    self._streams.remove(stream)
        return change

    def _apply_follow_ups(self) -> None:
        """Apply what listeners asked to follow the change just delivered (and what those ask)."""
        follow_ups = self._follow_ups
        while follow_ups:
            item = follow_ups.pop(0)
            with contextlib.suppress(RtcRuntimeError):  # logged and counted by _apply
                self._apply(item.raw, item.source, item.counts)

    def _claim_timer(self, fired: _TimerFired) -> None:
        """Consume the timeout of ``fired``, or raise StaleTimeout if its state was left (or
        left and entered again) while it waited in the queue."""
        entered = self._entered
        timed = entered.get(fired.machine)
        if timed is None or timed[1] != fired.entry:
            raise StaleTimeout(f"timeout {fired.event.trigger!r} of {fired.machine.kind} "
                               f"{fired.machine.id!r} fired after it left the state")
        del entered[fired.machine]

    def _create(self, event: Event, existing: LifecycleMachine | None) -> LifecycleMachine:
        # One that has ended (a participant who left, a track unpublished) is replaced: the
        # same sid begins again (Janus names a participant by its identity, and a track by
        # its publisher and mid: both come back after leaving).
        if existing is not None and not existing.is_terminal:
            raise InvalidTransition(existing.kind, existing.id, existing.state, event.trigger,
                                    "it already exists")
        factory = self._creatable.get(event.machine)
        if factory is None:
            raise UnknownMachine(event.machine, event.target_id)
        machine = factory(event)
        self._machines[(machine.kind, machine.id)] = machine
        return machine

    def _reject(self, exc: RtcRuntimeError, event: Event | None, source: str,
                unexpected: BaseException | None = None) -> None:
        """Count and log a rejection: at error level when a transport sent it (an adapter
        emitting what the model forbids deserves attention), else at warning level; events
        from a closed source are expected (what was on its way when it closed): info."""
        reason = _reason(exc)
        self.stats.rejected_by_reason[reason] += 1
        if isinstance(exc, SourceClosed):
            log = _log.info
        else:
            log = _log.error if source == "transport" else _log.warning
        log("event_rejected", reason=reason, source=source,
            type=f"{event.machine}.{event.trigger}" if event else None,
            id=shorten(event.target_id) if event else None, detail=str(exc),
            exc_info=unexpected)

    @property
    def pending_timeouts(self) -> int:
        """Machines in a timed state whose timeout has not been processed yet (waiting for its
        deadline, or fired and queued)."""
        return len(self._entered)

    def _schedule_timeout(self, machine: LifecycleMachine) -> None:
        timeout = machine.spec.timeouts.get(machine.state)
        if timeout is not None:
            self._enter_timed(machine, timeout)

    def _enter_timed(self, machine: LifecycleMachine, timeout: Timeout,
                     now: float | None = None) -> None:
        """``machine`` entered a timed state: time it out ``timeout.delay`` from ``now`` (the
        clock's time, which the caller may have read already)."""
        clock = self._clock
        if clock is None:
            raise RuntimeError(
                f"{machine.kind} {machine.id!r} entered {machine.state!r}, which has a timeout, "
                "but the dispatcher has no clock: pass one, or run it with 'async with'")
        deadline = (clock.now() if now is None else now) + timeout.delay(machine)
        timed = self._entered[machine] = [deadline, next(self._entries), machine, timeout]
        deadlines = self._deadlines
        _heappush(deadlines, timed)
        if len(deadlines) > self._compact_above:
            self._compact()
        armed = self._armed
        if armed is None or deadline < armed:
            self._arm(clock, deadline)

    def _leave_timed(self, machine: LifecycleMachine) -> None:
        """``machine`` left its timed state, if it was in one."""
        timed = self._entered.pop(machine, None)
        if timed is not None:
            self._left_timed(timed)

    def _left_timed(self, timed: _Deadline) -> None:
        """The machine of entry ``timed`` left its state (and ``_entered``): it is stale."""
        timed[2] = None
        # Most often it is the heap's last entry (entered last, due last): a leaf, which goes
        # without disturbing the heap, with any stale ones then last. The others wait until
        # they come up, or for a compaction.
        deadlines = self._deadlines
        while deadlines and deadlines[-1][2] is None:
            deadlines.pop()

    def _arm(self, clock: Clock, deadline: float) -> None:
        """Set the clock timer for ``deadline`` (instead of the one set, if any)."""
        if self._alarm is not None:
            self._alarm.cancel()
        self._armed = deadline
        self._alarm = clock.call_later(max(0.0, deadline - clock.now()), self._deadlines_due)

    def _deadlines_due(self) -> None:
        """The clock timer: fire every timeout due (each with what it causes, in step mode),
        then set the timer for the next deadline."""
        self._alarm = self._armed = None
        clock = self._clock
        assert clock is not None  # it called
        deadlines = self._deadlines
        while deadlines:
            deadline, entry, machine, timeout = deadlines[0]
            if machine is None:
                heapq.heappop(deadlines)  # the state was left
                continue
            if deadline - clock.now() > _DUE:
                break
            heapq.heappop(deadlines)
            self._timer_fired(_TimerFired(machine, timeout.event(machine), entry))
        if deadlines and (self._armed is None or deadlines[0][0] < self._armed):
            self._arm(clock, deadlines[0][0])

    def _compact(self) -> None:
        """Drop the stale entries of the heap at once (they outnumber the live ones)."""
        deadlines = self._deadlines
        deadlines[:] = [timed for timed in deadlines if timed[2] is not None]
        heapq.heapify(deadlines)
        self._compact_above = 2 * len(deadlines) + _COMPACT_ABOVE

    def _stop_timeouts(self) -> None:
        """No timeout any more, and no clock timer (the dispatcher's block ends)."""
        if self._alarm is not None:
            self._alarm.cancel()
        self._alarm = self._armed = None
        self._entered.clear()
        self._deadlines.clear()

    def _timer_fired(self, fired: _TimerFired) -> None:
        if self._queue is not None:
            self._enqueue(fired, "clock")
        else:
            with contextlib.suppress(RtcRuntimeError):  # logged and counted by _apply
                self._apply(fired, "clock", self.stats._received("clock"))
            self._apply_follow_ups()
