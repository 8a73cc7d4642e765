"""Paths through a spec, with a valid event for every step."""

from __future__ import annotations

import copy
import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rtcstate.errors import InvalidTransition
from rtcstate.models.base import Event
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.statemachines.spec import Edge

__all__ = [
    "Path",
    "PathStep",
    "Tour",
    "example_event",
    "example_events",
    "random_walk",
    "shortest_path_to",
    "simple_paths",
    "state_paths",
    "transition_tour",
]


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step of a path: the edge it takes and the event that makes it."""

    edge: Edge
    event: Event

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{trigger, source, dest, event}`` with the event's fields."""
        return {"trigger": self.edge.trigger, "source": self.edge.source, "dest": self.edge.dest,
                "event": self.event.model_dump(mode="json", exclude_none=True)}


Path = list[PathStep]
"""Events to apply, in order, to a fresh machine from the path's factory."""


@dataclass(frozen=True, slots=True)
class Tour:
    """A transition tour: walks from fresh machines that together take every reachable edge.

    Attributes:
        walks: each ``(factory index, path)``: start a fresh machine from
            ``factories[index]`` and apply the path.
        edges: how many edges the spec has.
        covered: the edges the walks take, by key.
    """

    walks: list[tuple[int, Path]]
    edges: int
    covered: frozenset[str]

    @property
    def length(self) -> int:
        """Steps in all walks."""
        return sum(len(path) for _, path in self.walks)


def example_events(machine: LifecycleMachine, edge: Edge) -> list[Event]:
    """Candidate events for taking ``edge`` from ``machine``'s current state, most typical first.

    A timed edge gets the event its state's timeout would fire. Otherwise each candidate carries
    the machine's ids, the transition's ``sample`` fields (which satisfy its guard), and one of
    the errors the transition carries (one candidate per error, and one with none when the
    error is optional). Whether a candidate really
    takes the edge depends on guards and earlier transitions: try it on a copy.
    """
    spec = machine.spec
    timeout = spec.state(edge.source).timeout
    if timeout is not None and timeout.trigger == edge.trigger:
        return [timeout.event(machine)]
    model = spec.events[edge.trigger]
    base: dict[str, object] = {"type": f"{spec.kind}.{edge.trigger}", **machine.event_fields()}
    variants = [model.error_fields(entry) for entry in edge.transition.errors] or [{}]
    if edge.transition.error_optional:
        variants.append({})
    events = []
    for variant in variants:
        data = {**base, **variant, **edge.transition.sample}
        events.append(model.model_validate({k: v for k, v in data.items()
                                            if k in model.model_fields}))
    return events


def example_event(machine: LifecycleMachine, edge: Edge) -> Event:
    """The first of :func:`example_events`: a valid event for ``edge`` (guards permitting)."""
    return example_events(machine, edge)[0]


def _take(machine: LifecycleMachine, edge: Edge,
          events: Sequence[Event] | None = None) -> tuple[LifecycleMachine, Event] | None:
    """A copy of ``machine`` moved along ``edge``, and the event that did it; None if none does.

    Tries ``events`` in order (default: :func:`example_events`).
    """
    for event in events if events is not None else example_events(machine, edge):
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
        for edge, moved, event in _moves(machine, edges):
            steps = [*path, PathStep(edge, event)]
            if edge == target:
                return steps
            if moved.state not in seen:
                seen.add(moved.state)
                queue.append((moved, steps))
    return None


def _moves(machine: LifecycleMachine, edges: Sequence[Edge]) -> list[tuple[Edge, LifecycleMachine,
                                                                      Event]]:
    """Every edge the machine can take from its state now, with the moved copy and the event."""
    moves = []
    for edge in edges:
        if edge.source == machine.state:
            taken = _take(machine, edge)
            if taken is not None:
                moves.append((edge, taken[0], taken[1]))
    return moves


