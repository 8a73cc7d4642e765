"""Clocks: timers in a heap with tombstones; real time in one task per clock."""

from __future__ import annotations

import tracemalloc
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import trio.testing

from rtcstate import AnyioClock, VirtualClock

from .helpers import task_count

MOCK_TRIO = pytest.param(("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}),
                         id="trio-mockclock")


def test_virtual_timers_run_in_deadline_then_scheduling_order() -> None:
    clock = VirtualClock()
    ran: list[str] = []
    clock.call_later(2, lambda: ran.append("b"))
    clock.call_later(1, lambda: ran.append("a"))
    clock.call_later(2, lambda: ran.append("c"))
    clock.call_later(1.5, lambda: ran.append("never")).cancel()
    assert clock.pending == 3
    clock.advance(5)
    assert ran == ["a", "b", "c"]
    assert clock.pending == 0


def test_a_timer_cancelled_after_it_ran_changes_nothing() -> None:
    clock = VirtualClock()
    handle = clock.call_later(1, lambda: None)
    clock.call_later(3, lambda: None)
    clock.advance(2)
    handle.cancel()
    assert clock.pending == 1


def test_entering_and_leaving_a_timed_state_forever_holds_no_memory() -> None:
    """A room flapping connected <-> reconnecting schedules and cancels a window each time:
    cancelled timers must not pile up in the heap (they would, as tombstones, until time
    reached them)."""
    clock = VirtualClock()
    kept = clock.call_later(3600, lambda: None)  # one live timer far away, as in a real room
    for _ in range(2_000):  # warm up: the heap's own list reaches its working size
        clock.call_later(30, lambda: None).cancel()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100_000):
            clock.call_later(30, lambda: None).cancel()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert clock.pending == 1
    assert grown < 500_000, f"{grown} bytes kept for 100,000 cancelled timers"
    kept.cancel()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", MOCK_TRIO])
async def test_real_time_timers_share_one_task_and_an_earlier_one_wakes_it(
        anyio_backend: Any) -> None:
    backend = anyio_backend if isinstance(anyio_backend, str) else anyio_backend[0]
    ran: list[str] = []
    async with anyio.create_task_group() as tasks:
        before = task_count(backend)
        clock = AnyioClock(tasks)
        start = clock.now()
        late = [clock.call_later(10 + i, lambda: ran.append("late")) for i in range(100)]
        await anyio.lowlevel.checkpoint()
        assert task_count(backend) == before + 1
        # Scheduled after a hundred later ones, due first: the sleeping task wakes for it.
        done = anyio.Event()

        def early() -> None:
            ran.append("early")
            done.set()

        clock.call_later(0.05, early)
        with anyio.fail_after(5):
            await done.wait()
        assert clock.now() - start < 10
        for handle in late:
            handle.cancel()
        assert clock.pending == 0
        await anyio.sleep(0.01)
        assert task_count(backend) == before, "the timer task outlived the last timer"
    assert ran == ["early"]
