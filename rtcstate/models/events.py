"""The union of every event, and parsing of raw input into validated events."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeAlias, cast

from pydantic import Field, TypeAdapter, ValidationError

from rtcstate.errors import InvalidEvent, shorten
from rtcstate.models.base import Event
from rtcstate.models.device import (
    DeviceAcquireFailed,
    DeviceCameraTakenByNewTrack,
    DeviceFallBackToDefault,
    DeviceFramesMeasured,
    DeviceGranted,
    DeviceLevelMeasured,
    DeviceMutedByNewCapture,
    DeviceRelease,
    DeviceRequest,
    DeviceTest,
)
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
from rtcstate.models.participant import (
    ParticipantConnected,
    ParticipantDisconnected,
    ParticipantReconnected,
    ParticipantReconnecting,
    ParticipantRoomLost,
)
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
from rtcstate.models.room import (
    RoomConnect,
    RoomConnected,
    RoomConnectFailed,
    RoomDisconnect,
    RoomDisconnected,
    RoomReconnected,
    RoomReconnecting,
    RoomRetry,
)

__all__ = ["EVENT_TYPES", "AnyEvent", "event_adapter", "parse_event"]

AnyEvent: TypeAlias = Annotated[
    RoomConnect
    | RoomConnected
    | RoomConnectFailed
    | RoomRetry
    | RoomReconnecting
    | RoomReconnected
    | RoomDisconnected
    | RoomDisconnect
    | ParticipantConnected
    | ParticipantReconnecting
    | ParticipantReconnected
    | ParticipantDisconnected
    | ParticipantRoomLost
    | LocalTrackPublish
    | LocalTrackPublished
    | LocalTrackPublishFailed
    | LocalTrackEnable
    | LocalTrackDisable
    | LocalTrackRestart
    | LocalTrackWarning
    | LocalTrackWarningsCleared
    | LocalTrackEscalate
    | LocalTrackBackground
    | LocalTrackForeground
    | LocalTrackUnpublish
    | LocalTrackStop
    | LocalTrackRoomLost
    | RemoteTrackPublished
    | RemoteTrackSubscribed
    | RemoteTrackSubscriptionFailed
    | RemoteTrackUnsubscribed
    | RemoteTrackSwitchedOff
    | RemoteTrackSwitchedOn
    | RemoteTrackUnpublished
    | RemoteTrackRoomLost
    | DeviceRequest
    | DeviceGranted
    | DeviceAcquireFailed
    | DeviceFallBackToDefault
    | DeviceTest
    | DeviceLevelMeasured
    | DeviceFramesMeasured
    | DeviceMutedByNewCapture
    | DeviceCameraTakenByNewTrack
    | DeviceRelease,
    Field(discriminator="type"),
]
"""Any event rtcstate knows, discriminated by its ``type``."""

event_adapter: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
"""Validates raw dicts (``validate_python``) or JSON (``validate_json``) into :data:`AnyEvent`."""


# The core validator itself: TypeAdapter's Python wrapper costs a few tenths of a microsecond
# per event on the hot path.
_validator = event_adapter.validator


def _collect_types() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    pending: list[type[Event]] = [Event]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.trigger:
            found[f"{cls.machine}.{cls.trigger}"] = cls
    return dict(sorted(found.items()))


EVENT_TYPES: Mapping[str, type[Event]] = _collect_types()
"""Every event type string mapped to its model class."""

# One model's own validator, found by the ``type`` string, skips the union's discriminator
# dispatch (about a quarter of a microsecond per event). Anything it refuses is validated again
# through the union, so errors read the same whichever path found them.
_VALIDATE_BY_TYPE: dict[object, Callable[[object], Any]] = {
    name: cls.__pydantic_validator__.validate_python for name, cls in EVENT_TYPES.items()}


def parse_event(raw: object) -> Event:
    """Validate raw input into an event model.

    Accepts a dict (or other mapping), a JSON document as ``str``, ``bytes``, ``bytearray`` or
    ``memoryview``, or an event that is already a model of a known type (returned unchanged;
    one made with ``model_construct`` and missing fields is validated like a dict). Input of any
    other shape is refused the same way.

    Raises:
        InvalidEvent: the input is not a valid event; ``fields`` names what is wrong. Nothing
            else, whatever the input.
    """
    if type(raw) is dict:  # the common case first, in this frame: a call less per event
        kind = raw.get("type")
        if type(kind) is str:
            validate = _VALIDATE_BY_TYPE.get(kind)
            if validate is not None:
                try:
                    event: Event = validate(raw)  # not cast(): that is a call per event
                    return event
                except ValidationError:
                    pass  # reported by _parse, through the union
                except Exception:  # a value that breaks its validator: reported below
                    pass
    try:
        return _parse(raw)
    except InvalidEvent:
        raise
    except Exception as exc:  # an input that breaks even the reading of it
        raise InvalidEvent(f"invalid event: it cannot be read ({type(exc).__name__}: "
                           f"{shorten(str(exc))})", raw=raw) from exc


def _parse(raw: object) -> Event:
    if type(raw) is dict:
        try:
            return cast(Event, _validator.validate_python(raw))
        except ValidationError as exc:
            raise _invalid_event(exc, raw) from exc
    if isinstance(raw, Event):
        if _complete(raw):
            return raw
        raw = raw.model_dump()  # made without validation (model_construct): validate it now
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    try:
        if isinstance(raw, str | bytes):
            return cast(Event, _validator.validate_json(raw))
        return cast(Event, _validator.validate_python(raw))
    except ValidationError as exc:
        raise _invalid_event(exc, raw) from exc


def _complete(event: Event) -> bool:
    """Whether ``event`` is of a known type and has every required field set."""
    cls = type(event)
    if EVENT_TYPES.get(event.type) is not cls:
        return False
    required = _REQUIRED.get(cls)
    if required is None:
        required = _REQUIRED[cls] = frozenset(
            name for name, info in cls.model_fields.items() if info.is_required())
    return required <= event.model_fields_set


_REQUIRED: dict[type[Event], frozenset[str]] = {}
_LONGEST_TYPE = max(len(name) for name in EVENT_TYPES)


def _invalid_event(exc: ValidationError, raw: object) -> InvalidEvent:
    """An InvalidEvent that names the field; a bad ``type`` gets a short, helpful message."""
    details = exc.errors(include_url=False, include_input=False)
    kind = details[0]["type"] if len(details) == 1 else None
    if kind == "union_tag_not_found":
        return InvalidEvent("invalid event: type: missing (every event has one, such as "
                            "'room.connect')", fields=("type",), errors=details, raw=raw)
    if kind == "union_tag_invalid":
        tag = str(details[0].get("ctx", {}).get("tag"))
        # No event type is longer than this: a longer tag is not worth the search.
        close = (difflib.get_close_matches(tag, EVENT_TYPES, n=1)
                 if len(tag) <= _LONGEST_TYPE + 8 else [])
        hint = f"; did you mean {close[0]!r}?" if close else "; see rtcstate.models.EVENT_TYPES"
        return InvalidEvent(f"invalid event: type: unknown event type {shorten(repr(tag))}"
                            f"{hint}", fields=("type",), errors=details, raw=raw)
    return InvalidEvent.from_validation_error(exc, raw)
