"""Events that drive a Room machine (the local client's connection to one Room)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field

from rtcstate.catalog import CatalogEntry
from rtcstate.models.base import ErrorRef, Event, Name, Text, _error_ref

__all__ = [
    "ReportsCode",
    "StrictCode",
    "ConnectErrorCode",
    "DisconnectErrorCode",
    "ReconnectErrorCode",
    "RoomLostEvent",
    "RoomConnect",
    "RoomConnectFailed",
    "RoomConnected",
    "RoomDisconnect",
    "RoomDisconnected",
    "RoomEvent",
    "RoomReconnected",
    "RoomReconnecting",
    "RoomRetry",
]

def _exactly_an_int(value: object) -> object:
    """Codes are integers, not floats or strings that look like one (``53001.0``, ``"53001"``),
    and not booleans: the literal check alone compares with ``==``."""
    if type(value) is not int:
        raise ValueError(f"a code is an integer, not {type(value).__name__}")
    return value


StrictCode = BeforeValidator(_exactly_an_int)
"""Makes a literal of codes take integers only (``Annotated[Literal[...], StrictCode]``)."""

ConnectErrorCode = Literal[
    20101, 20102, 20103, 20104, 20105, 20106, 20107,
    53000, 53005, 53006,
    53100, 53101, 53102, 53103, 53104, 53105, 53106, 53119, 53124,
    53200, 53201, 53202, 53206,
    53400, 53401, 53402, 53403, 53404, 53405, 53407,
    53500, 53501,
]
"""Every code of the catalog's phase "connect": what a failed join reports (a test keeps the
two in step)."""
ReconnectErrorCode = Literal[53001, 53405]
"""What interrupts a joined Room: signaling (53001) or media (53405)."""
DisconnectErrorCode = Literal[53001, 53002, 53003, 53004, 53118, 53205, 53216, 53405, 53407,
                              53408]
"""Every code of the catalog's phase "disconnect": what a lost Room reports."""


class RoomEvent(Event):
    """Base of Room events; ``room_name`` names the machine instance."""

    target_field: ClassVar[str] = "room_name"

    room_name: Name
    room_sid: Name | None = Field(default=None, description="the server's id, once known")


class ReportsCode(Event):
    """Base of events that report their error by catalog code, in an ``error_code`` field
    (which may be optional: no code, no error reported)."""

    @classmethod
    def error_fields(cls, entry: CatalogEntry) -> dict[str, object]:
        return {"error_code": entry.code}

    def error_ref(self) -> ErrorRef | None:
        code = getattr(self, "error_code", None)
        return None if code is None else _error_ref(code, None, None)


class _CarriesCode(RoomEvent, ReportsCode):
    pass


class RoomConnect(RoomEvent):
    """The application asks to join the Room."""

    type: Literal["room.connect"] = "room.connect"
    identity: Name


class RoomConnected(RoomEvent):
    """The Room was joined."""

    type: Literal["room.connected"] = "room.connected"
    participant_sid: Name | None = None


class RoomConnectFailed(_CarriesCode):
    """Joining failed with a connection error (any code of the catalog's phase "connect")."""

    type: Literal["room.connect_failed"] = "room.connect_failed"
    error_code: Annotated[ConnectErrorCode, StrictCode]
    message: Text | None = None


class RoomRetry(RoomEvent):
    """The retry back-off elapsed: try to join again (fired by the clock)."""

    type: Literal["room.retry"] = "room.retry"
    attempt: int = Field(ge=2, description="the attempt about to start, counting the first as 1")


class RoomReconnecting(_CarriesCode):
    """Signaling (53001) or media (53405) was interrupted; the client is reconnecting."""

    type: Literal["room.reconnecting"] = "room.reconnecting"
    error_code: Annotated[ReconnectErrorCode, StrictCode]


class RoomReconnected(RoomEvent):
    """The interrupted connection was restored."""

    type: Literal["room.reconnected"] = "room.reconnected"


class RoomDisconnected(_CarriesCode):
    """The client was disconnected by the server or the network, with its error (any code of
    the catalog's phase "disconnect")."""

    type: Literal["room.disconnected"] = "room.disconnected"
    error_code: Annotated[DisconnectErrorCode, StrictCode]
    message: Text | None = None


class RoomLostEvent(ReportsCode):
    """Base of the ``room_lost`` events of the room's other machines: the Room they belong to
    was lost with ``error_code``, so they end with it. The Room sends them, in one step with its
    own ``disconnected`` change."""

    error_code: Annotated[DisconnectErrorCode, StrictCode]


class RoomDisconnect(RoomEvent):
    """The application leaves the Room (also on page hide or unload, as the guide advises)."""

    type: Literal["room.disconnect"] = "room.disconnect"
