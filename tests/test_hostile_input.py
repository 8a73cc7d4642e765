"""Input of any shape is an InvalidEvent, never a crash; nothing one event does stops a run."""

from __future__ import annotations

import json
import math
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstate import InvalidEvent, InvalidTransition, parse_event
from rtcstate.adapters.memory import MemoryRoomService
from rtcstate.dispatcher import Dispatcher, HandlingFailed
from rtcstate.errors import ECHO_LIMIT
from rtcstate.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from rtcstate.models import EVENT_TYPES, ConnectOptions
from rtcstate.room import connect
from rtcstate.statemachines import RoomMachine

from .test_garbage import json_values

GOOD = {"type": "room.disconnected", "room_name": "r", "error_code": 53001}


@pytest.mark.parametrize("kind", [["room.connect"], {"a": 1}, {1, 2}, bytearray(b"x"), 3.5,
                                  None, object()])
def test_a_type_of_any_shape_is_an_invalid_event(kind: object) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event({"type": kind, "room_name": "r"})
    assert "type" in info.value.fields


class _BrokenMapping(dict[str, object]):
    def get(self, *_args: object) -> object:
        raise RuntimeError("this mapping cannot be read")


@pytest.mark.parametrize("raw", [[1, 2], 42, None, object(), b"\xff\xfe", "{", "[]",
                                 _BrokenMapping(type="room.connect")])
def test_input_of_any_shape_raises_invalid_event_only(raw: object) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(raw)


@pytest.mark.parametrize("at", [math.inf, -math.inf, math.nan])
def test_non_finite_times_are_refused(at: float) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event({**GOOD, "at": at})
    assert info.value.fields == ("room.disconnected.at",)


@pytest.mark.parametrize("text", ['{"type": "room.disconnected", "room_name": "r", '
                                  '"error_code": 53001, "at": Infinity}',
                                  '{"type": "room.disconnected", "room_name": "r", '
                                  '"error_code": 53001, "at": 1e309}'])
def test_non_finite_json_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(text)


def test_a_lone_surrogate_is_refused_from_python_and_from_json() -> None:
    with pytest.raises(InvalidEvent):
        parse_event({**GOOD, "message": "lost \ud800"})
    with pytest.raises(InvalidEvent):
        parse_event('{"type": "room.disconnected", "room_name": "r", "error_code": 53001, '
                    '"message": "lost \\ud800"}')


@pytest.mark.parametrize(("field", "value"), [("error_code", 53001.0), ("error_code", "53001"),
                                              ("error_code", True)])
def test_integers_are_strict(field: str, value: object) -> None:
    with pytest.raises(InvalidEvent):
        parse_event({**GOOD, field: value})
    with pytest.raises(InvalidEvent):
        parse_event({"type": "device.level_measured", "device_kind": "microphone",
                     "level": True})


def test_every_string_field_is_bounded_and_echoes_are_short() -> None:
    assert parse_event({**GOOD, "room_name": "r" * MAX_ID_LENGTH}).target_id == (
        "r" * MAX_ID_LENGTH)
    with pytest.raises(InvalidEvent) as info:
        parse_event({**GOOD, "room_name": "r" * (MAX_ID_LENGTH + 1)})
    assert info.value.fields == ("room.disconnected.room_name",)
    with pytest.raises(InvalidEvent):
        parse_event({**GOOD, "message": "m" * (MAX_TEXT_LENGTH + 1)})
    huge = "x" * 10_000_000
    with pytest.raises(InvalidEvent) as info:
        parse_event({"type": huge})
    assert len(str(info.value)) < 2 * ECHO_LIMIT + 100
    assert "more characters" in str(info.value)
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps({"type": huge}))
    assert len(str(info.value)) < 2 * ECHO_LIMIT + 100


def test_an_invalid_transition_echoes_a_long_id_shortened() -> None:
    room = RoomMachine(ConnectOptions(room_name="r" * MAX_ID_LENGTH, identity="a"))
    with pytest.raises(InvalidTransition) as info:
        room.apply_raw({"type": "room.reconnected", "room_name": "r" * MAX_ID_LENGTH})
    assert len(str(info.value)) < MAX_ID_LENGTH
    assert "more characters" in str(info.value)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_json_as_bytes_bytearray_and_memoryview(wrap: Any) -> None:
    event = parse_event(wrap(json.dumps(GOOD).encode()))
    assert event == parse_event(GOOD)