def state_paths(factories: Sequence[Callable[[], LifecycleMachine]]) -> dict[str, Path]:
    """The shortest path to every reachable state (the first factory that reaches it wins)."""
    found: dict[str, Path] = {}
    for factory in factories:
        start = factory()
        edges = list(start.spec.edges())
        found.setdefault(start.state, [])
        queue: deque[tuple[LifecycleMachine, Path]] = deque([(start, [])])
        seen = {start.state}
        while queue:
            machine, path = queue.popleft()
            for edge, moved, event in _moves(machine, edges):
                if moved.state in seen:
                    continue
                seen.add(moved.state)
                steps = [*path, PathStep(edge, event)]
                found.setdefault(moved.state, steps)
                queue.append((moved, steps))
    return found


def transition_tour(factories: Sequence[Callable[[], LifecycleMachine]]) -> Tour:
    """Walks that take every reachable edge at least once, greedily: from where a walk is, go
    by the shortest route to the nearest edge not taken yet; when none is reachable any more
    (a terminal state), start a new walk from a fresh machine.
    """
    spec = factories[0]().spec
    edges = list(spec.edges())
    uncovered = {edge.key for edge in edges}
    walks: list[tuple[int, Path]] = []
    for index, factory in enumerate(factories):
        while uncovered:
            machine, path = factory(), []
            while (route := _route_to_uncovered(machine, edges, uncovered)) is not None:
                for step in route:
                    machine = _apply(machine, step)
                    uncovered.discard(step.edge.key)
                path.extend(route)
            if not path:
                break  # this factory reaches no uncovered edge: try the next one
            walks.append((index, path))
    covered = frozenset(step.edge.key for _, path in walks for step in path)
    return Tour(walks, len(edges), covered)


def _apply(machine: LifecycleMachine, step: PathStep) -> LifecycleMachine:
    moved = copy.copy(machine)
    moved.apply(step.event)
    return moved


def _route_to_uncovered(start: LifecycleMachine, edges: Sequence[Edge],
                        uncovered: set[str]) -> Path | None:
    queue: deque[tuple[LifecycleMachine, Path]] = deque([(start, [])])
    seen = {start.state}
    while queue:
        machine, path = queue.popleft()
        moves = _moves(machine, edges)
        for edge, _moved, event in moves:
            if edge.key in uncovered:
                return [*path, PathStep(edge, event)]
        for edge, moved, event in moves:
            if moved.state not in seen:
                seen.add(moved.state)
                queue.append((moved, [*path, PathStep(edge, event)]))
    return None


def simple_paths(factory: Callable[[], LifecycleMachine], *, max_length: int) -> Iterator[Path]:
    """Every path from the initial state that visits no state twice, up to ``max_length``
    steps (depth first, in spec order)."""
    start = factory()
    edges = list(start.spec.edges())

    def extend(machine: LifecycleMachine, path: Path, visited: set[str]) -> Iterator[Path]:
        if path:
            yield path
        if len(path) == max_length:
            return
        for edge, moved, event in _moves(machine, edges):
            if moved.state not in visited:
                yield from extend(moved, [*path, PathStep(edge, event)],
                                  visited | {moved.state})

    yield from extend(start, [], {start.state})


def random_walk(factory: Callable[[], LifecycleMachine], *, seed: int,
                max_steps: int = 50) -> Path:
    """A seeded random walk that honours guards: at each step one of the edges the machine can
    take now, with one of its candidate events, until a terminal state or ``max_steps``."""
    rng = random.Random(seed)
    machine = factory()
    edges = list(machine.spec.edges())
    path: Path = []
    while len(path) < max_steps and not machine.is_terminal:
        choices = [(edge, event) for edge in edges if edge.source == machine.state
                   for event in example_events(machine, edge)]
        rng.shuffle(choices)
        for edge, event in choices:
            taken = _take(machine, edge, [event])
            if taken is not None:
                machine = taken[0]
                path.append(PathStep(edge, event))
                break
        else:
            break  # nothing can be taken from here
    return path
