"""Ready-made instances of the built-in machines, one per variant their guards care about."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rtcstate.models.options import ConnectOptions
from rtcstate.statemachines import (
    DevicePermissionMachine,
    LifecycleMachine,
    LocalTrackPublicationMachine,
    ParticipantMachine,
    RemoteTrackPublicationMachine,
    RoomMachine,
)

__all__ = ["Factory", "machine_variants"]

Factory = Callable[[], LifecycleMachine]
"""Makes a fresh machine in its initial state."""

_OPTIONS = ConnectOptions(room_name="room", identity="alice",
                          notify_warnings=frozenset({"recording-media-lost"}))

_VARIANTS: Mapping[str, tuple[Factory, ...]] = {
    "room": (lambda: RoomMachine(_OPTIONS),),
    "participant": (lambda: ParticipantMachine("PA1", "bob"),),
    "local_track": (
        lambda: LocalTrackPublicationMachine.for_options("camera", "video", _OPTIONS),
        lambda: LocalTrackPublicationMachine.for_options("microphone", "audio", _OPTIONS),
    ),
    "remote_track": (lambda: RemoteTrackPublicationMachine("MT1", "PA1", "video"),),
    "device": (lambda: DevicePermissionMachine("microphone"),
               lambda: DevicePermissionMachine("camera")),
}


def machine_variants(kind: str) -> tuple[Factory, ...]:
    """Factories for built-in machine ``kind``: together they can take every edge.

    A camera track can be backgrounded, a microphone cannot; a microphone is tested by level, a
    camera by frames: path generation tries each variant. Warnings are asked for.

    Raises:
        KeyError: not a built-in kind.
    """
    return _VARIANTS[kind]
