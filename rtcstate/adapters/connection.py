"""From a transport's three connections to the Room's events.

A real-time client has three connections to watch, as the SDK the guide comes from does:
signaling (connected, reconnecting, or ended by the server), the media connection (ICE:
``RTCIceConnectionState``) and the peer connection (``RTCPeerConnectionState``, which also
fails when DTLS does). :func:`next_condition` decides the Room's condition from them, by the
rules of that SDK's own unit tests; :class:`ConnectionMonitor` keeps the condition for a
transport and turns each change into the Room event that says so. The rules, in order:

=====================================  ===============================================
inputs                                 the Room
=====================================  ===============================================
already disconnected                   stays disconnected
signaling ended                        disconnected, with the reconnect's error if it was
                                       reconnecting, else with the code it ended with
signaling reconnecting                 reconnecting, 53001 (a reconnect under way keeps
                                       its first cause)
peer connection failed, ICE not failed disconnected, 53407 (DTLS failed)
ICE failed                             reconnecting, 53405 (a reconnect under way keeps
                                       its first cause)
ICE connected or completed, or no      connected
media connection
ICE new, checking, disconnected,       as it was (wait for ICE to decide)
closed
=====================================  ===============================================

Only signaling's state is needed when no media connection exists (``media=None``). A session
that times out while reconnecting is the Room machine's own reconnect window: it disconnects
with the reconnect's error too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rtcstate.models.base import Event
from rtcstate.models.room import RoomDisconnected, RoomReconnected, RoomReconnecting

__all__ = [
    "CONNECTED",
    "DTLS_FAILED",
    "MEDIA_FAILED",
    "MEDIA_PATH_DOWN",
    "SIGNALING_LOST",
    "Condition",
    "ConnectionMonitor",
    "MediaState",
    "PeerConnectionState",
    "SignalingState",
    "combined_media_state",
    "next_condition",
]

SignalingState = Literal["connected", "reconnecting", "ended"]
"""Signaling: joined, lost and being resumed, or ended by the server (or its window)."""

MediaState = Literal["new", "checking", "connected", "completed", "disconnected", "failed",
                     "closed"]
"""The media connection: WebRTC's ``RTCIceConnectionState``."""

PeerConnectionState = Literal["new", "connecting", "connected", "disconnected", "failed",
                              "closed"]
"""The peer connection: WebRTC's ``RTCPeerConnectionState`` (``failed`` when ICE or DTLS is)."""

SIGNALING_LOST = 53001
"""The code of a Room reconnecting because signaling was lost."""
MEDIA_FAILED = 53405
"""The code of a Room reconnecting because its media connection failed."""
DTLS_FAILED = 53407
"""The code of a Room disconnected because the peer connection's DTLS failed."""


@dataclass(frozen=True, slots=True)
class Condition:
    """The Room's condition as the connections tell it: its state and, but for
    ``connected``, the catalog code it carries."""

    state: Literal["connected", "reconnecting", "disconnected"]
    code: int | None = None


CONNECTED = Condition("connected")
"""The Room connected: signaling and media both up."""
MEDIA_PATH_DOWN = Condition("reconnecting", MEDIA_FAILED)
"""The Room reconnecting because its media path failed while signaling lived."""


def next_condition(current: Condition, signaling: SignalingState,
                   media: MediaState | None = None, peer: PeerConnectionState | None = None,
                   *, ended_with: int = SIGNALING_LOST) -> Condition:
    """The Room's condition after the connections are in these states (see the table above).

    ``ended_with`` is the code signaling ended with (53002, 53205, ...), for ``"ended"``.
    """
    if current.state == "disconnected":
        return current
    if signaling == "ended":
        code = current.code if current.state == "reconnecting" else ended_with
        return Condition("disconnected", code)
    if signaling == "reconnecting":
        return current if current.state == "reconnecting" else Condition(
            "reconnecting", SIGNALING_LOST)
    if peer == "failed" and media != "failed":
        return Condition("disconnected", DTLS_FAILED)
    if media == "failed":
        return current if current.state == "reconnecting" else Condition(
            "reconnecting", MEDIA_FAILED)
    if media is None or media in ("connected", "completed"):
        return CONNECTED
    return current


def combined_media_state(states: Iterable[MediaState]) -> MediaState | None:
    """One media state for a transport with several media connections (one per track, say):
    ``failed`` if any has failed, ``connected`` if all are connected or completed, ``None``
    if there are none, else ``checking`` (some are still deciding)."""
    seen = list(states)
    if not seen:
        return None
    if "failed" in seen:
        return "failed"
    if all(state in ("connected", "completed") for state in seen):
        return "connected"
    return "checking"


class ConnectionMonitor:
    """The Room's condition for one transport: :meth:`update` with the connections' states,
    and emit what it returns.

    Args:
        room_name: the Room the events are for.
    """

    def __init__(self, room_name: str) -> None:
        self.room_name = room_name
        self.condition = CONNECTED

    def update(self, signaling: SignalingState, media: MediaState | None = None,
               peer: PeerConnectionState | None = None, *,
               ended_with: int = SIGNALING_LOST, message: str | None = None) -> list[Event]:
        """The Room events that the connections being in these states calls for: none, or
        one ``room.reconnecting``, ``room.reconnected`` or ``room.disconnected`` (with
        ``message``, if given)."""
        before = self.condition
        after = self.condition = next_condition(before, signaling, media, peer,
                                                ended_with=ended_with)
        if after == before:
            return []
        if after.state == "disconnected":
            return [RoomDisconnected(room_name=self.room_name,
                                     error_code=after.code,  # type: ignore[arg-type]
                                     message=message)]
        if after.state == "reconnecting":
            return [RoomReconnecting(room_name=self.room_name,
                                     error_code=after.code)]  # type: ignore[arg-type]
        return [RoomReconnected(room_name=self.room_name)]
