"""Hypothesis: no input, however malformed or ill-timed, changes a machine unless it is applied."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstate import InvalidEvent, InvalidTransition, LifecycleMachine
from rtcstate.models import EVENT_TYPES
from rtcstate.statemachines import SPECS
from rtcstate.testing import shortest_path_to

from .test_every_transition import FACTORIES

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["room_name", "identity", "error_code", "track_name", "kind",
                               "track_sid", "participant_sid", "device_kind", "warning", "level",
                               "frames", "error_name", "message", "at", "attempt", "extra"])
typed_dicts = st.builds(
    lambda type_, fields: {"type": type_, **fields},
    st.sampled_from(sorted(EVENT_TYPES)),
    st.dictionaries(field_names, json_values | st.sampled_from(
        ["r", "camera", "microphone", "video", "audio", 53000, 53001, 53405, 0, 5,
         "recording-media-lost", "NotAllowedError"]), max_size=6),
)


def snapshot(machine: LifecycleMachine) -> dict[str, Any]:
    slots = {name for cls in type(machine).__mro__ for name in getattr(cls, "__slots__", ())}
    return {name: getattr(machine, name) for name in sorted(slots)}


@st.composite
def machines_somewhere(draw: st.DrawFn) -> LifecycleMachine:
    """A built-in machine of any kind, moved to the source state of any of its edges."""
    kind = draw(st.sampled_from(sorted(SPECS)))
    edge = draw(st.sampled_from(list(SPECS[kind].edges())))
    for factory in FACTORIES[kind]:
        path = shortest_path_to(factory, edge)
        if path is not None:
            machine = factory()
            for step in path[:-1]:
                machine.apply(step.event)
            return machine
    raise AssertionError(f"unreachable edge {edge.key}")  # test_every_transition checks this


@SETTINGS
@given(machine=machines_somewhere(), raw=json_values)
def test_arbitrary_json_is_rejected_and_changes_nothing(
        machine: LifecycleMachine, raw: Any) -> None:
    before = snapshot(machine)
    try:
        machine.apply_raw(raw)
    except InvalidEvent:
        pass
    assert snapshot(machine) == before


@SETTINGS
@given(machine=machines_somewhere(), raw=typed_dicts)
def test_events_with_random_fields_change_nothing_unless_applied(
        machine: LifecycleMachine, raw: dict[str, Any]) -> None:
    before = snapshot(machine)
    try:
        change = machine.apply_raw(raw)
    except (InvalidEvent, InvalidTransition):
        assert snapshot(machine) == before
    else:
        assert change.source == before["state"]
        assert change.dest == machine.state
        assert change.event == raw["type"].split(".", 1)[1]


@SETTINGS
@given(machine=machines_somewhere(), data=st.data())
def test_valid_events_in_the_wrong_state_change_nothing(
        machine: LifecycleMachine, data: st.DataObject) -> None:
    """Every event of the machine's kind, valid in some state, tried in this one."""
    spec = machine.spec
    edge = data.draw(st.sampled_from(list(spec.edges())))
    path = None
    for factory in FACTORIES[spec.kind]:
        path = shortest_path_to(factory, edge)
        if path is not None:
            break
    assert path is not None
    event = path[-1].event.model_copy(update={spec.events[edge.trigger].target_field: machine.id})
    before = snapshot(machine)
    refused: InvalidTransition | None = None
    try:
        change = machine.apply(event)
    except InvalidTransition as error:
        refused = error
    if refused is not None:
        assert snapshot(machine) == before
        assert (refused.machine, refused.instance, refused.state) == (
            spec.kind, machine.id, before["state"])
    else:
        assert change.source == before["state"]
        assert edge.trigger in spec.triggers_from(before["state"])
