"""The application API: handlers from the first transition, wait_for, errors, names, media."""

from __future__ import annotations

import contextlib
import typing
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import rtcstate
from rtcstate import ConnectOptions, Handlers, StateChange
from rtcstate.adapters.memory import MemoryRoomService, SimulatedMedia
from rtcstate.models import states
from rtcstate.room import Room
from rtcstate.statemachines import SPECS

from .helpers import captured_logs

pytestmark = pytest.mark.anyio
ROOM = "r"


def options(identity: str, **extra: Any) -> ConnectOptions:
    return ConnectOptions.model_validate({"room_name": ROOM, "identity": identity, **extra})


async def test_handlers_hear_the_room_from_its_first_transition() -> None:
    service = MemoryRoomService()
    service.fail_next_joins("alice", 53000)
    handlers = Handlers()
    heard: list[tuple[str | None, str]] = []
    handlers.on("room")(lambda change, room: heard.append((change.source, change.dest)))
    async with rtcstate.connect(service.transport(), options("alice"), handlers=handlers):
        pass
    assert heard == [("idle", "connecting"), ("connecting", "waiting_to_retry"),
                     ("waiting_to_retry", "connecting"), ("connecting", "connected"),
                     ("connected", "disconnected")]


async def test_filters_async_handlers_in_order_and_a_failing_handler() -> None:
    service = MemoryRoomService()
    handlers = Handlers()
    order: list[str] = []

    @handlers.on("local_track", dest="published", id="camera")
    async def slow(change: StateChange, room: Room) -> None:
        await anyio.lowlevel.checkpoint()
        order.append(f"published {change.id}")

    @handlers.on("local_track", trigger="disable")
    async def disabled(change: StateChange, room: Room) -> None:
        order.append(f"disabled {change.id}")

    @handlers.on("local_track", dest="published")
    def broken(change: StateChange, room: Room) -> None:
        raise RuntimeError("a bug in the application")

    with captured_logs() as logs:
        async with rtcstate.connect(service.transport(), options("alice"),
                                    handlers=handlers) as room:
            await room.publish("camera", "video")
            await room.publish("microphone", "audio")
            await service.virtual_time.advance(1)
            await room.disable("camera")
            await service.virtual_time.advance(1)
            assert room.state == "connected"
    assert order == ["published camera", "disabled camera"]
    assert handlers.errors == 2  # once per published track
    assert [e["event"] for e in logs if e["event"] == "handler_failed"] == ["handler_failed"] * 2


def test_a_name_no_machine_has_is_refused_with_a_suggestion() -> None:
    handlers = Handlers()
    with pytest.raises(ValueError, match="no state 'reconecting' of room; did you mean "
                                         "'reconnecting'"):
        handlers.on("room", dest="reconecting")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no machine 'rooom'"):
        handlers.on("rooom")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no trigger 'publsh'"):
        handlers.on(trigger="publsh")  # type: ignore[arg-type]


async def test_wait_for_returns_the_change_or_a_typed_error() -> None:
    service = MemoryRoomService()
    async with rtcstate.connect(service.transport(), options("alice")) as room:
        change = await room.wait_for("room", "connected", within=1)
        assert (change.machine, change.dest) == ("room", "connected")
        await room.publish("camera", "video")
        published = await room.wait_for("local_track", "published", id="camera", within=5)
        assert published.id == "camera"
        with pytest.raises(rtcstate.WaitTimedOut):
            await room.wait_for("local_track", "warning", within=2)
        with pytest.raises(TimeoutError):
            await room.wait_for("local_track", "warning", within=1)
        service.expire_session("alice")
        with pytest.raises(rtcstate.RoomEnded):
            await room.wait_for("local_track", "warning", within=5)
        lost = await room.wait_for("room", "disconnected", within=1)
        assert lost.error is not None
        assert lost.error.code == 53002


async def test_the_last_error_of_the_room_and_of_each_machine() -> None:
    service = MemoryRoomService()
    service.fail_next_joins("alice", 53000)
    async with rtcstate.connect(service.transport(), options("alice")) as room:
        assert room.error is not None
        assert room.error.code == 53000  # the retried connection error
        assert room.machine.error is room.error
        await room.publish("camera", "video")
        await service.virtual_time.advance(1)
        assert room.local_tracks["camera"].error is None
        service.drop_signaling("alice", duration=1)
        await service.virtual_time.advance(5)
        assert room.state == "connected"
        assert room.error is not None
        assert room.error.code == 53001  # the last one: the reconnect's cause


async def test_remote_tracks_carry_name_identity_and_simulated_media() -> None:
    service = MemoryRoomService()
    async with rtcstate.connect(service.transport(), options("alice")) as alice, \
            rtcstate.connect(service.transport(), options("bob")) as bob:
        await alice.publish("microphone", "audio")
        change = await bob.wait_for("remote_track", "subscribed", within=5)
        track = bob.remote_tracks[change.id]
        assert (track.track_name, track.participant_identity) == ("microphone", "alice")
        media = track.media
        assert isinstance(media, SimulatedMedia)
        frames = []

        async def read() -> None:
            with contextlib.suppress(anyio.EndOfStream):
                while True:
                    frames.append(await media.recv())

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            await service.virtual_time.advance(1)
            await alice.unpublish("microphone")
            await service.virtual_time.advance(1)
        assert 45 <= len(frames) <= 55  # 50 audio frames a virtual second
        assert [f.index for f in frames] == list(range(len(frames)))
        assert media.ended
        with pytest.raises(anyio.EndOfStream):
            await media.recv()
        assert track.media is None


def test_state_and_trigger_literals_are_the_specs() -> None:
    literals = {"room": (states.RoomState, states.RoomTrigger),
                "participant": (states.ParticipantState, states.ParticipantTrigger),
                "local_track": (states.LocalTrackState, states.LocalTrackTrigger),
                "remote_track": (states.RemoteTrackState, states.RemoteTrackTrigger),
                "device": (states.DeviceState, states.DeviceTrigger)}
    assert set(literals) == set(SPECS)
    for kind, (state_type, trigger_type) in literals.items():
        spec = SPECS[kind]
        assert set(typing.get_args(state_type)) == {s.name for s in spec.states}, kind
        triggers = {t.trigger for t in spec.transitions}
        if spec.created_by is not None:
            triggers.add(spec.created_by.trigger)
        assert set(typing.get_args(trigger_type)) == triggers, kind
