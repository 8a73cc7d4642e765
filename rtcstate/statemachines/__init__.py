"""The lifecycle machines: each a plain-data spec plus a cheap instance class.

========================  ===============================  ====================================
kind                      instance class                   spec
========================  ===============================  ====================================
``room``                  :class:`RoomMachine`             :data:`ROOM_SPEC`
``participant``           :class:`ParticipantMachine`      :data:`PARTICIPANT_SPEC`
``local_track``           :class:`LocalTrackPublicationMachine`   :data:`LOCAL_TRACK_SPEC`
``remote_track``          :class:`RemoteTrackPublicationMachine`  :data:`REMOTE_TRACK_SPEC`
``device``                :class:`DevicePermissionMachine` :data:`DEVICE_SPEC`
========================  ===============================  ====================================

Machines never import adapters: transports drive them through events.
"""

from collections.abc import Mapping

from rtcstate.statemachines.device import DEVICE_SPEC, DevicePermissionMachine
from rtcstate.statemachines.local_track import LOCAL_TRACK_SPEC, LocalTrackPublicationMachine
from rtcstate.statemachines.participant import PARTICIPANT_SPEC, ParticipantMachine
from rtcstate.statemachines.remote_track import REMOTE_TRACK_SPEC, RemoteTrackPublicationMachine
from rtcstate.statemachines.room import ROOM_SPEC, RoomMachine
from rtcstate.statemachines.runtime import LifecycleMachine, observe_transitions
from rtcstate.statemachines.spec import (
    Edge,
    Effect,
    Guard,
    MachineSpec,
    Role,
    StateSpec,
    Timeout,
    TransitionSpec,
)

__all__ = [
    "DEVICE_SPEC",
    "LOCAL_TRACK_SPEC",
    "MACHINE_CLASSES",
    "PARTICIPANT_SPEC",
    "REMOTE_TRACK_SPEC",
    "ROOM_SPEC",
    "SPECS",
    "DevicePermissionMachine",
    "Edge",
    "Effect",
    "Guard",
    "LifecycleMachine",
    "LocalTrackPublicationMachine",
    "MachineSpec",
    "ParticipantMachine",
    "RemoteTrackPublicationMachine",
    "Role",
    "RoomMachine",
    "StateSpec",
    "Timeout",
    "TransitionSpec",
    "observe_transitions",
]

MACHINE_CLASSES: Mapping[str, type[LifecycleMachine]] = {
    cls.spec.kind: cls
    for cls in (RoomMachine, ParticipantMachine, LocalTrackPublicationMachine,
                RemoteTrackPublicationMachine, DevicePermissionMachine)
}
"""Every built-in machine class, by kind."""

SPECS: Mapping[str, MachineSpec] = {kind: cls.spec for kind, cls in MACHINE_CLASSES.items()}
"""Every built-in spec, by kind."""
