"""The record every transition produces."""

from __future__ import annotations

from typing import Any, NamedTuple

from rtcstate.catalog import CatalogEntry
from rtcstate.models.base import Event, MachineKind
from rtcstate.models.states import AnyState, AnyTrigger

__all__ = ["StateChange"]


class StateChange(NamedTuple):
    """One transition of one machine instance (immutable; a named tuple, for speed).

    Attributes:
        machine: the machine kind (``"room"``, ``"local_track"``, ...).
        id: the instance id (room name, track name, track sid, participant sid, device kind).
        source: the state before; ``None`` when the event created the machine.
        dest: the state after (equal to ``source`` for an internal transition such as a restart).
        event: the trigger that fired.

    ``machine``, ``source``, ``dest`` and ``event`` are typed as the literals of
    :mod:`rtcstate.models.states`: comparing one with a misspelt name is a type error.
        error: the catalog entry the transition carries, or ``None``.
        at: when, in seconds on the run's clock.
        role: what kind of transition it was (``"reconnect"``, ``"warning"``, ...), for display.
        cause: the validated event that caused it.
    """

    machine: MachineKind
    id: str
    source: AnyState | None
    dest: AnyState
    event: AnyTrigger
    error: CatalogEntry | None
    at: float
    role: str = "ordinary"
    cause: Event | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``at, machine, id, source, dest, event, error`` (``{code, name}``)."""
        return {
            "at": round(self.at, 6),
            "machine": self.machine,
            "id": self.id,
            "source": self.source,
            "dest": self.dest,
            "event": self.event,
            "error": self.error.brief() if self.error is not None else None,
        }
