"""Machine specs: a lifecycle as plain data.

A :class:`MachineSpec` is the single source of a lifecycle: the runtime builds its
``transitions`` machine from it, the diagrams are rendered from it, and the model-based tests
walk it. It holds only data and small named callables (guards, effects, timeout delays), each
with a name so it can be drawn and reported.

Semantics:

* A transition fires when its trigger's event arrives in one of its ``source`` states, its
  ``errors`` (if any) include the error the event reports, and its ``guard`` (if any) passes.
  Transitions are tried in spec order; the first that accepts wins.
* A transition with ``errors`` *carries* one of them into the :class:`StateChange`: the one
  the event reports, or its only one when the event reports none. With ``error_optional``,
  an event that reports none fires it carrying none (a transport that cannot always tell why).
* ``dest=None`` makes an internal transition: the state is unchanged, and a timeout running in
  it is not restarted.
* A state with a ``timeout`` fires the timeout's event ``delay`` seconds after it is entered,
  unless it is left first. The runtime schedules it on a :class:`rtcstate.clock.Clock`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from rtcstate.catalog import CatalogEntry
from rtcstate.errors import SpecError
from rtcstate.models.base import Event

__all__ = [
    "Edge",
    "Effect",
    "Guard",
    "MachineSpec",
    "Role",
    "StateSpec",
    "Timeout",
    "TransitionSpec",
]


class Role(StrEnum):
    """What a transition means to an application; diagrams style each role differently."""

    ORDINARY = "ordinary"
    """Progress reported by the transport (connected, published, subscribed)."""
    ACTION = "action"
    """Something the local application does (connect, publish, disconnect)."""
    FAILURE = "failure"
    """Ends in a failure state, carrying a catalog error."""
    RETRY = "retry"
    """Waits for, or starts, another attempt after a retryable error."""
    RECONNECT = "reconnect"
    """Connection interrupted or restored."""
    WARNING = "warning"
    """A warning was raised."""
    CLEARED = "cleared"
    """A warning cleared."""
    ESCALATION = "escalation"
    """A warning outlasted its timeout; the application should act."""
    FALLBACK = "fallback"
    """A recommended recovery (request the default device, retest)."""


@dataclass(frozen=True, slots=True)
class Guard:
    """A named condition on a transition: ``check(machine, event) -> bool``."""

    name: str
    check: Callable[[Any, Any], bool]
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Effect:
    """A named update of the machine's own data when a transition fires: ``run(machine, event)``."""

    name: str
    run: Callable[[Any, Any], None]
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Timeout:
    """Fire ``event(machine)`` once ``delay(machine)`` seconds after the state is entered.

    ``after`` names the delay for people (``"options.warning_escalation_timeout"``).
    """

    trigger: str
    after: str
    delay: Callable[[Any], float]
    event: Callable[[Any], Event]


@dataclass(frozen=True, slots=True)
class StateSpec:
    """A state. Terminal states have no way out; every machine should be able to reach one."""

    name: str
    doc: str = ""
    terminal: bool = False
    timeout: Timeout | None = None


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """A transition (or, with several sources, one transition per source sharing everything else).

    ``sample`` holds payload fields that make ``guard`` pass; path generation and the
    model-based tests use it to build a valid event for this transition.
    """

    trigger: str
    source: tuple[str, ...]
    dest: str | None
    role: Role = Role.ORDINARY
    guard: Guard | None = None
    errors: tuple[CatalogEntry, ...] = ()
    error_optional: bool = False
    effect: Effect | None = None
    sample: Mapping[str, object] = field(default_factory=dict)
    doc: str = ""

    def dest_from(self, source: str) -> str:
        """The state this transition leads to from ``source``."""
        return source if self.dest is None else self.dest

    @property
    def internal(self) -> bool:
        """Whether the transition leaves the state as it is."""
        return self.dest is None

    @property
    def errors_label(self) -> str:
        """How a refusal names the errors this transition carries: ``"errors 53002|53205"``."""
        return "errors " + "|".join(e.label for e in self.errors)

    def carried_error(self, event: Event) -> CatalogEntry | None | Literal[False]:
        """The catalog entry this transition carries for ``event``: ``None`` when it carries
        none, ``False`` when ``event`` reports an error it does not carry (so it cannot fire).

        An event reporting no error gets the transition's only error. A message the catalog
        does not list for the reported name falls back to the name alone.
        """
        errors = self.errors
        if not errors:
            return None
        ref = event.error_ref()
        if ref is None:
            if self.error_optional:
                return None
            return errors[0] if len(errors) == 1 else False
        for entry in errors:
            if ref.matches(entry):
                return entry
        if ref.message is not None:
            bare = ref._replace(message=None)
            for entry in errors:
                if bare.matches(entry):
                    return entry
        return False


@dataclass(frozen=True, slots=True)
class Edge:
    """One source-to-dest step of a transition: what a diagram draws and coverage counts."""

    machine: str
    trigger: str
    source: str
    dest: str
    transition: TransitionSpec = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        """``"room:connecting--connected-->connected"``: stable, readable, unique per machine."""
        return f"{self.machine}:{self.source}--{self.trigger}-->{self.dest}"


