"""Clocks: where timeouts (warning escalation, retry back-off, reconnect window) get their time.

* :class:`VirtualClock` moves only when told to (:meth:`VirtualClock.advance`), firing due
  callbacks in deadline order, synchronously. Tests and simulations use it: an hour-long
  scenario runs in milliseconds, and nothing ever sleeps in real time.
* :class:`AnyioClock` uses the event loop's time and sleeps in one task of a task group it is
  given, so its timers never outlive that group.

Both keep timers in a heap with tombstones: scheduling is one push, cancelling marks the
timer, and a million pending timers cost the memory for them only. (A dispatcher asks for one
timer at a time: it keeps its state timeouts in a heap of its own.)

Both implement :class:`Clock`; the dispatcher needs nothing else.

* :class:`VirtualTime` drives a ``VirtualClock`` for several concurrent parties (rooms,
  simulated services): time moves to the next deadline only once every registered party is
  idle, the way trio's autojumping ``MockClock`` does, but deterministic and on any backend.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Protocol

import anyio
import anyio.abc
import anyio.lowlevel

__all__ = ["AnyioClock", "Clock", "TimerHandle", "VirtualClock", "VirtualTime"]

_heappush = heapq.heappush


class TimerHandle(Protocol):
    """A scheduled callback that can still be cancelled."""

    def cancel(self) -> None:
        """Do not run the callback (no effect once it has run)."""


class Clock(Protocol):
    """The time source and timer service the dispatcher schedules timeouts on."""

    def now(self) -> float:
        """The current time in seconds (an arbitrary, monotonic origin)."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback()`` once, ``delay`` seconds from now, unless cancelled first."""


class _Timer:
    """A pending callback: cancelling marks it (a tombstone left in its clock's heap)."""

    __slots__ = ("callback", "cancelled", "clock")

    def __init__(self, clock: _TimerHeap, callback: Callable[[], object]) -> None:
        self.clock = clock
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.clock._tombstone()


