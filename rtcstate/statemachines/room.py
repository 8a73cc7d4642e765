"""The Room lifecycle: joining, retrying, reconnecting, and leaving, with the guide's errors.

A join either succeeds (``connected``), backs off and retries after a retryable connection error
(53000, 53005, 53006, 53500, 53501: the catalog's retryable entries of phase "connect") while
attempts remain, or ends ``disconnected`` carrying the connection error: any code of phase
"connect" (an access token refused, 20101-20107, a bad room name or identity, 53100-53102 and
53200-53202, a full room, 53105, ...). Once in, an interruption moves to ``reconnecting``
carrying its cause (53001 signaling, 53405 media); it ends with ``reconnected``, or
``disconnected`` carrying that cause when the transport gives up or the reconnect window
expires. From ``connected`` the server may end the Room with any other code of phase
"disconnect": the session expired (53002), the participant was replaced (53205), the Room was
completed (53118), ...; a client that was reconnecting hears that verdict when it resumes.
``disconnect`` (the application leaving, e.g. on page hide) reaches ``disconnected`` from every
live state, carrying no error.

The picture is ``diagrams/room.svg``, rendered from :data:`ROOM_SPEC`.
"""

from __future__ import annotations

from typing import ClassVar

from rtcstate import catalog
from rtcstate.models.base import Event
from rtcstate.models.options import ConnectOptions
from rtcstate.models.room import (
    ReconnectErrorCode,
    RoomConnect,
    RoomConnected,
    RoomConnectFailed,
    RoomDisconnect,
    RoomDisconnected,
    RoomReconnected,
    RoomReconnecting,
    RoomRetry,
)
from rtcstate.statemachines.runtime import LifecycleMachine
from rtcstate.statemachines.spec import (
    Effect,
    Guard,
    MachineSpec,
    Role,
    StateSpec,
    Timeout,
    TransitionSpec,
)

__all__ = ["LOST_ROOM_ERRORS", "ROOM_SPEC", "RoomMachine"]


def _connect_entry(code: int) -> catalog.CatalogEntry:
    return next(e for e in catalog.by_code(code) if e.phase == "connect")


def _disconnect_entry(code: int) -> catalog.CatalogEntry:
    return next(e for e in catalog.by_code(code) if e.phase == "disconnect")


_CONNECT_ERRORS = catalog.by_phase("connect")
_RETRYABLE_CONNECT_ERRORS = tuple(e for e in _CONNECT_ERRORS if e.retryable)
_RECONNECT_ERRORS = (_disconnect_entry(53001), _disconnect_entry(53405))
_SERVER_DISCONNECT_ERRORS = tuple(e for e in catalog.by_phase("disconnect")
                                  if e not in _RECONNECT_ERRORS)
LOST_ROOM_ERRORS = catalog.by_phase("disconnect")
"""The errors a joined Room can be lost with (the catalog's phase "disconnect"); the room's
other machines end carrying them."""


def _attempts_remain(room: RoomMachine, _event: Event) -> bool:
    return room.attempt < room.retry.max_attempts


def _count_failure(room: RoomMachine, _event: Event) -> None:
    room.attempt += 1


def _note_cause(room: RoomMachine, event: Event) -> None:
    assert isinstance(event, RoomReconnecting)
    room.reconnect_cause = event.error_code


def _reset_attempts(room: RoomMachine, _event: Event) -> None:
    room.attempt = 1


_ATTEMPTS_REMAIN = Guard("attempts_remain", _attempts_remain,
                         "fewer than retry.max_attempts attempts were made")
_NEXT_ATTEMPT = Effect("next_attempt", _count_failure, "count the failed attempt")
_NOTE_CAUSE = Effect("note_cause", _note_cause,
                     "remember 53001 or 53405: the error if the reconnect window expires")
_RESET_ATTEMPTS = Effect("reset_attempts", _reset_attempts, "a joined room starts counting anew")

_LIVE = ("connecting", "waiting_to_retry", "connected", "reconnecting")

