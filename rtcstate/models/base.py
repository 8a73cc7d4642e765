"""The base of every event model, and the small types events share.

An event's ``type`` is ``"<machine>.<trigger>"``: ``"room.reconnecting"`` drives the trigger
``reconnecting`` of a ``room`` machine. Each subclass declares ``type`` as a one-value
``Literal``; the machine kind and trigger are derived from it once, when the class is made.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, NamedTuple, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from rtcstate.catalog import CatalogEntry
from rtcstate.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH

__all__ = [
    "DeviceKind",
    "ErrorRef",
    "Event",
    "Name",
    "Text",
    "FacingMode",
    "MachineKind",
    "TrackKind",
    "WarningName",
]

Name: TypeAlias = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
"""A name or id in an event (room name, identity, track name, sid, device id): 1 to
:data:`~rtcstate.limits.MAX_ID_LENGTH` characters of valid Unicode (no lone surrogates)."""

Text: TypeAlias = Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]
"""A message in an event: up to :data:`~rtcstate.limits.MAX_TEXT_LENGTH` characters of valid
Unicode."""

TrackKind = Literal["audio", "video", "data"]
"""What a track carries."""

DeviceKind = Literal["microphone", "camera"]
"""A capture device kind; one device-permission machine exists per kind."""

FacingMode = Literal["user", "environment"]
"""A camera's facing mode: front (``user``) or back (``environment``)."""

WarningName = Literal["recording-media-lost"]
"""The warnings an application can ask for in ``ConnectOptions.notify_warnings``."""

MachineKind = Literal["room", "participant", "local_track", "remote_track", "device"]
"""The lifecycles rtcstate models."""


def _error_ref(code: int | None, name: str | None, message: str | None) -> ErrorRef:
    """``ErrorRef(code, name, message)`` without the Python frame of a NamedTuple's ``__new__``
    (error reports are made on every error-carrying event)."""
    return tuple.__new__(ErrorRef, (code, name, message))


class ErrorRef(NamedTuple):
    """What an event says about the error it reports: a code, or a name with a raw message."""

    code: int | None = None
    name: str | None = None
    message: str | None = None

    def matches(self, entry: CatalogEntry) -> bool:
        """Whether ``entry`` is the error this reference points at.

        Every part that is given must agree: the code, the name, and the message (which must be
        one the entry lists). Callers that accept an unlisted message fall back to
        ``ref._replace(message=None)``.
        """
        if self.code is not None and entry.code != self.code:
            return False
        if self.name is not None and entry.name != self.name:
            return False
        return self.message is None or entry.lists_message(self.message)


class Event(BaseModel):
    """Base of every event: frozen, strict about extra fields and types, JSON round-trippable.

    Strict types: an integer field takes an integer only (``53001``, not ``53001.0`` or
    ``"53001"``), a float takes a finite number (no ``inf`` or ``NaN``), a string takes valid
    Unicode within its length limit (:data:`Name`, :data:`Text`).

    Class attributes (derived from ``type``):
        machine: the machine kind the event drives.
        trigger: the trigger it fires.
        target_field: the field whose value names the machine instance.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    machine: ClassVar[str] = ""
    trigger: ClassVar[str] = ""
    target_field: ClassVar[str] = ""

    type: str
    at: float | None = Field(
        default=None, ge=0,
        description="when it happened, in seconds on the run's clock; None: stamped on arrival")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        default = cls.model_fields["type"].default
        if isinstance(default, str) and "." in default:
            cls.machine, cls.trigger = default.split(".", 1)

    @property
    def target_id(self) -> str:
        """The id of the machine instance this event is for."""
        return str(getattr(self, self.target_field))

    def error_ref(self) -> ErrorRef | None:
        """The error this event reports, if it reports one."""
        return None

    @classmethod
    def error_fields(cls, entry: CatalogEntry) -> dict[str, object]:
        """The fields that make an event of this type report ``entry`` (empty: reports none)."""
        return {}
