"""Events that drive a LocalTrackPublication machine (one of the local participant's tracks)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, cast, get_args

from rtcstate.catalog import CatalogEntry
from rtcstate.models.base import (
    ErrorRef,
    Event,
    FacingMode,
    Name,
    Text,
    TrackKind,
    WarningName,
    _error_ref,
)
from rtcstate.models.room import ReportsCode, RoomLostEvent, StrictCode

__all__ = [
    "LocalTrackBackground",
    "LocalTrackDisable",
    "LocalTrackEnable",
    "LocalTrackEscalate",
    "LocalTrackEvent",
    "LocalTrackForeground",
    "LocalTrackPublish",
    "LocalTrackPublishFailed",
    "LocalTrackPublished",
    "PUBLISH_ERROR_CODES",
    "PublishErrorCode",
    "publish_error_code",
    "LocalTrackRestart",
    "LocalTrackRoomLost",
    "LocalTrackStop",
    "LocalTrackUnpublish",
    "LocalTrackWarning",
    "LocalTrackWarningsCleared",
]


PublishErrorCode = Literal[53125, 53203, 53300, 53301, 53302, 53303, 53304, 53305]
"""Why the server refused a publication: a track kind the Room does not take (53125), too many
tracks (53203), an invalid track (53300), its name (53301-53303, 53304 a duplicate), no capacity
left (53305)."""

PUBLISH_ERROR_CODES: frozenset[int] = frozenset(get_args(PublishErrorCode))
"""The codes a publication can be refused with, as a set (for checks at run time)."""


def publish_error_code(code: int) -> PublishErrorCode:
    """``code`` as a :data:`PublishErrorCode` (what a room service's scripted refusal takes).

    Raises:
        ValueError: a publication is not refused with ``code``.
    """
    if code not in PUBLISH_ERROR_CODES:
        raise ValueError(f"{code} is not a code a publication is refused with")
    return cast(PublishErrorCode, code)


class LocalTrackEvent(Event):
    """Base of local-track events; ``track_name`` names the machine instance.

    The name stays the same when the track behind it is replaced (after foregrounding, say);
    ``track_sid`` is the server's id of the current publication, once known.
    """

    target_field: ClassVar[str] = "track_name"

    track_name: Name
    kind: TrackKind
    track_sid: Name | None = None


class _CarriesWarning(LocalTrackEvent):
    warning: WarningName

    @classmethod
    def error_fields(cls, entry: CatalogEntry) -> dict[str, object]:
        return {"warning": entry.name}

    def error_ref(self) -> ErrorRef | None:
        return _error_ref(None, self.warning, None)


class LocalTrackPublish(LocalTrackEvent):
    """The application publishes the track (or a new one, after foregrounding)."""

    type: Literal["local_track.publish"] = "local_track.publish"


class LocalTrackPublished(LocalTrackEvent):
    """The server accepted the publication."""

    type: Literal["local_track.published"] = "local_track.published"


class LocalTrackPublishFailed(LocalTrackEvent, ReportsCode):
    """The server refused the publication; the track is kept, unpublished."""

    type: Literal["local_track.publish_failed"] = "local_track.publish_failed"
    error_code: Annotated[PublishErrorCode, StrictCode]
    message: Text | None = None


class LocalTrackEnable(LocalTrackEvent):
    """The application enables the track (media flows again)."""

    type: Literal["local_track.enable"] = "local_track.enable"


class LocalTrackDisable(LocalTrackEvent):
    """The application disables the track (sends silence or black frames, stays published)."""

    type: Literal["local_track.disable"] = "local_track.disable"


class LocalTrackRestart(LocalTrackEvent):
    """The track restarts its source with new constraints, staying published.

    The guide's camera switch: ``restart`` with ``facing_mode="environment"``.
    """

    type: Literal["local_track.restart"] = "local_track.restart"
    facing_mode: FacingMode | None = None
    device_id: Name | None = None


class LocalTrackWarning(_CarriesWarning):
    """The media server detects no media on the track (sent only if asked for)."""

    type: Literal["local_track.warning"] = "local_track.warning"


class LocalTrackWarningsCleared(LocalTrackEvent):
    """Conditions returned to normal."""

    type: Literal["local_track.warnings_cleared"] = "local_track.warnings_cleared"


class LocalTrackEscalate(_CarriesWarning):
    """A warning was not cleared within the escalation timeout (fired by the clock)."""

    type: Literal["local_track.escalate"] = "local_track.escalate"


class LocalTrackBackground(LocalTrackEvent):
    """The app went to the background: the camera track is stopped and unpublished."""

    type: Literal["local_track.background"] = "local_track.background"


class LocalTrackForeground(LocalTrackEvent):
    """The app came back: a new camera track is created and published."""

    type: Literal["local_track.foreground"] = "local_track.foreground"


class LocalTrackUnpublish(LocalTrackEvent):
    """The application unpublishes the track, keeping it."""

    type: Literal["local_track.unpublish"] = "local_track.unpublish"


class LocalTrackStop(LocalTrackEvent):
    """The track is stopped for good (unpublishing it if it was published)."""

    type: Literal["local_track.stop"] = "local_track.stop"


class LocalTrackRoomLost(LocalTrackEvent, RoomLostEvent):
    """The Room was lost (any code of phase "disconnect"): the track is stopped with it."""

    type: Literal["local_track.room_lost"] = "local_track.room_lost"
