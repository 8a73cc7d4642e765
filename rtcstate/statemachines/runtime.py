"""Running a spec: cheap instances, one apply path, two engines that must agree.

Instances are plain slotted objects holding ``id``, ``state`` and a few fields of their own.
Every state change goes through :meth:`LifecycleMachine.apply`, which fires the event, logs one
log line and returns the :class:`StateChange` (telling any observers).

Events are executed by a table compiled from the spec (:mod:`.compiled`). ``transitions`` is
the reference engine: one ``transitions.Machine`` per machine *kind*, with no models, whose
``Event`` objects fire against the same slotted instances (``add_model`` would cost hundreds of
microseconds and kilobytes per instance). :func:`reference_fire` runs it; a differential test
holds the two engines to the same outcome on every generated path and on random walks.

Both are synchronous on purpose: the anyio dispatcher drives them, so the same machines run
under asyncio and trio.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from transitions import Machine, MachineError, State

from rtcstate.catalog import CatalogEntry
from rtcstate.errors import GuardRejected, InvalidTransition
from rtcstate.logs import get_logger
from rtcstate.models.base import Event
from rtcstate.models.events import parse_event
from rtcstate.models.state_change import StateChange
from rtcstate.statemachines.compiled import CompiledTable, _Candidate
from rtcstate.statemachines.spec import MachineSpec, TransitionSpec

__all__ = ["LifecycleMachine", "observe_transitions", "reference_fire"]

_log = get_logger("rtcstate")
_LEVELS = logging.getLogger("rtcstate")

# StateChange's generated __new__ is one Python frame more than building the tuple directly.
_new_change = tuple.__new__

TransitionObserver = Callable[[StateChange], None]
_observers: list[TransitionObserver] = []


def observe_transitions(observer: TransitionObserver) -> Callable[[], None]:
    """Call ``observer`` with every state change of every machine in this process.

    Meant for test tooling (transition coverage); applications should listen on a
    :class:`rtcstate.Dispatcher` instead. Returns a function that removes the observer.
    """
    _observers.append(observer)

    def remove() -> None:
        if observer in _observers:
            _observers.remove(observer)

    return remove


class _Outcome:
    """What the conditions and callbacks of one firing found out."""

    __slots__ = ("error", "rejected_by", "transition")

    def __init__(self) -> None:
        self.transition: TransitionSpec | None = None
        self.error: CatalogEntry | None = None
        self.rejected_by: list[str] = []


class _Engine:
    """The ``transitions`` machine for one kind, shared by all its instances."""

    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.machine = Machine(
            model=None,
            states=[State(s.name, final=s.terminal) for s in spec.states],
            initial=spec.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for transition in spec.transitions:
            for source in transition.source:
                self.machine.add_transition(
                    transition.trigger, source, transition.dest,
                    conditions=[self._condition(transition)],
                    after=[self._after(transition)],
                )

    @staticmethod
    def _condition(transition: TransitionSpec) -> Callable[[Any], bool]:
        guard = transition.guard

        def accepts(event_data: Any) -> bool:
            event: Event = event_data.kwargs["event"]
            outcome: _Outcome = event_data.kwargs["outcome"]
            carried = transition.carried_error(event)
            if carried is False:
                outcome.rejected_by.append(transition.errors_label)
                return False
            if guard is not None and not guard.check(event_data.model, event):
                outcome.rejected_by.append(guard.name)
                return False
            outcome.error = carried if isinstance(carried, CatalogEntry) else None
            return True

        return accepts

    @staticmethod
    def _after(transition: TransitionSpec) -> Callable[[Any], None]:
        effect = transition.effect

        def record(event_data: Any) -> None:
            event_data.kwargs["outcome"].transition = transition
            if effect is not None:
                effect.run(event_data.model, event_data.kwargs["event"])

        return record

    def fire(self, instance: LifecycleMachine,
             event: Event) -> tuple[TransitionSpec, CatalogEntry | None]:
        outcome = _Outcome()
        trigger = self.machine.events.get(event.trigger)
        if trigger is None:
            raise InvalidTransition(self.spec.kind, instance.id, instance.state, event.trigger,
                                    f"{self.spec.kind} machines have no trigger {event.trigger!r}")
        try:
            trigger.trigger(instance, event=event, outcome=outcome)
        except MachineError:
            raise InvalidTransition(self.spec.kind, instance.id, instance.state,
                                    event.trigger) from None
        if outcome.transition is None:
            raise GuardRejected(self.spec.kind, instance.id, instance.state, event.trigger,
                                outcome.rejected_by)
        return outcome.transition, outcome.error


_engines: dict[type[LifecycleMachine], _Engine] = {}
_tables: dict[type[LifecycleMachine], CompiledTable] = {}


def reference_fire(machine: LifecycleMachine,
                   event: Event) -> tuple[TransitionSpec, CatalogEntry | None]:
    """Fire ``event`` on ``machine`` with the ``transitions`` reference engine (no log line,
    no StateChange): for differential tests against the compiled table.

    Raises:
        InvalidTransition, GuardRejected: as :meth:`LifecycleMachine.apply`.
    """
    return type(machine)._engine().fire(machine, event)


# The standard library caches each logger's level checks in a dict it clears (never replaces)
# whenever levels change; reading it here saves a Python call per transition. Where the cache
# is not there (another Python), ``isEnabledFor`` answers every time.
_INFO = logging.INFO
_level_cache: dict[int, bool] = getattr(_LEVELS, "_cache", {})


_facts: dict[type[Event], tuple[str, str, str]] = {}


def _event_facts(model: type[Event]) -> tuple[str, str, str]:
    """``(machine kind, target field, trigger)`` of event class ``model``, read once per class
    and kept: reading an attribute of a pydantic model class costs a tenth of a microsecond
    (its metaclass has a ``__getattr__``), half that through an instance."""
    facts = _facts.get(model)
    if facts is None:
        facts = _facts[model] = (model.machine, model.target_field, model.trigger)
    return facts


def _emit(change: StateChange) -> StateChange:
    """Every change goes out here (``_apply_routed`` inlines it): one log line if INFO is
    enabled, then the observers."""
    enabled = _level_cache.get(_INFO)
    if enabled is None:
        enabled = _LEVELS.isEnabledFor(_INFO)
    if enabled:
        _log_transition(change)
    for observer in _observers:
        observer(change)
    return change


def _log_transition(change: StateChange) -> None:
    _log.info("transition", machine=change.machine, id=change.id,
              source=change.source, dest=change.dest, trigger=change.event,
              error=change.error.id if change.error else None, at=change.at)


class LifecycleMachine:
    """An instance of a lifecycle: an id, a state, and a few fields of its own.

    Subclasses set ``spec`` and add the ``__slots__`` their guards and effects need. The
    ``transitions`` machinery is built once per subclass, on first use.

    Attributes:
        id: the instance id, which events name in their target field.
        state: the current state's name.
        error: the catalog entry of the last transition that carried one (``None`` until
            then): what a "toast" shows after a failure, reconnect or warning.
    """

    __slots__ = ("error", "id", "state")

    spec: ClassVar[MachineSpec]

    def __init__(self, id: str) -> None:  # noqa: A002 - "id" is the domain's word
        self.id = id
        self.state = self.spec.initial
        self.error: CatalogEntry | None = None

    @classmethod
    def _engine(cls) -> _Engine:
        engine = _engines.get(cls)
        if engine is None:
            engine = _engines[cls] = _Engine(cls.spec)
        return engine

    @classmethod
    def _table(cls) -> CompiledTable:
        table = _tables.get(cls)
        if table is None:
            table = _tables[cls] = CompiledTable(cls.spec)
        return table

    @property
    def kind(self) -> str:
        """The machine kind, from the spec (``"room"``, ``"device"``, ...)."""
        return self.spec.kind

    @property
    def is_terminal(self) -> bool:
        """Whether the machine has reached a terminal state."""
        return self.spec.state(self.state).terminal

    def allowed_triggers(self) -> tuple[str, ...]:
        """Triggers that have a transition out of the current state (guards not evaluated)."""
        return self.spec.triggers_from(self.state)

    def apply(self, event: Event, *, at: float | None = None) -> StateChange:
        """Apply one validated event: fire its transition, log it, and return the change.

        ``at`` stamps the change (the dispatcher passes its clock's time); without it the
        event's own ``at`` is used, or 0.

        Raises:
            InvalidTransition: the event is for another machine, or the current state has no
                transition for its trigger. The state is unchanged.
            GuardRejected: transitions exist but none accepted the event. The state is unchanged.
        """
        kind, target_field, trigger = _facts.get(type(event)) or _event_facts(type(event))
        if kind != self.spec.kind or getattr(event, target_field) != self.id:
            raise InvalidTransition(self.spec.kind, self.id, self.state, trigger,
                                    f"the event is for {kind} {event.target_id!r}")
        return self._apply_routed(event, at, trigger)[0]

    def _apply_routed(self, event: Event, at: float | None,
                      trigger: str) -> tuple[StateChange, _Candidate]:
        """:meth:`apply` for an event already routed to this machine by kind and id
        (``trigger``: its trigger, which the router has read); returns the change and the
        compiled transition taken (whether it moved, into which timeout: the dispatcher's
        next questions)."""
        table = _tables.get(type(self)) or self._table()
        source = self.state
        candidate, error = table.take(self, event, trigger)
        if error is not None:
            self.error = error
        change: StateChange = _new_change(StateChange, (
            table.kind, self.id, source, self.state, trigger, error,
            at if at is not None else (event.at if event.at is not None else 0.0),
            candidate.role, event,
        ))
        # _emit(change), inlined: this is every event's path.
        enabled = _level_cache.get(_INFO)
        if enabled is None:
            enabled = _LEVELS.isEnabledFor(_INFO)
        if enabled:
            _log_transition(change)
        if _observers:
            for observer in _observers:
                observer(change)
        return change, candidate

    @classmethod
    def from_event(cls, event: Event) -> LifecycleMachine:
        """The machine that ``event`` (the spec's ``created_by`` event) brings into being.

        Raises:
            TypeError: this kind is not created by events.
        """
        raise TypeError(f"{cls.spec.kind} machines are not created by events")

    def created(self, event: Event, *, at: float | None = None) -> StateChange:
        """The change that records this machine's creation by ``event`` (``source`` is None)."""
        # The names come from the spec, which a test keeps equal to the literal types.
        return _emit(_new_change(StateChange, (
            self.spec.kind, self.id, None, self.state, event.trigger, None,
            at if at is not None else (event.at if event.at is not None else 0.0),
            "ordinary", event,
        )))

    def apply_raw(self, raw: Event | Mapping[str, object] | str | bytes,
                  *, at: float | None = None) -> StateChange:
        """Validate raw input (dict or JSON) and apply it.

        Raises:
            InvalidEvent: the input is not a valid event; the state is unchanged.
            InvalidTransition: see :meth:`apply`.
        """
        return self.apply(parse_event(raw), at=at)

    def pending_timeout(self) -> tuple[float, Event] | None:
        """The current state's timeout, as ``(delay in seconds, event to fire)``, if it has one."""
        timeout = self.spec.timeouts.get(self.state)
        if timeout is None:
            return None
        return timeout.delay(self), timeout.event(self)

    def event_fields(self) -> dict[str, object]:
        """Fields every event for this instance carries (its target id, its kind, ...)."""
        events = self.spec.events.values()
        target_field = next(iter(events)).target_field
        return {target_field: self.id}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r} state={self.state!r}>"
