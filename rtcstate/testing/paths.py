"""Paths through a spec, with a valid event for every step."""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from rtcstate.errors import InvalidTransition
from rtcstate.models.base import Event
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.statemachines.spec import Edge

__all__ = ["PathStep", "example_event", "example_events", "shortest_path_to"]


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step of a path: the edge it takes and the event that makes it."""

    edge: Edge
    event: Event


def example_events(machine: LifecycleMachine, edge: Edge) -> list[Event]:
    """Candidate events for taking ``edge`` from ``machine``'s current state, most typical first.

    A timed edge gets the event its state's timeout would fire. Otherwise each candidate carries
    the machine's ids, the transition's ``sample`` fields (which satisfy its guard), and one of
    the errors the transition carries (one candidate per error). Whether a candidate really
    takes the edge depends on guards and earlier transitions: try it on a copy.
    """
    spec = machine.spec
    timeout = spec.state(edge.source).timeout
    if timeout is not None and timeout.trigger == edge.trigger:
        return [timeout.event(machine)]
    model = spec.events[edge.trigger]
    base: dict[str, object] = {"type": f"{spec.kind}.{edge.trigger}", **machine.event_fields()}
    variants = [model.error_fields(entry) for entry in edge.transition.errors] or [{}]
    events = []
    for variant in variants:
        data = {**base, **variant, **edge.transition.sample}
        events.append(model.model_validate({k: v for k, v in data.items()
                                            if k in model.model_fields}))
    return events


def example_event(machine: LifecycleMachine, edge: Edge) -> Event:
    """The first of :func:`example_events`: a valid event for ``edge`` (guards permitting)."""
    return example_events(machine, edge)[0]


def _take(machine: LifecycleMachine, edge: Edge) -> tuple[LifecycleMachine, Event] | None:
    """A copy of ``machine`` moved along ``edge``, and the event that did it; None if none does."""
    for event in example_events(machine, edge):
        trial = copy.copy(machine)
        try:
            change = trial.apply(event)
        except InvalidTransition:
            continue
        if (change.source, change.event, change.dest) == (edge.source, edge.trigger, edge.dest):
            return trial, event
    return None


def shortest_path_to(factory: Callable[[], LifecycleMachine],
                     target: Edge) -> list[PathStep] | None:
    """Events that drive a machine from ``factory()`` along fewest edges, ending with ``target``.

    The search runs the real machine (on copies), so guards and the machine's own data decide
    which edges can be taken; ``None`` when ``target`` cannot be reached, e.g. a camera-only
    edge asked of a microphone machine.
    """
    start = factory()
    edges = list(start.spec.edges())
    queue: deque[tuple[LifecycleMachine, list[PathStep]]] = deque([(start, [])])
    seen = {start.state}
    while queue:
        machine, path = queue.popleft()
        for edge in edges:
            if edge.source != machine.state:
                continue
            taken = _take(machine, edge)
            if taken is None:
                continue
            moved, event = taken
            steps = [*path, PathStep(edge, event)]
            if edge == target:
                return steps
            if moved.state not in seen:
                seen.add(moved.state)
                queue.append((moved, steps))
    return None
