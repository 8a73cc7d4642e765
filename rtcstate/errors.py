"""Every exception rtcstate raises, under one root.

Build-time errors (a machine spec or the catalog is inconsistent: a bug in rtcstate or in a
user's own spec) are kept apart from runtime errors (bad input, an event the current state does
not allow, or an error from the catalog raised to the application)::

    RtcStateError
    ├── SpecError                       build time: a spec or the catalog is inconsistent
    └── RtcRuntimeError                 run time
        ├── InvalidEvent                input failed validation (wraps pydantic's ValidationError)
        ├── InvalidTransition           the event is not allowed in the machine's current state
        │   ├── GuardRejected           ... a transition exists, but its guard said no
        │   └── RoomEnded               ... a local action on a Room that is no longer live
        ├── UnknownMachine              no machine is registered for the event's target
        ├── UnknownCatalogEntry         a catalog lookup matched nothing (also a LookupError)
        ├── TransportError              a transport failed in a way the catalog does not name
        │   └── AccessTokenError        the room server refused the access token
        └── CatalogError                an error from the catalog; ``entry`` says which
            ├── ConnectError            phase "connect": joining the Room failed
            │   ├── SignalingConnectionError              53000
            │   ├── SignalingServerBusyError              53006
            │   ├── RoomMaxParticipantsExceededError      53105
            │   ├── RoomNotFoundError                     53106
            │   └── MediaConnectionError                  53405 (also a DisconnectError)
            ├── DisconnectError         phase "disconnect": the Room was lost
            │   ├── SignalingConnectionDisconnectedError  53001
            │   ├── SignalingConnectionTimeoutError       53002
            │   ├── ParticipantDuplicateIdentityError     53205
            │   └── MediaConnectionError                  53405
            ├── MediaError              phase "media": acquiring a device failed
            │   ├── MediaNotFoundError          NotFoundError
            │   ├── MediaNotAllowedError        NotAllowedError
            │   ├── MediaInsecureContextError   TypeError (the browser's name for it)
            │   ├── MediaNotReadableError       NotReadableError
            │   └── MediaOverconstrainedError   OverconstrainedError
            ├── MediaWarningError       phase "warning": an escalated media warning
            └── PreflightError          phase "preflight": a device test failed
                ├── MicrophoneSilentError   MicrophoneSilent
                └── CameraNoFramesError     CameraNoFrames

``error_for(entry)`` builds the right exception for any catalog entry, so code holding a
``StateChange.error`` can ``raise error_for(change.error)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pydantic import ValidationError

    from rtcstate.catalog import CatalogEntry

__all__ = [
    "AccessTokenError",
    "CameraNoFramesError",
    "CatalogError",
    "ConnectError",
    "DisconnectError",
    "GuardRejected",
    "InvalidEvent",
    "InvalidTransition",
    "MediaConnectionError",
    "MediaError",
    "MediaInsecureContextError",
    "MediaNotAllowedError",
    "MediaNotFoundError",
    "MediaNotReadableError",
    "MediaOverconstrainedError",
    "MediaWarningError",
    "MicrophoneSilentError",
    "ParticipantDuplicateIdentityError",
    "PreflightError",
    "RoomEnded",
    "RoomMaxParticipantsExceededError",
    "RoomNotFoundError",
    "RtcRuntimeError",
    "RtcStateError",
    "SignalingConnectionDisconnectedError",
    "SignalingConnectionError",
    "SignalingConnectionTimeoutError",
    "SignalingServerBusyError",
    "SpecError",
    "TransportError",
    "UnknownCatalogEntry",
    "UnknownMachine",
    "error_for",
]


class RtcStateError(Exception):
    """Root of every exception rtcstate raises."""


class SpecError(RtcStateError):
    """A machine spec or the error catalog is inconsistent (raised while building, not running).

    Attributes:
        machine: the machine kind whose spec is at fault, or ``None`` for the catalog.
        problems: each inconsistency found, one sentence each.
    """

    def __init__(self, machine: str | None, problems: Sequence[str]) -> None:
        self.machine = machine
        self.problems = tuple(problems)
        where = f"spec of machine {machine!r}" if machine else "error catalog"
        super().__init__(f"{where} is inconsistent: " + "; ".join(self.problems))


class RtcRuntimeError(RtcStateError):
    """Base of the errors raised while machines run."""


class InvalidEvent(RtcRuntimeError, ValueError):
    """Input that is not a valid event: unknown type, missing, wrong or extra field.

    Attributes:
        fields: dotted paths of the offending fields (``"type"`` for an unknown type).
        errors: pydantic's error dicts, for programs that want every detail.
        raw: the input that was rejected.

    The original :class:`pydantic.ValidationError` is chained as ``__cause__``.
    """

    def __init__(self, message: str, *, fields: Sequence[str] = (), errors: Sequence[object] = (),
                 raw: object = None) -> None:
        self.fields = tuple(fields)
        self.errors = tuple(errors)
        self.raw = raw
        super().__init__(message)

    @classmethod
    def from_validation_error(cls, exc: ValidationError, raw: object) -> InvalidEvent:
        """Summarise a pydantic ``ValidationError``, naming each offending field."""
        details = exc.errors(include_url=False, include_input=False)
        fields = [".".join(str(part) for part in err["loc"]) or "<root>" for err in details]
        parts = [f"{field}: {err['msg']}" for field, err in zip(fields, details, strict=True)]
        return cls("invalid event: " + "; ".join(parts), fields=fields, errors=details, raw=raw)


class InvalidTransition(RtcRuntimeError):
    """An event that the machine's current state does not allow; the state is unchanged.

    Attributes:
        machine: the machine kind (``"room"``, ``"local_track"``, ...).
        instance: the instance id.
        state: the state the machine was (and still is) in.
        event: the event's trigger name.
        reason: why, in one sentence.
    """

    def __init__(self, machine: str, instance: str, state: str, event: str,
                 reason: str | None = None) -> None:
        self.machine = machine
        self.instance = instance
        self.state = state
        self.event = event
        self.reason = reason or f"no transition for {event!r} from state {state!r}"
        super().__init__(f"{machine} {instance!r} in state {state!r} cannot take event "
                         f"{event!r}: {self.reason}")


class GuardRejected(InvalidTransition):
    """A transition exists for the event, but none of its guards (or carried errors) accepted it.

    Attributes:
        guards: the names of the guards that said no.
    """

    def __init__(self, machine: str, instance: str, state: str, event: str,
                 guards: Sequence[str]) -> None:
        self.guards = tuple(guards)
        super().__init__(machine, instance, state, event,
                         "rejected by " + ", ".join(self.guards))


class RoomEnded(InvalidTransition):
    """A local action (publish, unpublish, restart, ...) on a Room that is no longer live: it
    was left or lost. Nothing was changed or sent.

    Attributes:
        error: the catalog entry the Room was lost with, or ``None`` if the application left.
    """

    def __init__(self, room: str, state: str, action: str, error: CatalogEntry | None) -> None:
        self.error = error
        how = f"it was lost with {error.label}" if error else "the application left it"
        super().__init__("room", room, state, action, f"the room is no longer live ({how})")


class UnknownMachine(RtcRuntimeError, LookupError):
    """No machine is registered for an event's target.

    Attributes:
        machine: the machine kind the event is for.
        instance: the instance id it names.
    """

    def __init__(self, machine: str, instance: str) -> None:
        self.machine = machine
        self.instance = instance
        super().__init__(f"no {machine} machine with id {instance!r} is registered")


class UnknownCatalogEntry(RtcRuntimeError, LookupError):
    """A catalog lookup (by id, code, name or browser message) matched no entry.

    Attributes:
        query: what was looked up.
    """

    def __init__(self, query: object, hint: str = "") -> None:
        self.query = query
        super().__init__(f"no catalog entry matches {query!r}" + (f"; {hint}" if hint else ""))


class TransportError(RtcRuntimeError):
    """A transport failed in a way the guide's catalog does not name (a backend error,
    converted at the adapter's boundary; the original is ``__cause__``).

    Attributes:
        backend: which adapter raised it (``"aiortc"``, ...).
    """

    def __init__(self, message: str, *, backend: str) -> None:
        super().__init__(message)
        self.backend = backend


class AccessTokenError(TransportError):
    """The room server refused the access token; joining again with it cannot succeed.

    Attributes:
        reason: ``"malformed"``, ``"bad_signature"``, ``"expired"``, ``"wrong_room"`` or
            ``"missing_grant"``.
    """

    def __init__(self, reason: str, detail: str, *, backend: str = "token") -> None:
        super().__init__(f"access token refused ({reason}): {detail}", backend=backend)
        self.reason = reason
        self.detail = detail


class CatalogError(RtcRuntimeError):
    """An error described by the catalog, raised to the application.

    Attributes:
        entry: the catalog entry (code, name, phase, cause, solution, retryable).
        code: shortcut for ``entry.code`` (``None`` for media errors).
        detail: the message the transport or browser gave, if any.
    """

    catalog_name: ClassVar[str] = ""

    def __init__(self, entry: CatalogEntry, detail: str | None = None) -> None:
        self.entry = entry
        self.code = entry.code
        self.detail = detail
        label = f"{entry.code} {entry.name}" if entry.code is not None else entry.name
        text = f"{label}: {entry.cause}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)

    @property
    def solution(self) -> str:
        """The guide's recommended solution for this error."""
        return self.entry.solution


