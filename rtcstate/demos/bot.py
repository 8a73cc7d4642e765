"""The bot behind ``rtcstate join``: one participant over real WebRTC, from a shell.

It joins a room, publishes synthetic tracks, reports every state change to a callback and stays
until the room is disconnected or ``stop`` is set: the lifecycle an application sees, and what
the link-failure tests drive in a network namespace. A short script over the public API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio

from rtcstate.adapters.aiortc.transport import AiortcTransport
from rtcstate.dispatcher import Dispatcher
from rtcstate.models.base import TrackKind
from rtcstate.models.options import ConnectOptions
from rtcstate.models.state_change import StateChange
from rtcstate.room import connect

__all__ = ["follow_room"]


async def follow_room(transport: AiortcTransport, options: ConnectOptions,
                      publish: Sequence[tuple[str, TrackKind]],
                      on_change: Callable[[StateChange], object],
                      stop: anyio.Event | None = None) -> str:
    """Join, publish ``publish``, report every change, and leave when the room is
    disconnected or ``stop`` is set. Returns the room's final state.

    Raises:
        ConnectError: joining failed (after the retries ``options.retry`` allows).
        AccessTokenError: the server refused the token (a ConnectError, 20101-20107).
    """
    dispatcher = Dispatcher()
    dispatcher.on_change(on_change)
    async with connect(transport, options, dispatcher=dispatcher) as room:
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
    return room.state
