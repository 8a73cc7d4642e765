"""The names of every machine's states and triggers, as types.

``StateChange.dest == "reconecting"`` or ``room.wait_for("room", "reconecting")`` is then a
type error (mypy's strict equality), not a comparison that is silently never true. A test keeps
these literals equal to the specs in :mod:`rtcstate.statemachines`.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

__all__ = [
    "AnyState",
    "AnyTrigger",
    "DeviceState",
    "DeviceTrigger",
    "LocalTrackState",
    "LocalTrackTrigger",
    "ParticipantState",
    "ParticipantTrigger",
    "RemoteTrackState",
    "RemoteTrackTrigger",
    "RoomState",
    "RoomTrigger",
]

RoomState: TypeAlias = Literal["idle", "connecting", "waiting_to_retry", "connected",
                               "reconnecting", "disconnected"]
ParticipantState: TypeAlias = Literal["connected", "reconnecting", "disconnected"]
LocalTrackState: TypeAlias = Literal["created", "publishing", "published", "disabled", "warning",
                                     "warning_escalated", "backgrounded", "unpublished",
                                     "stopped"]
RemoteTrackState: TypeAlias = Literal["published", "subscribed", "switched_off", "unsubscribed",
                                      "subscription_failed", "unpublished"]
DeviceState: TypeAlias = Literal["unknown", "requesting", "granted", "denied", "not_found",
                                 "not_readable", "overconstrained", "insecure_context",
                                 "testing", "ok", "silent", "no_frames", "preempted",
                                 "released"]
AnyState: TypeAlias = (RoomState | ParticipantState | LocalTrackState | RemoteTrackState
                       | DeviceState)
"""A state of any machine."""

RoomTrigger: TypeAlias = Literal["connect", "connect_failed", "connected", "disconnect",
                                 "disconnected", "reconnected", "reconnecting", "retry"]
ParticipantTrigger: TypeAlias = Literal["connected", "disconnected", "reconnected",
                                        "reconnecting", "room_lost"]
LocalTrackTrigger: TypeAlias = Literal["background", "disable", "enable", "escalate",
                                       "foreground", "publish", "publish_failed", "published",
                                       "restart", "room_lost", "stop", "unpublish", "warning",
                                       "warnings_cleared"]
RemoteTrackTrigger: TypeAlias = Literal["published", "room_lost", "subscribed",
                                        "subscription_failed", "switched_off", "switched_on",
                                        "unpublished", "unsubscribed"]
DeviceTrigger: TypeAlias = Literal["acquire_failed", "camera_taken_by_new_track",
                                   "fall_back_to_default", "frames_measured", "granted",
                                   "level_measured", "muted_by_new_capture", "release",
                                   "request", "test"]
AnyTrigger: TypeAlias = (RoomTrigger | ParticipantTrigger | LocalTrackTrigger
                         | RemoteTrackTrigger | DeviceTrigger)
"""A trigger of any machine."""