class _TimerHeap:
    """Timers by ``(deadline, order)``: scheduling is one push, cancelling marks the timer and
    costs nothing more. Tombstones are dropped as they reach the top, and all at once when they
    outnumber the live timers, so memory follows the timers pending, not the timers made."""

    #: The heap is compacted only above this many tombstones.
    compact_above = 1024

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._tombstones = 0

    def _push(self, deadline: float, callback: Callable[[], object]) -> _Timer:
        timer = _Timer(self, callback)
        _heappush(self._heap, (deadline, next(self._order), timer))
        return timer

    def _tombstone(self) -> None:
        self._tombstones += 1
        if self._tombstones > self.compact_above and self._tombstones * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2].cancelled]
            heapq.heapify(self._heap)
            self._tombstones = 0

    def _earliest(self) -> tuple[float, int, _Timer] | None:
        """The earliest live entry, dropping tombstones on the way."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
            self._tombstones -= 1
        return heap[0] if heap else None

    def _pop(self) -> _Timer:
        """Take the earliest live timer off (call :meth:`_earliest` first)."""
        timer = heapq.heappop(self._heap)[2]
        timer.cancelled = True  # run once: a late cancel() is a no-op
        return timer

    @property
    def pending(self) -> int:
        """How many timers are scheduled and not cancelled (or run)."""
        return len(self._heap) - self._tombstones


class VirtualClock(_TimerHeap):
    """A clock that only moves when :meth:`advance` (or :meth:`advance_to`) is called.

    Callbacks due at the same instant run in the order they were scheduled. A callback may
    schedule further timers; those due within the same advance run too.
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = start

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, not {delay}")
        timer = _Timer(self, callback)  # _push(), inlined: every timed state's entry
        _heappush(self._heap, (self._now + delay, next(self._order), timer))
        return timer

    def next_deadline(self) -> float | None:
        """When the earliest pending timer is due, or ``None`` when none is pending."""
        earliest = self._earliest()
        return earliest[0] if earliest is not None else None

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every callback that falls due on the way."""
        if seconds < 0:
            raise ValueError(f"time cannot go backwards ({seconds} s)")
        self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        """Move time forward to ``when``, running every callback due by then, in order."""
        if when < self._now:
            raise ValueError(f"time cannot go backwards (from {self._now} to {when})")
        while (earliest := self._earliest()) is not None and earliest[0] <= when:
            self._now = earliest[0]
            self._pop().callback()
        self._now = when


class AnyioClock(_TimerHeap):
    """Real time from the running event loop; timers wait in one task of ``task_group``.

    One task sleeps until the earliest deadline (woken when an earlier one is scheduled) and
    runs what is due, so a timer costs a heap entry, not a task. Works under asyncio and trio.
    Cancelling the task group cancels every pending timer.
    """

    def __init__(self, task_group: anyio.abc.TaskGroup) -> None:
        super().__init__()
        self._task_group = task_group
        self._sleeping = False
        self._wake: anyio.Event | None = None

    def now(self) -> float:
        return anyio.current_time()

    def _tombstone(self) -> None:
        super()._tombstone()
        heap = self._heap
        if self._wake is not None and heap and heap[0][2].cancelled:
            self._wake.set()  # the timer it sleeps for is gone: sleep for the next, or end

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        deadline = anyio.current_time() + max(delay, 0.0)
        earliest = self._earliest()
        timer = self._push(deadline, callback)
        if not self._sleeping:
            self._sleeping = True
            self._task_group.start_soon(self._run_timers)
        elif self._wake is not None and (earliest is None or deadline < earliest[0]):
            self._wake.set()
        return timer

    async def _run_timers(self) -> None:
        try:
            while (earliest := self._earliest()) is not None:
                if earliest[0] <= anyio.current_time():
                    self._pop().callback()
                    continue
                self._wake = anyio.Event()
                with anyio.CancelScope(deadline=earliest[0]):
                    await self._wake.wait()
                self._wake = None
        finally:
            self._sleeping = False
            self._wake = None


IdleCheck = Callable[[], bool]


class VirtualTime:
    """Moves a :class:`VirtualClock` only when every registered party has nothing left to do.

    A party (a room's event pump and dispatcher, say) registers a function that says whether it
    is idle. :meth:`settle` yields to other tasks until all are; :meth:`advance` and
    :meth:`run_until` then move the clock from deadline to deadline, settling in between, so
    every timeout fires at its own instant with everything it causes processed before time
    moves on.
    """

    #: Yields to other tasks a settle may take before it decides something never goes idle.
    max_spins = 1_000_000

    def __init__(self, clock: VirtualClock | None = None) -> None:
        self.clock = clock or VirtualClock()
        self._parties: list[IdleCheck] = []

    def register(self, is_idle: IdleCheck) -> Callable[[], None]:
        """Add a party; returns a function that removes it."""
        self._parties.append(is_idle)

        def unregister() -> None:
            if is_idle in self._parties:
                self._parties.remove(is_idle)

        return unregister

    def idle(self) -> bool:
        """Whether every party is idle now."""
        return all(is_idle() for is_idle in self._parties)

    async def settle(self) -> None:
        """Yield to other tasks until every party is idle.

        Raises:
            RuntimeError: some party stayed busy for :attr:`max_spins` yields.
        """
        for _ in range(self.max_spins):
            if self.idle():
                return
            await anyio.lowlevel.checkpoint()
        raise RuntimeError("virtual time could not settle: a party never became idle")

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing and settling each deadline on the way."""
        target = self.clock.now() + seconds
        await self.settle()
        while (deadline := self.clock.next_deadline()) is not None and deadline <= target:
            self.clock.advance_to(deadline)
            await self.settle()
        self.clock.advance_to(target)
        await self.settle()

    async def run_until(self, predicate: Callable[[], bool], *, within: float) -> bool:
        """Advance from deadline to deadline until ``predicate()`` holds, for ``within`` s at most.

        Returns whether it holds; time stops at the deadline that made it true.
        """
        limit = self.clock.now() + within
        await self.settle()
        while not predicate():
            deadline = self.clock.next_deadline()
            if deadline is None or deadline > limit:
                return False
            self.clock.advance_to(deadline)
            await self.settle()
        return True
