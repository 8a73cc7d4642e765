"""The execution engine: a spec compiled into a table, for speed.

``transitions`` stays the definition, diagram and reference engine (see
:mod:`rtcstate.statemachines.runtime`); events are executed by a table compiled from the same
spec: ``(state, trigger) -> candidate transitions``, each with its guard, the errors it carries,
its effect and its destination, tried in spec order exactly as ``transitions`` tries them.
A differential test runs both engines on every generated path and on thousands of random walks
per machine and requires the same outcome every time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rtcstate.catalog import CatalogEntry
from rtcstate.errors import GuardRejected, InvalidTransition
from rtcstate.models.base import Event
from rtcstate.statemachines.spec import MachineSpec, TransitionSpec

if TYPE_CHECKING:
    from rtcstate.statemachines.runtime import LifecycleMachine

__all__ = ["CompiledTable"]


class _Candidate:
    __slots__ = ("dest", "effect", "errors", "guard", "guard_name", "role", "transition")

    def __init__(self, transition: TransitionSpec) -> None:
        self.transition = transition
        self.role = transition.role.value
        self.dest = transition.dest
        self.errors = bool(transition.errors)
        self.guard = transition.guard.check if transition.guard else None
        self.guard_name = transition.guard.name if transition.guard else ""
        self.effect = transition.effect.run if transition.effect else None


class CompiledTable:
    """``(state, trigger) -> candidates`` for one spec; :meth:`fire` runs one event."""

    __slots__ = ("kind", "table", "triggers")

    def __init__(self, spec: MachineSpec) -> None:
        self.kind = spec.kind
        self.triggers = frozenset(spec.events)
        table: dict[tuple[str, str], list[_Candidate]] = {}
        for transition in spec.transitions:
            for source in transition.source:
                table.setdefault((source, transition.trigger), []).append(_Candidate(transition))
        self.table: dict[tuple[str, str], tuple[_Candidate, ...]] = {
            key: tuple(candidates) for key, candidates in table.items()}

    def fire(self, machine: LifecycleMachine,
             event: Event) -> tuple[TransitionSpec, CatalogEntry | None]:
        """Take the first transition that accepts ``event``; return it and the error carried.

        Raises:
            InvalidTransition: no transition for the trigger from the current state.
            GuardRejected: transitions exist, none accepted (their guards or errors said no).
        """
        candidate, carried = self.take(machine, event)
        return candidate.transition, carried

    def take(self, machine: LifecycleMachine, event: Event) -> tuple[_Candidate, Any]:
        """:meth:`fire`, returning the compiled candidate (the runtime's fast path).

        Raises:
            InvalidTransition: no transition for the trigger from the current state.
            GuardRejected: transitions exist, none accepted (their guards or errors said no).
        """
        state = machine.state
        trigger = event.trigger
        candidates = self.table.get((state, trigger))
        if candidates is None:
            reason = None if trigger in self.triggers else (
                f"{self.kind} machines have no trigger {trigger!r}")
            raise InvalidTransition(self.kind, machine.id, state, trigger, reason)
        refused: list[str] = []
        for candidate in candidates:
            carried: Any = None
            if candidate.errors:
                carried = candidate.transition.carried_error(event)
                if carried is False:
                    refused.append(candidate.transition.errors_label)
                    continue
            guard = candidate.guard
            if guard is not None and not guard(machine, event):
                refused.append(candidate.guard_name)
                continue
            if candidate.dest is not None:
                machine.state = candidate.dest
            if candidate.effect is not None:
                candidate.effect(machine, event)
            return candidate, carried
        raise GuardRejected(self.kind, machine.id, state, trigger, refused)
