"""Handlers: application callbacks for the changes they ask for, from the first transition on.

::

    handlers = rtcstate.Handlers()

    @handlers.on("room", dest="reconnecting")
    def warn(change: StateChange, room: Room) -> None:
        print("reconnecting:", change.error)

    @handlers.on("remote_track", dest="subscribed")
    async def record(change: StateChange, room: Room) -> None:
        media = room.remote_tracks[change.id].media  # the transport's media object
        ...

    async with rtcstate.connect(transport, options, handlers=handlers) as room:
        room.on("local_track", dest="published")(lambda change, room: ...)

A handler gets the :class:`~rtcstate.models.StateChange` and the :class:`~rtcstate.room.Room`.
Filters (all optional, all must hold): the machine kind, the destination state, the trigger,
the instance id. Sync handlers run as the change is delivered; async ones run one at a time,
in the order of the changes, on the room's task group. A handler that raises is logged
(``handler_failed``) and counted in :attr:`Handlers.errors`; the room goes on.

Names are checked when a handler is added: a state or trigger no machine has raises
``ValueError`` (and is a type error for mypy: see :mod:`rtcstate.models.states`).
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from rtcstate.models.base import MachineKind
from rtcstate.models.state_change import StateChange
from rtcstate.models.states import AnyState, AnyTrigger
from rtcstate.statemachines import SPECS

if TYPE_CHECKING:
    from rtcstate.room import Room

__all__ = ["Handler", "Handlers", "check_names"]

Handler = Callable[[StateChange, "Room"], "Awaitable[None] | None"]
"""A callback: ``handler(change, room)``, sync or async."""

H = TypeVar("H", bound=Handler)


def check_names(machine: str | None, dest: str | None, trigger: str | None) -> None:
    """Raise ``ValueError`` naming the first of ``machine``, ``dest``, ``trigger`` that no
    (or not that) machine has, with the closest real name."""
    specs = [SPECS[machine]] if machine is not None and machine in SPECS else list(SPECS.values())
    if machine is not None and machine not in SPECS:
        _unknown("machine", machine, list(SPECS))
    if dest is not None:
        states = [state.name for spec in specs for state in spec.states]
        if dest not in states:
            _unknown("state", dest, states, machine)
    if trigger is not None:
        triggers = [t.trigger for spec in specs for t in spec.transitions]
        triggers += [spec.created_by.trigger for spec in specs if spec.created_by]
        if trigger not in triggers:
            _unknown("trigger", trigger, triggers, machine)


def _unknown(what: str, name: str, known: list[str], machine: str | None = None) -> None:
    close = difflib.get_close_matches(name, known, n=1)
    where = f" of {machine}" if machine else ""
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"no {what} {name!r}{where}{hint}")


@dataclass(frozen=True, slots=True)
class _Entry:
    handler: Handler
    machine: str | None
    dest: str | None
    trigger: str | None
    id: str | None

    def wants(self, change: StateChange) -> bool:
        return ((self.machine is None or change.machine == self.machine)
                and (self.dest is None or change.dest == self.dest)
                and (self.trigger is None or change.event == self.trigger)
                and (self.id is None or change.id == self.id))


class Handlers:
    """Callbacks by what they want to hear; give them to :func:`rtcstate.connect` to hear the
    whole lifecycle, the first ``idle -> connecting`` included.

    Attributes:
        errors: how many handler calls raised (each one is logged).
    """

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self.errors = 0

    def on(self, machine: MachineKind | None = None, *, dest: AnyState | None = None,
           trigger: AnyTrigger | None = None, id: str | None = None,  # noqa: A002
           ) -> Callable[[H], H]:
        """A decorator adding a handler for the changes that match every filter given.

        Raises:
            ValueError: a machine kind, state or trigger that does not exist.
        """
        check_names(machine, dest, trigger)

        def add(handler: H) -> H:
            self._entries.append(_Entry(handler, machine, dest, trigger, id))
            return handler

        return add

    def remove(self, handler: Handler) -> None:
        """Stop calling ``handler`` (for every filter it was added with)."""
        self._entries = [entry for entry in self._entries if entry.handler is not handler]

    def matching(self, change: StateChange) -> list[Handler]:
        """The handlers ``change`` is for, in the order they were added."""
        return [entry.handler for entry in self._entries if entry.wants(change)]

    def __len__(self) -> int:
        return len(self._entries)
