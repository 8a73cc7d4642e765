"""Every edge of every machine, reached by the shortest path the spec allows and replayed."""

from __future__ import annotations

import pytest

from rtcstate import SPECS
from rtcstate.statemachines import Edge
from rtcstate.testing import shortest_path_to
from rtcstate.testing.variants import Factory, machine_variants

# Each machine kind, built every way its guards care about (track kinds, device kinds).
FACTORIES: dict[str, tuple[Factory, ...]] = {kind: machine_variants(kind) for kind in SPECS}

EDGES = [edge for spec in SPECS.values() for edge in spec.edges()]


def test_factories_cover_every_kind() -> None:
    assert set(FACTORIES) == set(SPECS)


@pytest.mark.parametrize("edge", EDGES, ids=[edge.key for edge in EDGES])
def test_edge_is_reachable_and_fires(edge: Edge) -> None:
    for factory in FACTORIES[edge.machine]:
        path = shortest_path_to(factory, edge)
        if path is not None:
            break
    else:
        pytest.fail(f"no factory reaches {edge.key}")
    machine = factory()
    replayed = [machine.apply(step.event) for step in path]
    assert [(c.source, c.event, c.dest) for c in replayed] == [
        (s.edge.source, s.edge.trigger, s.edge.dest) for s in path]
    carried = replayed[-1].error
    if edge.transition.errors:
        assert carried in edge.transition.errors
    else:
        assert carried is None
