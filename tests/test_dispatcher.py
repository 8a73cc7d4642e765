"""The dispatcher: ordered application, accounting, timeouts, streams, cleanup (asyncio + trio)."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from typing import Any

import anyio
import pytest
import trio
import trio.testing

from rtcstate import (
    ConnectOptions,
    Dispatcher,
    InvalidEvent,
    InvalidTransition,
    LocalTrackPublicationMachine,
    RoomMachine,
    StateChange,
    UnknownMachine,
    VirtualClock,
)

from .helpers import captured_logs, task_count

ROOM = "r"
OPTIONS = ConnectOptions(room_name=ROOM, identity="alice",
                         notify_warnings=frozenset({"recording-media-lost"}))
pytestmark = pytest.mark.anyio


def room_event(trigger: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"room.{trigger}", "room_name": ROOM, **fields}


def camera_event(trigger: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"local_track.{trigger}", "track_name": "camera", "kind": "video", **fields}


def new_dispatcher(clock: VirtualClock | None = None) -> Dispatcher:
    dispatcher = Dispatcher(clock=clock or VirtualClock())
    dispatcher.add(RoomMachine(OPTIONS))
    dispatcher.add(LocalTrackPublicationMachine.for_options("camera", "video", OPTIONS))
    return dispatcher


async def test_events_are_applied_in_order_and_streamed() -> None:
    dispatcher = new_dispatcher()
    seen: list[str] = []
    dispatcher.on_change(lambda change: seen.append(change.dest))
    streamed: list[str] = []
    async with dispatcher:
        stream = dispatcher.changes()
        for event in (room_event("connect", identity="alice"), room_event("connected"),
                      camera_event("publish"), camera_event("published"),
                      room_event("disconnect"), camera_event("stop")):
            await dispatcher.send(event)
        await dispatcher.drain()
        async with stream:
            for _ in range(6):
                streamed.append((await stream.receive()).dest)
    expected = ["connecting", "connected", "publishing", "published", "disconnected", "stopped"]
    assert seen == expected
    assert streamed == expected


async def test_change_streams_end_when_the_dispatcher_block_ends() -> None:
    dispatcher = new_dispatcher()
    received: list[StateChange] = []
    async with anyio.create_task_group() as tg:
        async with dispatcher:
            stream = dispatcher.changes()

            async def read() -> None:
                async with stream:
                    async for change in stream:
                        received.append(change)

            tg.start_soon(read)
            await dispatcher.send(room_event("connect", identity="alice"))
    assert [c.dest for c in received] == ["connecting"]


async def test_every_event_is_applied_or_rejected_with_a_logged_reason() -> None:
    dispatcher = new_dispatcher()
    with captured_logs() as logs:
        async with dispatcher:
            for raw in (
                room_event("connect", identity="alice"),
                {"type": "room.teleport", "room_name": ROOM},  # invalid event
                room_event("connect_failed", error_code=53001),  # invalid: not a connect code
                room_event("reconnected"),  # not allowed in connecting
                {"type": "room.connected", "room_name": "elsewhere"},  # unknown machine
                camera_event("warning", warning="recording-media-lost"),  # not in created
                room_event("connected"),
                b"\x00\xff",  # not JSON
            ):
                await dispatcher.send(raw)
    stats = dispatcher.stats
    assert (stats.received, stats.applied, stats.rejected, stats.pending) == (8, 2, 6, 0)
    assert stats.rejected_by_reason == {"invalid_event": 3, "invalid_transition": 2,
                                        "unknown_machine": 1}
    rejections = [entry for entry in logs if entry["event"] == "event_rejected"]
    assert [entry["reason"] for entry in rejections] == [
        "invalid_event", "invalid_event", "invalid_transition", "unknown_machine",
        "invalid_transition", "invalid_event"]
    assert all(entry["log_level"] == "warning" and entry["detail"] for entry in rejections)
    assert dispatcher.get("room", ROOM).state == "connected"


async def test_one_log_line_per_transition() -> None:
    dispatcher = new_dispatcher()
    with captured_logs() as logs:
        async with dispatcher:
            await dispatcher.send(room_event("connect", identity="alice"))
            await dispatcher.send(room_event("connect_failed", error_code=53106))
    lines = [entry for entry in logs if entry["event"] == "transition"]
    assert [{k: line[k] for k in ("machine", "id", "source", "dest", "trigger", "error", "at")}
            for line in lines] == [
        {"machine": "room", "id": ROOM, "source": "idle", "dest": "connecting",
         "trigger": "connect", "error": None, "at": 0.0},
        {"machine": "room", "id": ROOM, "source": "connecting", "dest": "disconnected",
         "trigger": "connect_failed", "error": "53106-room-not-found", "at": 0.0},
    ]


@pytest.mark.parametrize(("level", "lines"), [(logging.INFO, 1), (logging.WARNING, 0)])
def test_transition_lines_honour_the_log_level(level: int, lines: int) -> None:
    with captured_logs(level) as logs:
        dispatcher = Dispatcher()
        dispatcher.add(RoomMachine(OPTIONS))
        dispatcher.dispatch(room_event("connect", identity="alice"))
    assert [e["event"] for e in logs] == ["transition"] * lines


def test_nothing_is_printed_unless_the_application_turns_logging_on() -> None:
    script = (
        "import anyio, rtcstate\n"
        "from rtcstate.adapters.memory import MemoryRoomService\n"
        "async def main():\n"
        "    service = MemoryRoomService()\n"
        "    options = rtcstate.ConnectOptions(room_name='r', identity='a')\n"
        "    async with rtcstate.connect(service.transport(), options) as room:\n"
        "        await room.publish('camera', 'video')\n"
        "        room.transport.emit({'type': ['bad']})\n"
        "        await service.virtual_time.advance(1)\n"
        "anyio.run(main)\n")
    quiet = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, timeout=60)
    assert (quiet.stdout, quiet.stderr) == ("", "")
    loud = subprocess.run([sys.executable, "-c", "import logging\n"
                           "logging.basicConfig(level=logging.INFO)\n" + script],
                          capture_output=True, text=True, check=True, timeout=60)
    assert loud.stdout == ""
    lines = loud.stderr.splitlines()
    assert "INFO:rtcstate:transition machine=room id=r source=idle dest=connecting" in lines[0]
    assert any(line.startswith("ERROR:rtcstate:event_rejected reason=invalid_event")
               for line in lines)


def test_a_log_record_carries_the_fields_unrendered() -> None:
    with captured_logs() as logs:
        dispatcher = Dispatcher()
        dispatcher.add(RoomMachine(OPTIONS))
        dispatcher.dispatch(room_event("connect", identity="alice"))
    assert logs == [{"event": "transition", "machine": "room", "id": ROOM, "source": "idle",
                     "dest": "connecting", "trigger": "connect", "error": None, "at": 0.0,
                     "log_level": "info", "logger": "rtcstate"}]


async def test_advance_fires_timeouts_at_their_own_instant() -> None:
    clock = VirtualClock()
    dispatcher = new_dispatcher(clock)
    async with dispatcher:
        await dispatcher.send(room_event("connect", identity="alice"))
        await dispatcher.send(room_event("connect_failed", error_code=53000))
        await dispatcher.advance(0.5)
        await dispatcher.send(room_event("connect_failed", error_code=53000))  # refused: waiting
        await dispatcher.advance(10)
    room = dispatcher.get("room", ROOM)
    assert room.state == "connecting"
    assert dispatcher.stats.rejected == 1
    assert clock.now() == 10.5


async def test_a_timeout_that_lost_the_race_is_rejected_as_stale() -> None:
    clock = VirtualClock()
    dispatcher = new_dispatcher(clock)
    async with dispatcher:
        for raw in (room_event("connect", identity="alice"), room_event("connected"),
                    camera_event("publish"), camera_event("published"),
                    camera_event("warning", warning="recording-media-lost")):
            await dispatcher.send(raw)
        await dispatcher.drain()
        dispatcher.send_nowait(camera_event("warnings_cleared"))  # queued, not yet applied
        clock.advance(5)  # the escalation fires behind it
        await dispatcher.drain()
    assert dispatcher.get("local_track", "camera").state == "published"
    assert dispatcher.stats.rejected_by_reason == {"stale_timeout": 1}


def flapping_room(clock: VirtualClock) -> tuple[Dispatcher, RoomMachine]:
    dispatcher = Dispatcher(clock=clock)
    room = dispatcher.add(RoomMachine(ConnectOptions(room_name=ROOM, identity="alice")))
    room.state = "connected"
    return dispatcher, room


def test_a_room_flapping_holds_one_clock_timer_and_times_out_from_its_last_entry() -> None:
    clock = VirtualClock()
    dispatcher, room = flapping_room(clock)
    for _ in range(10_000):
        dispatcher.dispatch(room_event("reconnecting", error_code=53001))
        dispatcher.dispatch(room_event("reconnected"))
    assert clock.pending <= 1  # at most a dormant timer: not 10,000 timers or tombstones
    assert dispatcher.pending_timeouts == 0
    assert len(dispatcher._deadlines) <= 2048  # nor 10,000 stale deadlines
    clock.advance(20)
    dispatcher.dispatch(room_event("reconnecting", error_code=53001))  # window: 30 s from now
    clock.advance(29.9)  # past the first entry's deadline, short of this one's
    assert room.state == "reconnecting"
    clock.advance(0.1)
    assert room.state == "disconnected"
    assert clock.now() == 50
    assert dispatcher.stats.rejected == 0
    assert clock.pending == 0


def test_a_state_left_and_entered_with_a_shorter_timeout_fires_on_the_shorter_one() -> None:
    clock = VirtualClock()
    dispatcher = new_dispatcher(clock)
    for raw in (room_event("connect", identity="alice"), room_event("connected"),
                camera_event("publish"), camera_event("published")):
        dispatcher.dispatch(raw)
    camera = dispatcher.get("local_track", "camera")
    warning = camera_event("warning", warning="recording-media-lost")
    dispatcher.dispatch(warning)  # escalates 5 s from now
    dispatcher.dispatch(camera_event("warnings_cleared"))
    camera.escalation_timeout = 1.0  # type: ignore[attr-defined]
    dispatcher.dispatch(warning)
    clock.advance(1)
    assert camera.state == "warning_escalated"
    assert clock.now() == 1


async def test_leaving_the_block_leaves_no_task_and_cancels_timers(anyio_backend: str) -> None:
    before = task_count(anyio_backend)
    dispatcher = Dispatcher()  # real time: an AnyioClock, one task for its timers
    dispatcher.add(RoomMachine(OPTIONS))
    async with dispatcher:
        await dispatcher.send(room_event("connect", identity="alice"))
        await dispatcher.send(room_event("connect_failed", error_code=53000))  # 1 s back-off
        await dispatcher.drain()
        assert task_count(anyio_backend) == before + 2  # the worker and the back-off timer
    assert task_count(anyio_backend) == before
    assert dispatcher.get("room", ROOM).state == "waiting_to_retry"


async def test_queued_events_are_processed_before_the_block_ends() -> None:
    dispatcher = new_dispatcher()
    async with dispatcher:
        for raw in (room_event("connect", identity="alice"), room_event("connected")):
            dispatcher.send_nowait(raw)
    assert dispatcher.get("room", ROOM).state == "connected"


async def test_send_outside_the_block_and_step_api_misuse_are_errors() -> None:
    dispatcher = new_dispatcher()
    with pytest.raises(RuntimeError, match="not running"):
        await dispatcher.send(room_event("connect", identity="alice"))
    async with dispatcher:
        dispatcher.send_nowait(room_event("connect", identity="alice"))
        with pytest.raises(RuntimeError, match="overtaken"):
            dispatcher.dispatch(room_event("connected"))
        with pytest.raises(RuntimeError, match="already running"):
            await dispatcher.__aenter__()


async def test_advance_needs_a_virtual_clock() -> None:
    async with Dispatcher() as dispatcher:
        with pytest.raises(TypeError, match="VirtualClock"):
            await dispatcher.advance(1)


@pytest.mark.parametrize("anyio_backend", [
    pytest.param(("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}),
                 id="trio-mockclock")])
async def test_real_time_clock_escalates_a_warning(anyio_backend: Any) -> None:
    """The AnyioClock path, on trio's autojumping MockClock: no real time passes."""
    dispatcher = Dispatcher()
    dispatcher.add(LocalTrackPublicationMachine.for_options("camera", "video", OPTIONS))
    changes: list[StateChange] = []
    dispatcher.on_change(changes.append)
    async with dispatcher:
        start = anyio.current_time()
        for trigger in ("publish", "published"):
            await dispatcher.send(camera_event(trigger))
        await dispatcher.send(camera_event("warning", warning="recording-media-lost"))
        await anyio.sleep(6)
    assert [c.dest for c in changes] == ["publishing", "published", "warning", "warning_escalated"]
    assert math.isclose(changes[-1].at - start, 5.0, abs_tol=0.01)


