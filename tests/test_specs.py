"""Specs are checked when built: every inconsistency is reported at once, as a SpecError."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from rtcstate import SPECS, SpecError, catalog
from rtcstate.models import Event, RoomConnect, RoomConnected, RoomDisconnect, RoomRetry
from rtcstate.statemachines import MachineSpec, StateSpec, Timeout, TransitionSpec

EVENTS: Mapping[str, type[Event]] = {
    "connect": RoomConnect, "connected": RoomConnected, "disconnect": RoomDisconnect}


def spec(states: tuple[StateSpec, ...] | None = None,
         transitions: tuple[TransitionSpec, ...] | None = None,
         events: Mapping[str, type[Event]] = EVENTS, initial: str = "idle") -> MachineSpec:
    return MachineSpec(
        kind="room", title="Toy", doc="", initial=initial,
        states=states or (StateSpec("idle"), StateSpec("busy"), StateSpec("done", terminal=True)),
        transitions=transitions or (
            TransitionSpec("connect", ("idle",), "busy"),
            TransitionSpec("connected", ("busy",), "busy"),
            TransitionSpec("disconnect", ("busy",), "done"),
        ),
        events=events)


def test_a_consistent_toy_spec_builds() -> None:
    toy = spec()
    assert toy.state_names == ("idle", "busy", "done")
    assert [e.key for e in toy.edges()] == [
        "room:idle--connect-->busy", "room:busy--connected-->busy", "room:busy--disconnect-->done"]


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"initial": "nowhere"}, "initial state 'nowhere' is not declared"),
    ({"states": (StateSpec("idle"), StateSpec("idle"), StateSpec("busy"),
                 StateSpec("done", terminal=True))}, "state 'idle' is declared twice"),
    ({"transitions": (TransitionSpec("connect", ("idle",), "limbo"),)},
     "transition 'connect' names undeclared state 'limbo'"),
    ({"transitions": (TransitionSpec("connect", ("idle",), "busy"),
                      TransitionSpec("disconnect", ("busy",), "done"),
                      TransitionSpec("connected", ("done",), "busy"))},
     "transition 'connected' leaves terminal state 'done'"),
    ({"transitions": (TransitionSpec("connect", ("idle",), "busy"),
                      TransitionSpec("connect", ("idle",), "busy"),
                      TransitionSpec("connected", ("busy",), "busy"),
                      TransitionSpec("disconnect", ("busy",), "done"))},
     "edge room:idle--connect-->busy is declared twice"),
    ({"events": {**EVENTS, "connected": RoomRetry}},
     "transition 'connected' maps to event type room.retry"),
    ({"events": {"connect": RoomConnect, "disconnect": RoomDisconnect}},
     "transition 'connected' has no event model"),
    ({"events": {**EVENTS, "retry": RoomRetry}}, "event model for 'retry' has no transition"),
    ({"states": (StateSpec("idle"), StateSpec("busy"), StateSpec("done", terminal=True),
                 StateSpec("island"))}, "state 'island' cannot be reached from 'idle'"),
    ({"transitions": (TransitionSpec("connect", ("idle",), "busy"),
                      TransitionSpec("connected", ("busy",), "busy"))},
     "no terminal state can be reached from 'busy'"),
    ({"transitions": (TransitionSpec("connect", ("idle",), "busy"),
                      TransitionSpec("connected", ("busy",), "busy",
                                      errors=catalog.by_name("NotFoundError")),
                      TransitionSpec("disconnect", ("busy",), "done"))},
     "transition 'connected' carries several errors but its event cannot say which"),
])
def test_each_inconsistency_is_named(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(SpecError) as info:
        spec(**kwargs)  # type: ignore[arg-type]
    assert problem in info.value.problems
    assert info.value.machine == "room"
    assert problem in str(info.value)


def test_timeouts_must_fire_a_trigger_of_their_state() -> None:
    waiting = StateSpec("busy", timeout=Timeout("connect", "1 s", lambda m: 1.0,
                                                lambda m: RoomConnect(room_name="r",
                                                                      identity="a")))
    with pytest.raises(SpecError, match="fires 'connect', which has no transition"):
        spec(states=(StateSpec("idle"), waiting, StateSpec("done", terminal=True)))


def test_a_dead_end_state_is_reported() -> None:
    with pytest.raises(SpecError, match="non-terminal state 'busy' has no way out"):
        spec(transitions=(TransitionSpec("connect", ("idle",), "busy"),),
             events={"connect": RoomConnect})


def test_spec_error_is_build_time_not_runtime() -> None:
    from rtcstate import RtcRuntimeError, RtcStateError

    assert issubclass(SpecError, RtcStateError)
    assert not issubclass(SpecError, RtcRuntimeError)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_built_in_specs_have_terminal_states_and_document_every_state(kind: str) -> None:
    built_in = SPECS[kind]
    assert built_in.terminal_states
    assert built_in.state(built_in.initial)
    for state in built_in.states:
        assert state.doc, f"{kind}.{state.name} has no doc"
