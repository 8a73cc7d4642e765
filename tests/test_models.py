"""Event models: validated, frozen, JSON round-trippable; bad input is a clear InvalidEvent."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from rtcstate import ConnectOptions, InvalidEvent, parse_event
from rtcstate.models import (
    EVENT_TYPES,
    DeviceAcquireFailed,
    Event,
    LocalTrackWarning,
    ParticipantConnected,
    PreAcquiredTrack,
    RemoteTrackPublished,
    RoomConnectFailed,
    event_adapter,
)
from rtcstate.statemachines import SPECS
from rtcstate.testing import shortest_path_to

from .test_every_transition import FACTORIES


def one_event_per_type() -> list[Event]:
    """A valid event of every type: the last step of a path to each edge."""
    events: dict[str, Event] = {}
    for kind, factories in FACTORIES.items():
        for factory in factories:
            for edge in SPECS[kind].edges():
                path = shortest_path_to(factory, edge)
                if path:
                    events.setdefault(path[-1].event.type, path[-1].event)
    return [events[name] for name in sorted(events)]


ALL_EVENTS = one_event_per_type()


CREATION_EVENTS = [ParticipantConnected(participant_sid="PA1", identity="bob"),
                   RemoteTrackPublished(track_sid="MT1", participant_sid="PA1", kind="audio")]
ALL_EVENTS += CREATION_EVENTS


def test_every_event_type_is_in_the_union_and_a_spec() -> None:
    assert sorted(e.type for e in ALL_EVENTS) == sorted(EVENT_TYPES)
    spec_types = {f"{s.kind}.{t}" for s in SPECS.values() for t in s.events}
    creators = {f"{s.created_by.machine}.{s.created_by.trigger}"
                for s in SPECS.values() if s.created_by}
    assert spec_types | creators == set(EVENT_TYPES)
    assert creators == {"participant.connected", "remote_track.published"}


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.type)
def test_json_round_trip(event: Event) -> None:
    text = event.model_dump_json()
    assert parse_event(text) == event
    assert parse_event(text.encode()) == event
    assert parse_event(json.loads(text)) == event
    assert type(event_adapter.validate_json(text)) is type(event)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.type)
def test_events_are_frozen(event: Event) -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        event.at = 1.0  # type: ignore[misc]


def test_machine_and_trigger_come_from_the_type() -> None:
    event = RoomConnectFailed(room_name="r", error_code=53000)
    assert (event.machine, event.trigger, event.target_id) == ("room", "connect_failed", "r")


def test_parse_event_returns_a_model_unchanged() -> None:
    event = RoomConnectFailed(room_name="r", error_code=53000)
    assert parse_event(event) is event


BAD_INPUT = [
    ({"type": "room.teleport", "room_name": "r"}, "type"),
    ({"room_name": "r"}, "type"),
    ({"type": "room.connect", "room_name": "r"}, "room.connect.identity"),
    ({"type": "room.connect", "room_name": "r", "identity": "a", "colour": "red"},
     "room.connect.colour"),
    ({"type": "room.connect_failed", "room_name": "r", "error_code": 53001},
     "room.connect_failed.error_code"),
    ({"type": "room.reconnecting", "room_name": "r", "error_code": "soon"},
     "room.reconnecting.error_code"),
    ({"type": "device.level_measured", "device_kind": "microphone", "level": 11},
     "device.level_measured.level"),
    ({"type": "device.request", "device_kind": "speaker"}, "device.request.device_kind"),
    ({"type": "local_track.publish", "track_name": "", "kind": "video"},
     "local_track.publish.track_name"),
    ({"type": "room.connect", "room_name": "r", "identity": "a", "at": -1},
     "room.connect.at"),
]


@pytest.mark.parametrize(("raw", "field"), BAD_INPUT)
def test_bad_input_names_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    assert field in info.value.fields
    assert field in str(info.value)
    assert info.value.raw is raw
    assert isinstance(info.value.__cause__, pydantic.ValidationError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("raw", "field"), BAD_INPUT)
def test_a_dict_and_its_json_are_refused_alike(raw: dict[str, Any], field: str) -> None:
    # Dicts take a per-type fast path; what it refuses must read as the union's refusal does.
    with pytest.raises(InvalidEvent) as from_dict:
        parse_event(raw)
    with pytest.raises(InvalidEvent) as from_json:
        parse_event(json.dumps(raw))
    assert from_dict.value.fields == from_json.value.fields
    assert str(from_dict.value) == str(from_json.value)


@pytest.mark.parametrize("raw", [b"{not json", "[]", "null", 42, "\"room.connect\""])
def test_garbage_is_an_invalid_event(raw: Any) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(raw)


def test_error_reference_of_media_and_warning_events() -> None:
    failure = DeviceAcquireFailed(device_kind="camera", error_name="NotAllowedError",
                                  message="Permission dismissed")
    ref = failure.error_ref()
    assert ref is not None
    assert (ref.name, ref.message) == ("NotAllowedError", "Permission dismissed")
    warning = LocalTrackWarning(track_name="cam", kind="video", warning="recording-media-lost")
    assert warning.error_ref() == (None, "recording-media-lost", None)


class TestConnectOptions:
    def test_defaults_follow_the_guide(self) -> None:
        options = ConnectOptions(room_name="my-cool-room", identity="alice")
        assert options.notify_warnings == frozenset()
        assert options.warning_escalation_timeout == 5.0
        assert options.retry.max_attempts >= 1
        assert options.tracks == ()

    def test_round_trips_through_json(self) -> None:
        options = ConnectOptions(
            room_name="r", identity="a", notify_warnings=frozenset({"recording-media-lost"}),
            tracks=(PreAcquiredTrack(name="camera", kind="video"),))
        assert ConnectOptions.model_validate_json(options.model_dump_json()) == options

    @pytest.mark.parametrize("flag", ["muted", "stopped"])
    def test_pre_acquired_tracks_must_be_live(self, flag: str) -> None:
        with pytest.raises(pydantic.ValidationError, match="iOS Safari"):
            ConnectOptions(room_name="r", identity="a",
                           tracks=(PreAcquiredTrack.model_validate(
                               {"name": "cam", "kind": "video", flag: True}),))

    def test_pre_acquired_track_names_are_unique(self) -> None:
        track = PreAcquiredTrack(name="cam", kind="video")
        with pytest.raises(pydantic.ValidationError, match="unique"):
            ConnectOptions(room_name="r", identity="a", tracks=(track, track))

    def test_unknown_warning_names_are_refused(self) -> None:
        with pytest.raises(pydantic.ValidationError, match="recording-media-lost"):
            ConnectOptions.model_validate(
                {"room_name": "r", "identity": "a", "notify_warnings": ["network-quality"]})
