"""Events that drive a Participant machine (a remote participant's presence in the Room)."""

from __future__ import annotations

from typing import ClassVar, Literal

from rtcstate.models.base import Event, Name
from rtcstate.models.room import RoomLostEvent

__all__ = [
    "ParticipantConnected",
    "ParticipantDisconnected",
    "ParticipantEvent",
    "ParticipantReconnected",
    "ParticipantReconnecting",
    "ParticipantRoomLost",
]


class ParticipantEvent(Event):
    """Base of participant events; ``participant_sid`` names the machine instance."""

    target_field: ClassVar[str] = "participant_sid"

    participant_sid: Name
    identity: Name


class ParticipantConnected(ParticipantEvent):
    """A remote participant joined (or was in the Room when the local participant joined).

    This event creates the participant's machine.
    """

    type: Literal["participant.connected"] = "participant.connected"


class ParticipantReconnecting(ParticipantEvent):
    """The remote participant's connection was interrupted."""

    type: Literal["participant.reconnecting"] = "participant.reconnecting"


class ParticipantReconnected(ParticipantEvent):
    """The remote participant's connection was restored."""

    type: Literal["participant.reconnected"] = "participant.reconnected"


class ParticipantDisconnected(ParticipantEvent):
    """The remote participant left the Room (or was dropped)."""

    type: Literal["participant.disconnected"] = "participant.disconnected"


class ParticipantRoomLost(ParticipantEvent, RoomLostEvent):
    """The local participant lost the Room: the remote participant is gone from its view."""

    type: Literal["participant.room_lost"] = "participant.room_lost"