class ConnectError(CatalogError):
    """Joining the Room failed (the guide's connection errors)."""


class DisconnectError(CatalogError):
    """The client was inadvertently disconnected (the guide's disconnection errors)."""


class MediaError(CatalogError):
    """Acquiring the camera or microphone failed (the guide's media errors)."""


class MediaWarningError(CatalogError):
    """A media warning was not cleared within the escalation timeout."""


class PreflightError(CatalogError):
    """A device test before joining found a problem."""


class SignalingConnectionError(ConnectError):
    """53000: the signaling server could not be reached."""

    catalog_name = "SignalingConnectionError"


class SignalingServerBusyError(ConnectError):
    """53006: the signaling server is too busy to accept new clients."""

    catalog_name = "SignalingServerBusyError"


class RoomMaxParticipantsExceededError(ConnectError):
    """53105: the Room is full."""

    catalog_name = "RoomMaxParticipantsExceededError"


class RoomNotFoundError(ConnectError):
    """53106: the Room does not exist (and ad-hoc creation is disabled)."""

    catalog_name = "RoomNotFoundError"


class MediaConnectionError(ConnectError, DisconnectError):
    """53405: the media connection could not be (re-)established."""

    catalog_name = "MediaConnectionError"


class SignalingConnectionDisconnectedError(DisconnectError):
    """53001: reconnecting to the signaling server failed."""

    catalog_name = "SignalingConnectionDisconnectedError"