events_with_random_values = st.builds(
    lambda type_, fields: {"type": type_, **fields},
    st.sampled_from(sorted(EVENT_TYPES)),
    st.dictionaries(
        st.sampled_from(sorted({name for cls in EVENT_TYPES.values()
                                for name in cls.model_fields} - {"type"})),
        json_values | st.floats() | st.text() | st.sampled_from(
            ["r", "camera", "video", "audio", "microphone", 53001, 53405, 53203, 0, 5,
             "recording-media-lost", "NotAllowedError", "environment", math.inf, 1.5]),
        max_size=6),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=events_with_random_values | json_values)
def test_accepted_events_round_trip_and_refused_input_raises_invalid_event(raw: Any) -> None:
    try:
        event = parse_event(raw)
    except InvalidEvent:
        return
    assert parse_event(event.model_dump_json()) == event
    assert parse_event(json.loads(event.model_dump_json())) == event


pytestmark = pytest.mark.anyio


async def test_nothing_a_transport_emits_stops_the_room() -> None:
    service = MemoryRoomService()
    transport = service.transport()
    async with connect(transport, ConnectOptions(room_name="r", identity="a")) as room:
        for raw in ({"type": ["room.connected"]}, {"type": {"x": 1}}, 42, "{", b"\xff"):
            transport.emit(raw)  # type: ignore[arg-type]
        transport.emit(parse_event({"type": "participant.connected", "participant_sid": "PA9",
                                    "identity": "b"}))
        await service.virtual_time.advance(1)
        assert room.state == "connected"
        assert [p.identity for p in room.participants.values()] == ["b"]
        stats = room.dispatcher.stats
        assert stats.rejected_by_reason["invalid_event"] == 5
        assert stats.received == stats.applied + stats.rejected


async def test_an_unexpected_exception_is_a_rejection_and_the_run_goes_on() -> None:
    async with Dispatcher() as dispatcher:
        machine = dispatcher.add(RoomMachine(ConnectOptions(room_name="r", identity="a")))
        machine.attempt = "not a number"  # type: ignore[assignment]  # the guard will fail
        await dispatcher.submit({"type": "room.connect", "room_name": "r", "identity": "a"})
        with pytest.raises(HandlingFailed) as info:
            await dispatcher.submit({"type": "room.connect_failed", "room_name": "r",
                                     "error_code": 53000})
        assert isinstance(info.value.__cause__, TypeError)
        assert dispatcher.stats.rejected_by_reason["handling_failed"] == 1
        heard: list[str] = []

        def listener_with_a_bug(change: Any) -> None:
            heard.append(change.dest)
            raise RuntimeError("a bug in the application's listener")

        dispatcher.on_change(listener_with_a_bug)
        machine.attempt = 1
        change = await dispatcher.submit({"type": "room.connect_failed", "room_name": "r",
                                          "error_code": 53000})
        await anyio.lowlevel.checkpoint()
        assert change.dest == "waiting_to_retry"
        assert heard == ["waiting_to_retry"]
        assert dispatcher.stats.listener_errors == 1


def test_error_reports_from_outside_cannot_grow_memory_without_bound() -> None:
    """The compiled table memoises what error each report carries; messages come from outside
    (a browser's, a server's), so a flood of distinct ones must not grow that memo."""
    from rtcstate.statemachines import DevicePermissionMachine
    from rtcstate.statemachines.compiled import _Candidate

    camera = DevicePermissionMachine("camera")
    carried = []
    for number in range(3 * _Candidate.memo_size):
        camera.state = "requesting"
        change = camera.apply_raw({"type": "device.acquire_failed", "device_kind": "camera",
                                   "error_name": "NotAllowedError",
                                   "message": f"Permission denied #{number}"})
        carried.append(change.error.id if change.error else None)
    assert carried[0] is not None
    assert len(set(carried)) == 1  # the entry, every time
    memos = [len(candidate.carried) for candidates in type(camera)._table().table.values()
             for candidate in candidates]
    assert max(memos) <= _Candidate.memo_size