ROOM_SPEC = MachineSpec(
    kind="room",
    title="Room",
    doc="The local client's connection to one Room.",
    initial="idle",
    states=(
        StateSpec("idle", "Not yet asked to join."),
        StateSpec("connecting", "Joining: signaling, then media."),
        StateSpec(
            "waiting_to_retry",
            "A retryable connection error (53000, 53006, ...): waiting out the back-off.",
            timeout=Timeout(
                "retry", "options.retry.delay_before(attempt)",
                lambda room: room.retry.delay_before(room.attempt),
                lambda room: RoomRetry(room_name=room.id, attempt=room.attempt)),
        ),
        StateSpec("connected", "In the Room."),
        StateSpec(
            "reconnecting",
            "Signaling or media was interrupted; the client is trying to restore it.",
            timeout=Timeout(
                "disconnected", "options.reconnect.window",
                lambda room: room.reconnect_window,
                lambda room: RoomDisconnected(room_name=room.id, error_code=room.reconnect_cause,
                                              message="reconnect window expired")),
        ),
        StateSpec("disconnected", "Left the Room, or lost it (the change carries the error).",
                  terminal=True),
    ),
    transitions=(
        TransitionSpec("connect", ("idle",), "connecting", Role.ACTION,
                       doc="The application asks to join."),
        TransitionSpec("connected", ("connecting",), "connected", effect=_RESET_ATTEMPTS),
        TransitionSpec("connect_failed", ("connecting",), "waiting_to_retry", Role.RETRY,
                       guard=_ATTEMPTS_REMAIN, errors=_RETRYABLE_CONNECT_ERRORS,
                       effect=_NEXT_ATTEMPT,
                       doc="A retryable connection error with attempts left: back off, retry."),
        TransitionSpec("connect_failed", ("connecting",), "disconnected", Role.FAILURE,
                       errors=_CONNECT_ERRORS,
                       doc="Any other connection error, or the last attempt failed."),
        TransitionSpec("retry", ("waiting_to_retry",), "connecting", Role.RETRY,
                       doc="The back-off elapsed (fired by the clock)."),
        TransitionSpec("reconnecting", ("connected",), "reconnecting", Role.RECONNECT,
                       errors=_RECONNECT_ERRORS, effect=_NOTE_CAUSE,
                       doc="Signaling (53001) or media (53405) interrupted."),
        TransitionSpec("reconnected", ("reconnecting",), "connected", Role.RECONNECT),
        TransitionSpec("disconnected", ("reconnecting",), "disconnected", Role.FAILURE,
                       errors=LOST_ROOM_ERRORS,
                       doc="Reconnecting failed, or its window expired (fired by the clock), "
                           "or the resuming client heard the server's verdict (53002, 53205)."),
        TransitionSpec("disconnected", ("connected",), "disconnected", Role.FAILURE,
                       errors=_SERVER_DISCONNECT_ERRORS,
                       doc="The server ended the Room: session expired (53002), the identity "
                           "joined again (53205), the Room completed (53118), ..."),
        TransitionSpec("disconnect", _LIVE, "disconnected", Role.ACTION,
                       doc="The application leaves: on page hide or unload, as the guide advises."),
    ),
    events={
        "connect": RoomConnect,
        "connected": RoomConnected,
        "connect_failed": RoomConnectFailed,
        "retry": RoomRetry,
        "reconnecting": RoomReconnecting,
        "reconnected": RoomReconnected,
        "disconnected": RoomDisconnected,
        "disconnect": RoomDisconnect,
    },
)


class RoomMachine(LifecycleMachine):
    """The local client's Room: one instance per joined room, named by the room name.

    Attributes:
        options: the connect options (retry and reconnect policies), as given.
        retry: ``options.retry``; reconnect_window: ``options.reconnect.window``: what the
            guards and timeouts read (a pydantic model's attributes cost a few tenths of a
            microsecond to reach, on every timed state's entry).
        attempt: the current connection attempt, counting the first as 1.
        reconnect_cause: 53001 or 53405 while reconnecting, the error if the window expires.
    """

    __slots__ = ("attempt", "options", "reconnect_cause", "reconnect_window", "retry")
    spec: ClassVar[MachineSpec] = ROOM_SPEC

    def __init__(self, options: ConnectOptions) -> None:
        super().__init__(options.room_name)
        self.options = options
        self.retry = options.retry
        self.reconnect_window = options.reconnect.window
        self.attempt = 1
        self.reconnect_cause: ReconnectErrorCode = 53001

    def event_fields(self) -> dict[str, object]:
        return {"room_name": self.id, "identity": self.options.identity}
