"""A Hypothesis state machine built from a spec: check your application against the model.

::

    from rtcstate.testing.stateful import state_machine_test

    class Banner:                       # your application's handler, fresh for each example
        def __init__(self) -> None:
            self.shown = False
        def handle(self, change) -> None:
            if change.machine == "room":
                self.shown = change.dest == "reconnecting"
        def check(self, room) -> None:  # an invariant, checked after every step
            assert self.shown == (room.state == "reconnecting")

    TestBanner = state_machine_test(lambda: RoomMachine(options), app=Banner).TestCase

Each step picks an edge the machine can take from its state (guards may still refuse: the state
must then be unchanged) and one of the events that may take it, with payloads built from the
event models and the spec's samples. When the machine reaches a terminal state, a fresh one
takes over, so long runs keep exercising the model. Rules are synchronous, as Hypothesis wants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rtcstate.errors import InvalidTransition
from rtcstate.models.state_change import StateChange
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.testing.paths import example_events

__all__ = ["ModelApp", "state_machine_test"]


class ModelApp(Protocol):
    """What an application under test may offer; both methods are optional."""

    def handle(self, change: StateChange) -> None:
        """Called with every change the model makes."""

    def check(self, machine: LifecycleMachine) -> None:
        """Called after every step: raise (or assert) if the application disagrees."""


def state_machine_test(factory: Callable[[], LifecycleMachine], *,
                       app: Callable[[], Any] | None = None,
                       name: str | None = None) -> type[RuleBasedStateMachine]:
    """A ``RuleBasedStateMachine`` that drives machines from ``factory`` with spec events.

    Args:
        factory: makes a fresh machine.
        app: makes the application object for one example (see :class:`ModelApp`).
        name: the class name (default: ``<Title>Model``).

    The class counts the steps it took in ``steps_taken`` (a class attribute, summed over
    examples), so a suite can check how much it exercised.
    """
    edges = list(factory().spec.edges())

    class ModelTest(RuleBasedStateMachine):
        steps_taken = 0

        def __init__(self) -> None:
            super().__init__()
            self.machine = factory()
            self.app = app() if app is not None else None

        @precondition(lambda self: not self.machine.is_terminal)
        @rule(data=st.data())
        def fire(self, data: st.DataObject) -> None:
            enabled = [edge for edge in edges if edge.source == self.machine.state]
            edge = data.draw(st.sampled_from(enabled), label="edge")
            event = data.draw(st.sampled_from(example_events(self.machine, edge)), label="event")
            before = self.machine.state
            type(self).steps_taken += 1
            try:
                change = self.machine.apply(event)
            except InvalidTransition:
                assert self.machine.state == before, "a refused event changed the state"
                return
            assert change.source == before
            assert change.dest == self.machine.state
            handle = getattr(self.app, "handle", None)
            if handle is not None:
                handle(change)

        @precondition(lambda self: self.machine.is_terminal)
        @rule()
        def start_over(self) -> None:
            type(self).steps_taken += 1
            self.machine = factory()

        @invariant()
        def application_agrees(self) -> None:
            check = getattr(self.app, "check", None)
            if check is not None:
                check(self.machine)

    ModelTest.__name__ = ModelTest.__qualname__ = name or f"{factory().spec.title}Model"
    return ModelTest