def test_step_api_without_running() -> None:
    clock = VirtualClock()
    dispatcher = new_dispatcher(clock)
    dispatcher.dispatch(room_event("connect", identity="alice"))
    with pytest.raises(InvalidEvent):
        dispatcher.dispatch({"type": "room.connect"})
    with pytest.raises(UnknownMachine, match="no room machine with id 'nope'"):
        dispatcher.dispatch({"type": "room.connected", "room_name": "nope"})
    dispatcher.dispatch(room_event("connect_failed", error_code=53000))
    clock.advance(1)  # fires the retry synchronously
    assert dispatcher.get("room", ROOM).state == "connecting"
    assert (dispatcher.stats.applied, dispatcher.stats.rejected) == (3, 2)


def test_timeouts_need_a_clock() -> None:
    dispatcher = Dispatcher()
    dispatcher.add(RoomMachine(OPTIONS))
    dispatcher.dispatch(room_event("connect", identity="alice"))
    with pytest.raises(RuntimeError, match="has no clock"):
        dispatcher.dispatch(room_event("connect_failed", error_code=53000))


def test_registry() -> None:
    dispatcher = new_dispatcher()
    room = dispatcher.get("room", ROOM)
    with pytest.raises(ValueError, match="already registered"):
        dispatcher.add(RoomMachine(OPTIONS))
    dispatcher.remove(room)
    with pytest.raises(UnknownMachine):
        dispatcher.get("room", ROOM)
    assert set(dispatcher.machines) == {("local_track", "camera")}


