"""Paths through a spec, with a valid event for every step."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from rtcstate.errors import InvalidTransition
from rtcstate.models.base import Event
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.statemachines.spec import Edge

__all__ = ["PathStep", "example_event", "shortest_path_to"]


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step of a path: the edge it takes and the event that makes it."""

    edge: Edge
    event: Event


def example_event(machine: LifecycleMachine, edge: Edge) -> Event:
    """A valid event that takes ``edge`` from ``machine``'s current state (if guards allow).

    A timed edge gets the event its state's timeout would fire. Otherwise the event carries the
    machine's ids, the first error the transition carries, and the transition's ``sample``
    fields (which satisfy its guard).
    """
    spec = machine.spec
    timeout = spec.state(edge.source).timeout
    if timeout is not None and timeout.trigger == edge.trigger:
        return timeout.event(machine)
    model = spec.events[edge.trigger]
    data: dict[str, object] = {"type": f"{spec.kind}.{edge.trigger}", **machine.event_fields()}
    if edge.transition.errors:
        data.update(model.error_fields(edge.transition.errors[0]))
    data.update(edge.transition.sample)
    return model.model_validate({k: v for k, v in data.items() if k in model.model_fields})


def shortest_path_to(factory: Callable[[], LifecycleMachine],
                     target: Edge) -> list[PathStep] | None:
    """Events that drive a machine from ``factory()`` along fewest edges, ending with ``target``.

    The path is found on the spec's graph, then checked by running it on a scratch machine from
    ``factory`` (guards and the machine's own data decide); ``None`` when it does not run, e.g.
    a camera-only edge asked of a microphone machine.
    """
    scratch = factory()
    spec = scratch.spec
    edges = list(spec.edges())
    came_by: dict[str, Edge | None] = {spec.initial: None}
    queue = deque([spec.initial])
    while queue:
        state = queue.popleft()
        for edge in edges:
            if edge.source == state and edge.dest not in came_by:
                came_by[edge.dest] = edge
                queue.append(edge.dest)
    if target.source not in came_by:
        return None
    route: list[Edge] = [target]
    state = target.source
    while (step := came_by[state]) is not None:
        route.append(step)
        state = step.source
    route.reverse()
    steps = []
    for edge in route:
        event = example_event(scratch, edge)
        try:
            change = scratch.apply(event)
        except InvalidTransition:
            return None
        if (change.source, change.event, change.dest) != (edge.source, edge.trigger, edge.dest):
            return None
        steps.append(PathStep(edge, event))
    return steps
