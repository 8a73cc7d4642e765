"""Small helpers shared by the tests: build events tersely, record whole state sequences."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import trio

from rtcstate.limits import MAX_NAME_LENGTH
from rtcstate.models import StateChange
from rtcstate.statemachines import LifecycleMachine

if TYPE_CHECKING:
    from rtcstate import Dispatcher, Room
    from rtcstate.adapters.aiortc.client import AiortcClient

TOKEN_SECRET = "rtcstate-test-secret-of-32-bytes!"
"""Signs the access tokens of the aiortc tests (PyJWT warns about HMAC keys under 32 bytes)."""

BAD_NAMES = [
    ("   ", "alice", 53100),
    ("r" * (MAX_NAME_LENGTH + 1), "alice", 53101),
    ("stand\nup", "alice", 53102),
    ("standup", "\t", 53200),
    ("standup", "a" * (MAX_NAME_LENGTH + 1), 53201),
    ("standup", "ali\u200bce", 53202),
    ("standup", "ali\x00ce", 53202),
]
"""(Room name, identity, the code a room service refuses the join with): rtcstate.limits."""

Step = tuple[str | None, str, str, str | None]
"""(source, event, dest, catalog entry id or None): one transition, for list comparisons."""


def step(change: StateChange) -> Step:
    """A change reduced to what sequence assertions compare."""
    return (change.source, change.event, change.dest, change.error.id if change.error else None)


def drive(machine: LifecycleMachine, *events: tuple[str, Mapping[str, Any]] | str) -> list[Step]:
    """Apply ``events`` (trigger names, or ``(trigger, extra fields)``) and return the steps.

    The machine's own ids are filled in, so a test names only what matters to it.
    """
    steps = []
    for item in events:
        trigger, extra = (item, {}) if isinstance(item, str) else item
        raw = {"type": f"{machine.kind}.{trigger}", **machine.event_fields(), **extra}
        model = machine.spec.events[trigger]
        raw = {k: v for k, v in raw.items() if k in model.model_fields}
        steps.append(step(machine.apply_raw(raw)))
    return steps


def states(changes: Iterable[StateChange]) -> list[str | None]:
    """The sequence of states visited, starting with the first change's source."""
    changes = list(changes)
    return [changes[0].source, *(c.dest for c in changes)] if changes else []


def due(machine: LifecycleMachine) -> tuple[float, Any]:
    """The machine's pending timeout as ``(delay, event)``; fails the test if it has none."""
    pending = machine.pending_timeout()
    assert pending is not None, f"{machine!r} has no timeout in state {machine.state!r}"
    return pending


def task_count(backend: str) -> int:
    """Every task alive in the running event loop, counted the backend's own way."""
    if backend == "trio":
        def walk(task: Any) -> int:
            return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

        return walk(trio.lowlevel.current_root_task())
    return len(asyncio.all_tasks())


@contextmanager
def captured_logs(level: int = logging.DEBUG) -> Iterator[list[dict[str, Any]]]:
    """Every rtcstate log record from now on: its fields, ``log_level`` and ``logger``."""
    entries: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            fields = getattr(record, "rtcstate", {"event": record.getMessage()})
            entries.append({**fields, "log_level": record.levelname.lower(),
                            "logger": record.name})

    logger = logging.getLogger("rtcstate")
    handler, before = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield entries
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


# -- real transports (aiortc, Janus) -----------------------------------------------------------

def recorder() -> tuple[Dispatcher, list[StateChange]]:
    """A dispatcher, and the list of every change it makes."""
    from rtcstate import Dispatcher

    dispatcher = Dispatcher()
    seen: list[StateChange] = []
    dispatcher.on_change(seen.append)
    return dispatcher, seen


def machine_states(seen: list[StateChange], machine: str) -> list[str]:
    """The states ``machine`` machines entered, in order."""
    return [c.dest for c in seen if c.machine == machine]


def machine_codes(seen: list[StateChange], machine: str) -> list[tuple[str, int | None]]:
    """The states ``machine`` machines entered, in order, each with the code it carried."""
    return [(c.dest, c.error.code if c.error else None) for c in seen if c.machine == machine]


async def until(room: Room, predicate: Any, within: float = 10.0) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``within`` seconds."""
    assert await room.wait_until(predicate, within=within), "timed out waiting"


async def frames(transport: AiortcClient, sids: list[str], at_least: int,
                 within: float = 10.0) -> None:
    """Wait until every track in ``sids`` has delivered ``at_least`` frames."""
    with anyio.fail_after(within):
        for sid in sids:
            await transport.wait_for_frames(sid, at_least)


@asynccontextmanager
async def silent_websocket_server(
        subprotocols: list[str] | None = None) -> AsyncIterator[tuple[str, anyio.Event]]:
    """A WebSocket server on loopback that reads and never answers: ``(url, ended)``, where
    ``ended`` is set once the client's socket has closed."""
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    ended = anyio.Event()

    async def silent(ws: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _message in ws:
                pass  # never answers: whatever waits for an answer waits until cancelled
        ended.set()

    protocols = [Subprotocol(name) for name in subprotocols] if subprotocols else None
    async with serve(silent, "127.0.0.1", 0, subprotocols=protocols) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}", ended