class SignalingConnectionTimeoutError(DisconnectError):
    """53002: liveliness checks failed or the session expired."""

    catalog_name = "SignalingConnectionTimeoutError"


class ParticipantDuplicateIdentityError(DisconnectError):
    """53205: another client joined with the same identity."""

    catalog_name = "ParticipantDuplicateIdentityError"


class MediaNotFoundError(MediaError):
    """NotFoundError: no such device, or it is disabled in the system settings."""

    catalog_name = "NotFoundError"


class MediaNotAllowedError(MediaError):
    """NotAllowedError: the user denied or dismissed the permission prompt."""

    catalog_name = "NotAllowedError"


class MediaInsecureContextError(MediaError):
    """TypeError: getUserMedia is unavailable because the page is not a secure context."""

    catalog_name = "TypeError"


class MediaNotReadableError(MediaError):
    """NotReadableError: another app or tab has reserved the device."""

    catalog_name = "NotReadableError"


class MediaOverconstrainedError(MediaError):
    """OverconstrainedError: the device cannot satisfy the requested constraints."""

    catalog_name = "OverconstrainedError"


class MicrophoneSilentError(PreflightError):
    """The microphone test measured level 0 while the user talked."""

    catalog_name = "MicrophoneSilent"


class CameraNoFramesError(PreflightError):
    """The camera test received no frames."""

    catalog_name = "CameraNoFrames"


@cache
def _named_classes() -> dict[str, type[CatalogError]]:
    found: dict[str, type[CatalogError]] = {}
    pending: list[type[CatalogError]] = [CatalogError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.catalog_name:
            found[cls.catalog_name] = cls
    return found


_PHASE_CLASSES: dict[str, type[CatalogError]] = {
    "connect": ConnectError,
    "disconnect": DisconnectError,
    "media": MediaError,
    "warning": MediaWarningError,
    "preflight": PreflightError,
}


def error_for(entry: CatalogEntry, detail: str | None = None) -> CatalogError:
    """Return the exception for a catalog entry: its named class, else its phase's class."""
    cls = _named_classes().get(entry.name) or _PHASE_CLASSES[entry.phase]
    return cls(entry, detail)