def test_a_creation_event_for_an_ended_machine_begins_a_new_one() -> None:
    from rtcstate import ParticipantMachine, RemoteTrackPublicationMachine

    dispatcher = Dispatcher(clock=VirtualClock())
    dispatcher.create_on_event(ParticipantMachine)
    dispatcher.create_on_event(RemoteTrackPublicationMachine)
    bob = {"participant_sid": "bob", "identity": "bob"}  # Janus's sids: the identity
    camera = {"track_sid": "bob/0", "participant_sid": "bob", "kind": "video"}
    steps = [dispatcher.dispatch({"type": "participant.connected", **bob})]
    first = dispatcher.get("participant", "bob")
    steps += [dispatcher.dispatch({"type": f"participant.{trigger}", **bob})
              for trigger in ("disconnected", "connected")]
    steps += [dispatcher.dispatch({"type": f"remote_track.{trigger}", **camera})
              for trigger in ("published", "unpublished", "published")]
    assert [(c.machine, c.source, c.dest) for c in steps] == [
        ("participant", None, "connected"), ("participant", "connected", "disconnected"),
        ("participant", None, "connected"),
        ("remote_track", None, "published"), ("remote_track", "published", "unpublished"),
        ("remote_track", None, "published")]
    assert dispatcher.get("participant", "bob") is not first
    assert dispatcher.get("remote_track", "bob/0").state == "published"
    assert dispatcher.stats.rejected_by_reason == {}


