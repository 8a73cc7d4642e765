"""The LocalTrackPublication lifecycle: publishing one local track, warnings, backgrounding.

A track is ``created`` (acquired, perhaps before joining), then ``publishing`` and
``published``, unless the server refuses the publication (``publish_failed``: 53203 too many
tracks, 53304 a duplicate name, ...), which leaves it ``unpublished``. While published it can be
disabled and enabled, and restarted with new constraints (the guide's camera switch) without
unpublishing. A ``recording-media-lost`` warning
(only if the application asked for it in ``notify_warnings``) moves it to ``warning``; if the
warning is not cleared within the escalation timeout (5 s by default, as in the guide) the clock
fires ``escalate`` so the application can reconnect or alert the user.

The guide's mobile pattern is explicit: on backgrounding, the camera track is stopped and
unpublished (``backgrounded``); on foregrounding a new track is created and published, and the
machine goes through ``publishing`` again. The instance keeps its name across that replacement.

A track ends with its Room: when a joined Room is lost, ``room_lost`` stops it carrying the
Room's error (the application leaving stops it with ``stop``).

The picture is ``diagrams/local_track.svg``, rendered from :data:`LOCAL_TRACK_SPEC`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rtcstate import catalog
from rtcstate.models.base import Event, TrackKind, WarningName
from rtcstate.models.local_track import (
    LocalTrackBackground,
    LocalTrackDisable,
    LocalTrackEnable,
    LocalTrackEscalate,
    LocalTrackForeground,
    LocalTrackPublish,
    LocalTrackPublished,
    LocalTrackPublishFailed,
    LocalTrackRestart,
    LocalTrackRoomLost,
    LocalTrackStop,
    LocalTrackUnpublish,
    LocalTrackWarning,
    LocalTrackWarningsCleared,
)
from rtcstate.models.options import ConnectOptions
from rtcstate.statemachines.room import LOST_ROOM_ERRORS
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.statemachines.spec import Guard, MachineSpec, Role, StateSpec, Timeout, TransitionSpec

__all__ = ["LOCAL_TRACK_SPEC", "LocalTrackPublicationMachine"]

_MEDIA_LOST = catalog.by_id("recording-media-lost")
_PUBLISH_REFUSALS = tuple(entry for code in (53125, 53203, 53300, 53301, 53302, 53303, 53304,
                                             53305) for entry in catalog.by_code(code))


def _warning_requested(track: LocalTrackPublicationMachine, event: Event) -> bool:
    assert isinstance(event, LocalTrackWarning)
    return event.warning in track.notify_warnings


def _is_camera(track: LocalTrackPublicationMachine, _event: Event) -> bool:
    return track.track_kind == "video"


def _has_source(track: LocalTrackPublicationMachine, _event: Event) -> bool:
    return track.track_kind != "data"


_WARNING_REQUESTED = Guard("warning_requested", _warning_requested,
                           "the warning is listed in notify_warnings")
_IS_CAMERA = Guard("is_camera", _is_camera, "a video track (the guide backgrounds the camera)")
_HAS_SOURCE = Guard("has_source", _has_source, "an audio or video track (data has no source)")

_ON_AIR = ("published", "disabled", "warning", "warning_escalated")
_ALIVE = ("created", "publishing", *_ON_AIR, "backgrounded", "unpublished")

LOCAL_TRACK_SPEC = MachineSpec(
    kind="local_track",
    title="LocalTrackPublication",
    doc="One of the local participant's tracks, from capture to stop.",
    initial="created",
    states=(
        StateSpec("created", "Acquired (perhaps before joining) and not published."),
        StateSpec("publishing", "Publication requested; waiting for the server."),
        StateSpec("published", "Published and enabled: media flows."),
        StateSpec("disabled", "Published but disabled: silence or black frames."),
        StateSpec(
            "warning",
            "The server detects no media on the track (recording-media-lost).",
            timeout=Timeout(
                "escalate", "options.warning_escalation_timeout",
                lambda track: track.escalation_timeout,
                lambda track: LocalTrackEscalate(
                    track_name=track.id, kind=track.track_kind, warning="recording-media-lost")),
        ),
        StateSpec("warning_escalated",
                  "The warning outlasted its timeout: reconnect, or alert the user."),
        StateSpec("backgrounded",
                  "The app is in the background: the camera track is stopped and unpublished."),
        StateSpec("unpublished",
                  "Not published (the application unpublished it, or the server refused its "
                  "publication); the track is kept."),
        StateSpec("stopped", "Stopped for good.", terminal=True),
    ),
    transitions=(
        TransitionSpec("publish", ("created", "unpublished"), "publishing", Role.ACTION),
        TransitionSpec("published", ("publishing",), "published"),
        TransitionSpec("publish_failed", ("publishing",), "unpublished", Role.FAILURE,
                       errors=_PUBLISH_REFUSALS,
                       doc="The server refused the publication: too many tracks (53203), a "
                           "duplicate name (53304), ..."),
        TransitionSpec("disable", ("published",), "disabled", Role.ACTION),
        TransitionSpec("enable", ("disabled",), "published", Role.ACTION),
        TransitionSpec("restart", ("published", "disabled", "warning", "warning_escalated"), None,
                       Role.ACTION, guard=_HAS_SOURCE,
                       sample={"facing_mode": "environment"},
                       doc="Restart the source with new constraints, staying published."),
        TransitionSpec("warning", ("published",), "warning", Role.WARNING,
                       guard=_WARNING_REQUESTED, errors=(_MEDIA_LOST,)),
        TransitionSpec("warnings_cleared", ("warning", "warning_escalated"), "published",
                       Role.CLEARED),
        TransitionSpec("escalate", ("warning",), "warning_escalated", Role.ESCALATION,
                       errors=(_MEDIA_LOST,),
                       doc="The warning was not cleared in time (fired by the clock)."),
        TransitionSpec("background", ("publishing", *_ON_AIR), "backgrounded", Role.ACTION,
                       guard=_IS_CAMERA, doc="Stop and unpublish the camera track."),
        TransitionSpec("foreground", ("backgrounded",), "publishing", Role.ACTION,
                       doc="Create and publish a new camera track."),
        TransitionSpec("unpublish", ("publishing", *_ON_AIR), "unpublished", Role.ACTION),
        TransitionSpec("stop", _ALIVE, "stopped", Role.ACTION),
        TransitionSpec("room_lost", _ALIVE, "stopped", Role.FAILURE, errors=LOST_ROOM_ERRORS,
                       doc="The Room was lost: the track is stopped with it, carrying the "
                           "Room's error."),
    ),
    events={
        "publish": LocalTrackPublish,
        "published": LocalTrackPublished,
        "publish_failed": LocalTrackPublishFailed,
        "disable": LocalTrackDisable,
        "enable": LocalTrackEnable,
        "restart": LocalTrackRestart,
        "warning": LocalTrackWarning,
        "warnings_cleared": LocalTrackWarningsCleared,
        "escalate": LocalTrackEscalate,
        "background": LocalTrackBackground,
        "foreground": LocalTrackForeground,
        "unpublish": LocalTrackUnpublish,
        "stop": LocalTrackStop,
        "room_lost": LocalTrackRoomLost,
    },
)


_NO_WARNINGS: frozenset[WarningName] = frozenset()
_warning_sets: dict[frozenset[WarningName], frozenset[WarningName]] = {_NO_WARNINGS: _NO_WARNINGS}


def _shared_warning_set(warnings: Iterable[WarningName]) -> frozenset[WarningName]:
    """One frozenset object per distinct set of warnings (there are only so many)."""
    if type(warnings) is frozenset:
        shared = _warning_sets.get(warnings)
        if shared is not None:
            return shared
    else:
        warnings = frozenset(warnings)
    return _warning_sets.setdefault(warnings, warnings)


class LocalTrackPublicationMachine(LifecycleMachine):
    """One local track's publication, named by the track name.

    Attributes:
        track_kind: audio, video or data.
        notify_warnings: the warnings the application asked for; others are rejected.
        escalation_timeout: seconds a warning may last before ``escalate`` fires.
    """

    __slots__ = ("escalation_timeout", "notify_warnings", "track_kind")
    spec: ClassVar[MachineSpec] = LOCAL_TRACK_SPEC

    def __init__(self, name: str, kind: TrackKind, *,
                 notify_warnings: Iterable[WarningName] = _NO_WARNINGS,
                 escalation_timeout: float = 5.0) -> None:
        super().__init__(name)
        self.track_kind: TrackKind = kind
        # Most tracks of a process share a handful of warning sets: a set of their own each
        # would be most of a machine's memory.
        self.notify_warnings = _shared_warning_set(notify_warnings)
        self.escalation_timeout = escalation_timeout

    @classmethod
    def for_options(cls, name: str, kind: TrackKind,
                    options: ConnectOptions) -> LocalTrackPublicationMachine:
        """A machine using ``options.notify_warnings`` and its escalation timeout."""
        return cls(name, kind, notify_warnings=options.notify_warnings,
                   escalation_timeout=options.warning_escalation_timeout)

    def event_fields(self) -> dict[str, object]:
        return {"track_name": self.id, "kind": self.track_kind}
