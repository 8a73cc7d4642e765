"""The RemoteTrackPublication lifecycle: a track another participant publishes.

A remote publication starts ``published`` (it exists as soon as the Room announces it). The
local participant may subscribe (``subscribed``), fail to (``subscription_failed``, carrying
53407 when the transport saw the DTLS handshake fail), stop
receiving it (``unsubscribed``: the guide's cue that a mobile participant backgrounded its
camera), or have the server pause forwarding it (``switched_off``) and resume
(``switched_on``). It ends ``unpublished``: unpublished by its participant, or ``room_lost``
(carrying the error) when the local participant loses the Room.

The picture is ``diagrams/remote_track.svg``, rendered from :data:`REMOTE_TRACK_SPEC`.
"""

from __future__ import annotations

from typing import ClassVar

from rtcstate import catalog
from rtcstate.models.base import Event, TrackKind
from rtcstate.models.remote_track import (
    RemoteTrackPublished,
    RemoteTrackRoomLost,
    RemoteTrackSubscribed,
    RemoteTrackSubscriptionFailed,
    RemoteTrackSwitchedOff,
    RemoteTrackSwitchedOn,
    RemoteTrackUnpublished,
    RemoteTrackUnsubscribed,
)
from rtcstate.statemachines.room import LOST_ROOM_ERRORS
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.statemachines.spec import MachineSpec, Role, StateSpec, TransitionSpec

__all__ = ["REMOTE_TRACK_SPEC", "RemoteTrackPublicationMachine"]

_DTLS_FAILED = tuple(e for e in catalog.by_code(53407) if e.phase == "track")

_ALIVE = ("published", "subscribed", "switched_off", "unsubscribed", "subscription_failed")

REMOTE_TRACK_SPEC = MachineSpec(
    kind="remote_track",
    title="RemoteTrackPublication",
    doc="A track a remote participant publishes, as the local participant sees it.",
    initial="published",
    states=(
        StateSpec("published", "Announced by the Room; not subscribed."),
        StateSpec("subscribed", "Received: media flows to the local participant."),
        StateSpec("switched_off", "Subscribed, but the server stopped forwarding it."),
        StateSpec("unsubscribed", "No longer received (a backgrounded mobile camera, say)."),
        StateSpec("subscription_failed", "Subscribing failed; it may be retried."),
        StateSpec("unpublished", "The remote participant unpublished it or left.", terminal=True),
    ),
    transitions=(
        TransitionSpec("subscribed", ("published", "unsubscribed", "subscription_failed"),
                       "subscribed"),
        TransitionSpec("subscription_failed", ("published", "unsubscribed"),
                       "subscription_failed", Role.FAILURE, errors=_DTLS_FAILED,
                       error_optional=True,
                       doc="Subscribing failed: carrying 53407 when its DTLS handshake failed, "
                           "nothing when the transport cannot tell why."),
        TransitionSpec("switched_off", ("subscribed",), "switched_off", Role.RECONNECT),
        TransitionSpec("switched_on", ("switched_off",), "subscribed", Role.RECONNECT),
        TransitionSpec("unsubscribed", ("subscribed", "switched_off"), "unsubscribed"),
        TransitionSpec("unpublished", _ALIVE, "unpublished"),
        TransitionSpec("room_lost", _ALIVE, "unpublished", Role.FAILURE, errors=LOST_ROOM_ERRORS,
                       doc="The local participant lost the Room, carrying the Room's error."),
    ),
    events={
        "subscribed": RemoteTrackSubscribed,
        "subscription_failed": RemoteTrackSubscriptionFailed,
        "switched_off": RemoteTrackSwitchedOff,
        "switched_on": RemoteTrackSwitchedOn,
        "unsubscribed": RemoteTrackUnsubscribed,
        "unpublished": RemoteTrackUnpublished,
        "room_lost": RemoteTrackRoomLost,
    },
    created_by=RemoteTrackPublished,
)


class RemoteTrackPublicationMachine(LifecycleMachine):
    """A remote track publication, named by its track sid.

    Attributes:
        participant_sid: the publishing participant.
        track_kind: audio, video or data.
        track_name: the publisher's name for the track, if the transport says.
        participant_identity: the publisher's identity, if the transport says.
        media: the received media while subscribed (the transport's object: an aiortc
            ``MediaStreamTrack``, or the memory service's simulated one), else ``None``.
    """

    __slots__ = ("media", "participant_identity", "participant_sid", "track_kind",
                 "track_name")
    spec: ClassVar[MachineSpec] = REMOTE_TRACK_SPEC

    def __init__(self, track_sid: str, participant_sid: str, kind: TrackKind, *,
                 track_name: str | None = None, participant_identity: str | None = None) -> None:
        super().__init__(track_sid)
        self.participant_sid = participant_sid
        self.track_kind: TrackKind = kind
        self.track_name = track_name
        self.participant_identity = participant_identity
        self.media: object | None = None

    @classmethod
    def from_event(cls, event: Event) -> RemoteTrackPublicationMachine:
        """The machine a ``remote_track.published`` event brings into being."""
        assert isinstance(event, RemoteTrackPublished)
        return cls(event.track_sid, event.participant_sid, event.kind,
                   track_name=event.track_name, participant_identity=event.participant_identity)

    def event_fields(self) -> dict[str, object]:
        return {"track_sid": self.id, "participant_sid": self.participant_sid,
                "kind": self.track_kind}
