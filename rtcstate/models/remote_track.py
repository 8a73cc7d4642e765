"""Events that drive a RemoteTrackPublication machine (a track another participant publishes)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from rtcstate.models.base import Event, Name, Text, TrackKind
from rtcstate.models.room import ReportsCode, RoomLostEvent, StrictCode

__all__ = [
    "RemoteTrackEvent",
    "RemoteTrackPublished",
    "RemoteTrackRoomLost",
    "RemoteTrackSubscribed",
    "RemoteTrackSubscriptionFailed",
    "RemoteTrackSwitchedOff",
    "RemoteTrackSwitchedOn",
    "RemoteTrackUnpublished",
    "RemoteTrackUnsubscribed",
]


class RemoteTrackEvent(Event):
    """Base of remote-track events; ``track_sid`` names the machine instance."""

    target_field: ClassVar[str] = "track_sid"

    track_sid: Name
    participant_sid: Name
    kind: TrackKind


class RemoteTrackPublished(RemoteTrackEvent):
    """A remote participant published a track (or had it published when the local participant
    joined). This event creates the publication's machine."""

    type: Literal["remote_track.published"] = "remote_track.published"
    track_name: Name | None = Field(default=None, description="the publisher's name for it")
    participant_identity: Name | None = Field(default=None,
                                              description="the publisher's identity")


class RemoteTrackSubscribed(RemoteTrackEvent):
    """The local participant receives the track."""

    type: Literal["remote_track.subscribed"] = "remote_track.subscribed"


class RemoteTrackSubscriptionFailed(RemoteTrackEvent, ReportsCode):
    """Subscribing to the track failed: with ``error_code`` 53407 when its DTLS handshake
    failed, with no code when the transport cannot tell why."""

    type: Literal["remote_track.subscription_failed"] = "remote_track.subscription_failed"
    error_code: Annotated[Literal[53407], StrictCode] | None = None
    message: Text | None = None


class RemoteTrackUnsubscribed(RemoteTrackEvent):
    """The local participant stopped receiving the track (the guide's cue for a mobile user's
    backgrounded camera)."""

    type: Literal["remote_track.unsubscribed"] = "remote_track.unsubscribed"


class RemoteTrackSwitchedOff(RemoteTrackEvent):
    """The server stopped forwarding the track (bandwidth, visibility), keeping the subscription."""

    type: Literal["remote_track.switched_off"] = "remote_track.switched_off"


class RemoteTrackSwitchedOn(RemoteTrackEvent):
    """The server resumed forwarding the track."""

    type: Literal["remote_track.switched_on"] = "remote_track.switched_on"


class RemoteTrackUnpublished(RemoteTrackEvent):
    """The remote participant unpublished the track (or left)."""

    type: Literal["remote_track.unpublished"] = "remote_track.unpublished"


class RemoteTrackRoomLost(RemoteTrackEvent, RoomLostEvent):
    """The local participant lost the Room: the remote track is gone with it."""

    type: Literal["remote_track.room_lost"] = "remote_track.room_lost"