@dataclass(frozen=True)
class MachineSpec:
    """A lifecycle: states, transitions and the event model of each trigger.

    ``created_by`` is the event that brings an instance into being, in the initial state, when
    instances appear at run time (a remote participant joining): a dispatcher told to may
    create the machine when that event names an unknown instance.

    Construction validates the spec and raises :class:`rtcstate.SpecError` listing every
    inconsistency.
    """

    kind: str
    title: str
    doc: str
    initial: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    events: Mapping[str, type[Event]]
    created_by: type[Event] | None = None

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise SpecError(self.kind, problems)
        # A frozen dataclass: these indexes are set once, here, and never change.
        object.__setattr__(self, "_by_name", {state.name: state for state in self.states})
        object.__setattr__(self, "timeouts", {
            state.name: state.timeout for state in self.states if state.timeout is not None})
        object.__setattr__(self, "timed_states", frozenset(self.timeouts))

    def state(self, name: str) -> StateSpec:
        """The state called ``name``. Raises ``KeyError``."""
        by_name: dict[str, StateSpec] = self.__dict__.get("_by_name") or {
            state.name: state for state in self.states}
        return by_name[name]

    timed_states: frozenset[str] = field(init=False, default=frozenset(), compare=False)
    """Names of the states that have a timeout (set when the spec is built)."""

    timeouts: Mapping[str, Timeout] = field(init=False, default_factory=dict, compare=False,
                                            repr=False)
    """The timeout of each state that has one, by state name (set when the spec is built)."""

    @property
    def state_names(self) -> tuple[str, ...]:
        """State names in spec order."""
        return tuple(state.name for state in self.states)

    @property
    def terminal_states(self) -> frozenset[str]:
        """Names of the terminal states."""
        return frozenset(state.name for state in self.states if state.terminal)

    def edges(self) -> Iterator[Edge]:
        """Every source-to-dest step, in spec order."""
        for transition in self.transitions:
            for source in transition.source:
                yield Edge(self.kind, transition.trigger, source, transition.dest_from(source),
                           transition)

    def triggers_from(self, state: str) -> tuple[str, ...]:
        """Triggers with at least one transition out of ``state``, in spec order, once each."""
        seen: dict[str, None] = {}
        for transition in self.transitions:
            if state in transition.source:
                seen.setdefault(transition.trigger)
        return tuple(seen)

    def _problems(self) -> Iterator[str]:
        names = [state.name for state in self.states]
        known = set(names)
        for name in sorted({n for n in names if names.count(n) > 1}):
            yield f"state {name!r} is declared twice"
        if self.initial not in known:
            yield f"initial state {self.initial!r} is not declared"
        terminal = {state.name for state in self.states if state.terminal}
        triggers = {transition.trigger for transition in self.transitions}
        for transition in self.transitions:
            where = f"transition {transition.trigger!r}"
            if not transition.source:
                yield f"{where} has no source state"
            for name in (*transition.source, *([transition.dest] if transition.dest else [])):
                if name not in known:
                    yield f"{where} names undeclared state {name!r}"
            for name in transition.source:
                if name in terminal:
                    yield f"{where} leaves terminal state {name!r}"
            model = self.events.get(transition.trigger)
            if model is None:
                yield f"{where} has no event model"
            elif (model.machine, model.trigger) != (self.kind, transition.trigger):
                yield f"{where} maps to event type {model.machine}.{model.trigger}"
            elif len(transition.errors) > 1 and model.error_fields(transition.errors[0]) == {}:
                yield f"{where} carries several errors but its event cannot say which"
        keys = [edge.key for edge in self.edges()]
        for key in sorted({key for key in keys if keys.count(key) > 1}):
            yield f"edge {key} is declared twice"
        if self.created_by is not None:
            creator = self.created_by
            if creator.machine != self.kind:
                yield f"created_by event {creator.machine}.{creator.trigger} is for another machine"
            if creator.trigger in self.events:
                yield f"created_by event {creator.trigger!r} is also a transition trigger"
        for trigger in sorted(set(self.events) - triggers):
            yield f"event model for {trigger!r} has no transition"
        for state in self.states:
            if state.timeout is not None:
                if state.timeout.trigger not in self.triggers_from(state.name):
                    yield (f"timeout of state {state.name!r} fires {state.timeout.trigger!r}, "
                           "which has no transition from that state")
            if not state.terminal and not self.triggers_from(state.name):
                yield f"non-terminal state {state.name!r} has no way out"
        if self.initial in known:
            unreachable = known - self._reachable()
            for name in sorted(unreachable):
                yield f"state {name!r} cannot be reached from {self.initial!r}"
            for name in sorted(known - terminal):
                if terminal and not self._reachable(name) & terminal:
                    yield f"no terminal state can be reached from {name!r}"

    def _reachable(self, start: str | None = None) -> set[str]:
        seen = {start or self.initial}
        queue = deque(seen)
        while queue:
            state = queue.popleft()
            for transition in self.transitions:
                if state in transition.source:
                    dest = transition.dest_from(state)
                    if dest not in seen:
                        seen.add(dest)
                        queue.append(dest)
        return seen
