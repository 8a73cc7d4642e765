"""A scripted walk through the guide's scenarios, on a virtual clock (the ``rtcstate demo`` job).

The walk drives the machines directly with events, as a transport adapter would: device
preflight (a silent microphone first), joining with pre-acquired tracks after a retryable
signaling error, a camera switch, a media warning that clears and one that escalates, a network
interruption, backgrounding and foregrounding the camera, a remote participant coming and
going, and finally leaving on page hide. Virtual time makes the 5-second escalation and the
retry back-off instant and reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from rtcstate.clock import VirtualClock
from rtcstate.dispatcher import Dispatcher
from rtcstate.models import (
    ConnectOptions,
    DeviceGranted,
    DeviceRelease,
    DeviceRequest,
    DeviceTest,
    LocalTrackBackground,
    LocalTrackEvent,
    LocalTrackForeground,
    LocalTrackPublish,
    LocalTrackPublished,
    LocalTrackRestart,
    LocalTrackStop,
    LocalTrackWarning,
    LocalTrackWarningsCleared,
    ParticipantDisconnected,
    PreAcquiredTrack,
    RemoteTrackEvent,
    RemoteTrackSubscribed,
    RemoteTrackSwitchedOff,
    RemoteTrackSwitchedOn,
    RemoteTrackUnpublished,
    RemoteTrackUnsubscribed,
    RoomConnect,
    RoomConnected,
    RoomConnectFailed,
    RoomDisconnect,
    RoomReconnected,
    RoomReconnecting,
    StateChange,
    TrackKind,
)
from rtcstate.preflight import camera_test_result, microphone_test_result
from rtcstate.statemachines import (
    DevicePermissionMachine,
    LifecycleMachine,
    LocalTrackPublicationMachine,
    ParticipantMachine,
    RemoteTrackPublicationMachine,
    RoomMachine,
)

__all__ = ["DemoResult", "run_scripted_walk", "run_scripted_walk_sync"]

ROOM = "my-cool-room"
SILENCE = [[0.0] * 512] * 4
TALKING = [[40.0, 120.0, 200.0, 90.0] * 128] * 4


class DemoResult:
    """What a walk produced: every change in order, and the machines at the end."""

    def __init__(self, changes: list[StateChange], machines: list[LifecycleMachine]) -> None:
        self.changes = changes
        self.machines = machines

    @property
    def all_terminal(self) -> bool:
        """Whether every machine ended in a terminal state."""
        return all(machine.is_terminal for machine in self.machines)


LocalEventT = TypeVar("LocalEventT", bound=LocalTrackEvent)
RemoteEventT = TypeVar("RemoteEventT", bound=RemoteTrackEvent)


def _local(cls: type[LocalEventT], name: str, kind: TrackKind, **fields: Any) -> LocalEventT:
    return cls.model_validate({"track_name": name, "kind": kind, **fields})


def _camera(cls: type[LocalEventT], **fields: Any) -> LocalEventT:
    return _local(cls, "camera", "video", **fields)


def _bobs_camera(cls: type[RemoteEventT]) -> RemoteEventT:
    return cls.model_validate({"track_sid": "MT-bob-camera", "participant_sid": "PA2",
                               "kind": "video"})


async def _walk(dispatcher: Dispatcher, options: ConnectOptions) -> None:
    send = dispatcher.send

    # Preflight: the guide's microphone and camera tests, before joining.
    await send(DeviceRequest(device_kind="microphone"))
    await send(DeviceGranted(device_kind="microphone", label="Built-in Microphone"))
    await send(DeviceTest(device_kind="microphone"))
    await send(microphone_test_result(SILENCE))  # another app holds the microphone
    await dispatcher.advance(20)  # the user closes the other app
    await send(DeviceTest(device_kind="microphone"))
    await send(microphone_test_result(TALKING))
    await send(DeviceRequest(device_kind="camera", facing_mode="user"))
    await send(DeviceGranted(device_kind="camera", label="Front Camera"))
    await send(DeviceTest(device_kind="camera"))
    await send(camera_test_result(30))

    # Join with the pre-acquired tracks; the first attempt hits a signaling error.
    await send(RoomConnect(room_name=ROOM, identity=options.identity))
    await send(RoomConnectFailed(room_name=ROOM, error_code=53000))
    await dispatcher.advance(options.retry.delay_before(2))  # the clock fires the retry
    await send(RoomConnected(room_name=ROOM, room_sid="RM1", participant_sid="PA1"))
    for pre in options.tracks:
        await send(_local(LocalTrackPublish, pre.name, pre.kind))
        await send(_local(LocalTrackPublished, pre.name, pre.kind, track_sid=f"MT-{pre.name}"))

    # Switch to the back camera without unpublishing.
    await send(_camera(LocalTrackRestart, facing_mode="environment"))

    # A media warning that clears in time, then one that does not.
    await send(_camera(LocalTrackWarning, warning="recording-media-lost"))
    await dispatcher.advance(2)
    await send(_camera(LocalTrackWarningsCleared))
    await send(_camera(LocalTrackWarning, warning="recording-media-lost"))
    await dispatcher.advance(options.warning_escalation_timeout)  # escalation fires at 5 s
    await send(_camera(LocalTrackWarningsCleared))

    # A remote participant publishes video.
    dispatcher.add(ParticipantMachine("PA2", "bob"))
    dispatcher.add(RemoteTrackPublicationMachine("MT-bob-camera", "PA2", "video"))
    await send(_bobs_camera(RemoteTrackSubscribed))
    await send(_bobs_camera(RemoteTrackSwitchedOff))
    await send(_bobs_camera(RemoteTrackSwitchedOn))

    # The network drops for three seconds.
    await send(RoomReconnecting(room_name=ROOM, error_code=53001))
    await dispatcher.advance(3)
    await send(RoomReconnected(room_name=ROOM))

    # Mobile: the app goes to the background and comes back.
    await send(_camera(LocalTrackBackground))
    await dispatcher.advance(60)
    await send(_camera(LocalTrackForeground))
    await send(_camera(LocalTrackPublished, track_sid="MT-camera-2"))

    # Bob backgrounds his camera, then leaves.
    await send(_bobs_camera(RemoteTrackUnsubscribed))
    await send(_bobs_camera(RemoteTrackUnpublished))
    await send(ParticipantDisconnected(participant_sid="PA2", identity="bob"))

    # Page hide: leave the Room so the others know at once, then let go of everything.
    await dispatcher.advance(30)
    await send(RoomDisconnect(room_name=ROOM))
    for pre in options.tracks:
        await send(_local(LocalTrackStop, pre.name, pre.kind))
    await send(DeviceRelease(device_kind="microphone"))
    await send(DeviceRelease(device_kind="camera"))


async def run_scripted_walk(on_change: Callable[[StateChange], object] | None = None) -> DemoResult:
    """Run the walk on a virtual clock; ``on_change`` sees each change as it happens."""
    options = ConnectOptions(
        room_name=ROOM,
        identity="alice",
        tracks=(PreAcquiredTrack(name="microphone", kind="audio"),
                PreAcquiredTrack(name="camera", kind="video")),
        notify_warnings=frozenset({"recording-media-lost"}),
    )
    changes: list[StateChange] = []
    dispatcher = Dispatcher(clock=VirtualClock())
    dispatcher.on_change(changes.append)
    if on_change is not None:
        dispatcher.on_change(on_change)
    dispatcher.add(DevicePermissionMachine("microphone"))
    dispatcher.add(DevicePermissionMachine("camera"))
    dispatcher.add(RoomMachine(options))
    for pre in options.tracks:
        dispatcher.add(LocalTrackPublicationMachine.for_options(pre.name, pre.kind, options))
    async with dispatcher:
        await _walk(dispatcher, options)
    return DemoResult(changes, list(dispatcher.machines.values()))


def run_scripted_walk_sync(on_change: Callable[[StateChange], object] | None = None) -> DemoResult:
    """:func:`run_scripted_walk` from synchronous code."""
    return anyio.run(run_scripted_walk, on_change)