def test_creation_events_make_machines_when_allowed() -> None:
    from rtcstate import ParticipantMachine, RemoteTrackPublicationMachine

    dispatcher = Dispatcher(clock=VirtualClock())
    bob = {"type": "participant.connected", "participant_sid": "PA2", "identity": "bob"}
    with pytest.raises(UnknownMachine):
        dispatcher.dispatch(bob)
    dispatcher.create_on_event(ParticipantMachine)
    dispatcher.create_on_event(RemoteTrackPublicationMachine)
    joined = dispatcher.dispatch(bob)
    assert (joined.source, joined.event, joined.dest) == (None, "connected", "connected")
    assert joined.to_dict()["source"] is None
    track = dispatcher.dispatch({"type": "remote_track.published", "track_sid": "MT9",
                                 "participant_sid": "PA2", "kind": "video"})
    assert isinstance(dispatcher.get("remote_track", "MT9"), RemoteTrackPublicationMachine)
    assert track.dest == "published"
    with pytest.raises(InvalidTransition, match="already exists"):
        dispatcher.dispatch(bob)
    with pytest.raises(TypeError, match="not created by events"):
        dispatcher.create_on_event(RoomMachine)
    assert dispatcher.stats.rejected_by_reason == {"unknown_machine": 1, "invalid_transition": 1}
