"""The execution engine: a spec compiled into a table, for speed.

``transitions`` stays the definition, diagram and reference engine (see
:mod:`rtcstate.statemachines.runtime`); events are executed by a table compiled from the same
spec: ``(state, trigger) -> candidate transitions``, each with its guard, the errors it carries,
its effect and its destination, tried in spec order exactly as ``transitions`` tries them.
A differential test runs both engines on every generated path and on thousands of random walks
per machine and requires the same outcome every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from rtcstate.catalog import CatalogEntry
from rtcstate.errors import GuardRejected, InvalidTransition
from rtcstate.models.base import ErrorRef, Event
from rtcstate.models.room import ReportsCode
from rtcstate.statemachines.spec import MachineSpec, Timeout, TransitionSpec

if TYPE_CHECKING:
    from rtcstate.statemachines.runtime import LifecycleMachine

__all__ = ["CompiledTable"]


_UNKNOWN = object()


class _Candidate:
    """One transition from one source state, compiled. ``moves``: whether taking it changes the
    state (only then are timeouts left and entered); ``timeout``: the timeout of the state it
    enters, if it moves to a timed state."""

    __slots__ = ("by_code", "carried", "dest", "effect", "errors", "errors_label", "guard",
                 "guard_name", "moves", "role", "timeout", "transition", "without_report")

    #: Distinct error reports remembered per transition. Reports name catalog codes and names,
    #: so a handful cover a real run; messages come from outside, so the memo is bounded.
    memo_size = 256

    def __init__(self, transition: TransitionSpec, model: type[Event], source: str,
                 timeouts: Mapping[str, Timeout]) -> None:
        self.transition = transition
        self.role = transition.role.value
        self.dest = transition.dest
        dest = transition.dest
        self.moves = dest is not None and dest != source
        self.timeout = timeouts.get(dest) if dest is not None and dest != source else None
        self.errors = bool(transition.errors)
        self.errors_label = transition.errors_label if transition.errors else ""
        self.guard = transition.guard.check if transition.guard else None
        self.guard_name = transition.guard.name if transition.guard else ""
        self.effect = transition.effect.run if transition.effect else None
        # What carried_error() answers for an event that reports no error, and, memoised, for
        # each report seen: it depends on the report alone.
        self.without_report: CatalogEntry | None | Literal[False] = None
        if transition.errors and not transition.error_optional:
            errors = transition.errors
            self.without_report = errors[0] if len(errors) == 1 else False
        self.carried: dict[ErrorRef, CatalogEntry | None | Literal[False]] = {}
        # Events that report a catalog code and nothing else: the code is the report.
        self.by_code: dict[int, CatalogEntry] | None = None
        if transition.errors and model.error_ref is ReportsCode.error_ref:
            self.by_code = {}
            for entry in transition.errors:  # the first entry with the code, as carried_error
                if entry.code is not None:
                    self.by_code.setdefault(entry.code, entry)

    def carried_error(self, event: Event) -> CatalogEntry | None | Literal[False]:
        """:meth:`TransitionSpec.carried_error`, memoised by the event's error report."""
        by_code = self.by_code
        if by_code is not None:
            code = getattr(event, "error_code", None)  # what ReportsCode.error_ref reads
            if code is None:
                return self.without_report
            return by_code.get(code, False)
        ref = event.error_ref()
        if ref is None:
            return self.without_report
        carried = self.carried.get(ref, _UNKNOWN)
        if carried is _UNKNOWN:
            carried = self.transition.carried_error(event)
            if len(self.carried) < self.memo_size:
                self.carried[ref] = carried
        return carried  # type: ignore[return-value]


class CompiledTable:
    """``(state, trigger) -> candidates`` for one spec; :meth:`fire` runs one event."""

    __slots__ = ("kind", "table", "triggers")

    def __init__(self, spec: MachineSpec) -> None:
        self.kind = spec.kind
        self.triggers = frozenset(spec.events)
        table: dict[tuple[str, str], list[_Candidate]] = {}
        for transition in spec.transitions:
            for source in transition.source:
                table.setdefault((source, transition.trigger), []).append(
                    _Candidate(transition, spec.events[transition.trigger], source,
                               spec.timeouts))
        self.table: dict[tuple[str, str], tuple[_Candidate, ...]] = {
            key: tuple(candidates) for key, candidates in table.items()}

    def fire(self, machine: LifecycleMachine,
             event: Event) -> tuple[TransitionSpec, CatalogEntry | None]:
        """Take the first transition that accepts ``event``; return it and the error carried.

        Raises:
            InvalidTransition: no transition for the trigger from the current state.
            GuardRejected: transitions exist, none accepted (their guards or errors said no).
        """
        candidate, carried = self.take(machine, event, event.trigger)
        return candidate.transition, carried

    def take(self, machine: LifecycleMachine, event: Event,
             trigger: str) -> tuple[_Candidate, Any]:
        """:meth:`fire`, returning the compiled candidate (the runtime's fast path);
        ``trigger`` is ``event.trigger``, which the caller has at hand.

        Raises:
            InvalidTransition: no transition for the trigger from the current state.
            GuardRejected: transitions exist, none accepted (their guards or errors said no).
        """
        state = machine.state
        candidates = self.table.get((state, trigger))
        if candidates is None:
            reason = None if trigger in self.triggers else (
                f"{self.kind} machines have no trigger {trigger!r}")
            raise InvalidTransition(self.kind, machine.id, state, trigger, reason)
        refused: list[str] | None = None  # made only when one refuses: most events pass
        for candidate in candidates:
            carried: Any = None
            if candidate.errors:
                by_code = candidate.by_code
                if by_code is not None:  # carried_error()'s first case, inlined
                    code = getattr(event, "error_code", None)
                    carried = candidate.without_report if code is None else by_code.get(code,
                                                                                      False)
                else:
                    carried = candidate.carried_error(event)
                if carried is False:
                    refused = [*(refused or ()), candidate.errors_label]
                    continue
            guard = candidate.guard
            if guard is not None and not guard(machine, event):
                refused = [*(refused or ()), candidate.guard_name]
                continue
            if candidate.dest is not None:
                machine.state = candidate.dest
            if candidate.effect is not None:
                candidate.effect(machine, event)
            return candidate, carried
        raise GuardRejected(self.kind, machine.id, state, trigger, refused or [])
