"""Clocks: where timeouts (warning escalation, retry back-off, reconnect window) get their time.

* :class:`VirtualClock` moves only when told to (:meth:`VirtualClock.advance`), firing due
  callbacks in deadline order, synchronously. Tests and simulations use it: an hour-long
  scenario runs in milliseconds, and nothing ever sleeps in real time.
* :class:`AnyioClock` uses the event loop's time and sleeps in tasks of a task group it is
  given, so its timers never outlive that group.

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


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "deadline", "order")

    def __init__(self, deadline: float, order: int, callback: Callable[[], object]) -> None:
        self.deadline = deadline
        self.order = order
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: _VirtualTimer) -> bool:
        return (self.deadline, self.order) < (other.deadline, other.order)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock that only moves when :meth:`advance` (or :meth:`advance_to`) is called.

    Callbacks due at the same instant run in the order they were scheduled. A callback may
    schedule further timers; those due within the same advance run too.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[_VirtualTimer] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, not {delay}")
        timer = _VirtualTimer(self._now + delay, next(self._order), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def next_deadline(self) -> float | None:
        """When the earliest pending timer is due, or ``None`` when none is pending."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].deadline if self._timers else None

    @property
    def pending(self) -> int:
        """How many timers are scheduled and not cancelled."""
        return sum(not timer.cancelled for timer in self._timers)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every callback that falls due on the way."""
        if seconds < 0:
            raise ValueError(f"time cannot go backwards ({seconds} s)")
        self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        """Move time forward to ``when``, running every callback due by then, in order."""
        if when < self._now:
            raise ValueError(f"time cannot go backwards (from {self._now} to {when})")
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > when:
                break
            timer = heapq.heappop(self._timers)
            self._now = timer.deadline
            timer.callback()
        self._now = when


class _AnyioTimer:
    __slots__ = ("scope",)

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()

    def cancel(self) -> None:
        self.scope.cancel()


class AnyioClock:
    """Real time from the running event loop; each timer is a task in ``task_group``.

    Works under asyncio and trio. Cancelling the task group cancels every pending timer.
    """

    def __init__(self, task_group: anyio.abc.TaskGroup) -> None:
        self._task_group = task_group

    def now(self) -> float:
        return anyio.current_time()

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        timer = _AnyioTimer()

        async def wait_then_call() -> None:
            with timer.scope:
                await anyio.sleep(delay)
                callback()

        self._task_group.start_soon(wait_then_call)
        return timer


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
