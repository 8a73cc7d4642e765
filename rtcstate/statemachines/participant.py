"""The Participant lifecycle: a remote participant's presence in the Room.

A remote participant is ``connected`` when the Room announces it, may be ``reconnecting``
for a while, and ends ``disconnected``: it left, or the local participant lost the Room
(``room_lost``, carrying the Room's error). Its track publications are separate machines.

The picture is ``diagrams/participant.svg``, rendered from :data:`PARTICIPANT_SPEC`.
"""

from __future__ import annotations

from typing import ClassVar

from rtcstate.models.base import Event
from rtcstate.models.participant import (
    ParticipantConnected,
    ParticipantDisconnected,
    ParticipantReconnected,
    ParticipantReconnecting,
    ParticipantRoomLost,
)
from rtcstate.statemachines.room import LOST_ROOM_ERRORS
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.statemachines.spec import MachineSpec, Role, StateSpec, TransitionSpec

__all__ = ["PARTICIPANT_SPEC", "ParticipantMachine"]

PARTICIPANT_SPEC = MachineSpec(
    kind="participant",
    title="Participant",
    doc="A remote participant, as the local participant sees it.",
    initial="connected",
    states=(
        StateSpec("connected", "In the Room."),
        StateSpec("reconnecting", "Its connection was interrupted."),
        StateSpec("disconnected", "Left the Room.", terminal=True),
    ),
    transitions=(
        TransitionSpec("reconnecting", ("connected",), "reconnecting", Role.RECONNECT),
        TransitionSpec("reconnected", ("reconnecting",), "connected", Role.RECONNECT),
        TransitionSpec("disconnected", ("connected", "reconnecting"), "disconnected"),
        TransitionSpec("room_lost", ("connected", "reconnecting"), "disconnected", Role.FAILURE,
                       errors=LOST_ROOM_ERRORS,
                       doc="The local participant lost the Room, carrying the Room's error."),
    ),
    events={
        "reconnecting": ParticipantReconnecting,
        "reconnected": ParticipantReconnected,
        "disconnected": ParticipantDisconnected,
        "room_lost": ParticipantRoomLost,
    },
    created_by=ParticipantConnected,
)


class ParticipantMachine(LifecycleMachine):
    """A remote participant, named by its participant sid.

    Attributes:
        identity: the participant's identity.
    """

    __slots__ = ("identity",)
    spec: ClassVar[MachineSpec] = PARTICIPANT_SPEC

    def __init__(self, participant_sid: str, identity: str) -> None:
        super().__init__(participant_sid)
        self.identity = identity

    @classmethod
    def from_event(cls, event: Event) -> ParticipantMachine:
        """The machine a ``participant.connected`` event brings into being."""
        assert isinstance(event, ParticipantConnected)
        return cls(event.participant_sid, event.identity)

    def event_fields(self) -> dict[str, object]:
        return {"participant_sid": self.id, "identity": self.identity}
