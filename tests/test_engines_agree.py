"""The compiled table and the transitions reference engine agree, step for step.

On every generated path (tours, shortest paths, simple paths) and on 10,000 seeded random walks
per machine, each event goes to two copies of the same machine, one per engine; the outcome
(transition taken, error carried, resulting state and data, or the refusal and its reasons)
must be identical.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from pydantic import ValidationError

from rtcstate import SPECS, GuardRejected, InvalidTransition, LifecycleMachine
from rtcstate.models import Event
from rtcstate.statemachines.runtime import reference_fire
from rtcstate.testing import (
    example_events,
    simple_paths,
    state_paths,
    transition_tour,
)
from rtcstate.testing.variants import Factory, machine_variants

WALKS = 10_000
WALK_LENGTH = 10
KINDS = sorted(SPECS)


def snapshot(machine: LifecycleMachine) -> dict[str, Any]:
    slots = {name for cls in type(machine).__mro__ for name in getattr(cls, "__slots__", ())}
    return {name: getattr(machine, name) for name in sorted(slots)}


def outcome(fire: Any, machine: LifecycleMachine, event: Event) -> tuple[Any, ...]:
    try:
        transition, error = fire(machine, event)
    except GuardRejected as refused:
        return ("guard_rejected", refused.state, refused.guards, snapshot(machine))
    except InvalidTransition as refused:
        return ("invalid", refused.state, refused.reason, snapshot(machine))
    return ("fired", id(transition), error, snapshot(machine))


def step_both(compiled: LifecycleMachine, reference: LifecycleMachine,
              event: Event) -> tuple[Any, ...]:
    ours = outcome(type(compiled)._table().fire, compiled, event)
    theirs = outcome(reference_fire, reference, event)
    assert ours == theirs, f"engines disagree on {event.type} in {reference.state}"
    return ours


def check_path(factory: Factory, events: list[Event]) -> None:
    compiled, reference = factory(), factory()
    for event in events:
        step_both(compiled, reference, event)


@pytest.mark.parametrize("kind", KINDS)
def test_engines_agree_on_every_generated_path(kind: str) -> None:
    factories = machine_variants(kind)
    for index, path in transition_tour(factories).walks:
        check_path(factories[index], [step.event for step in path])
    for factory in factories:
        for path in state_paths([factory]).values():
            check_path(factory, [step.event for step in path])
        for path in simple_paths(factory, max_length=4):
            check_path(factory, [step.event for step in path])


@pytest.mark.parametrize("kind", KINDS)
def test_engines_agree_on_ten_thousand_random_walks(kind: str) -> None:
    """Half the steps take an edge out of the current state (so walks go deep), half any edge
    of the spec (so refusals are compared too)."""
    edges = list(SPECS[kind].edges())
    rng = random.Random(f"engines-{kind}")
    fired = refused = 0
    factories = machine_variants(kind)
    for walk in range(WALKS):
        factory = factories[walk % len(factories)]
        compiled, reference = factory(), factory()
        for _ in range(WALK_LENGTH):
            if compiled.is_terminal:
                break
            enabled = [edge for edge in edges if edge.source == compiled.state]
            edge = rng.choice(enabled if rng.random() < 0.5 else edges)
            holder = copy.copy(compiled)
            holder.state = edge.source  # events for the edge, built as its source would
            try:
                event = rng.choice(example_events(holder, edge))
            except ValidationError:
                continue  # a timeout event makes no sense for this machine's data yet
            if step_both(compiled, reference, event)[0] == "fired":
                fired += 1
            else:
                refused += 1
    assert fired > WALKS  # the walks moved...
    assert refused > 1_000  # ...and met plenty of refusals
