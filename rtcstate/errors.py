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
        └── CatalogError                an error from the catalog; ``entry`` says which
            ├── ConnectError            phase "connect": joining the Room failed
            │   ├── AccessTokenError    20101-20107: the access token was refused
            │   │   └── AccessTokenExpiredError, ...       one class per code
            │   ├── SignalingConnectionError               53000
            │   ├── RoomNotFoundError                      53106
            │   └── ...
            ├── DisconnectError         phase "disconnect": the Room was lost
            │   ├── SignalingConnectionDisconnectedError   53001
            │   ├── RoomCompletedError                     53118
            │   └── ...
            ├── TrackError              phase "track": one track's publication or media failed
            │   ├── ParticipantMaxTracksExceededError      53203
            │   ├── TrackNameIsDuplicatedError             53304
            │   └── ...
            ├── ApiError                phase "api": a REST API request of the hosted service
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

Every coded catalog error has a class of its own, named as the SDKs name it, under the class of
each phase it has an entry in (``MediaConnectionError``, 53405, is a ``ConnectError`` and a
``DisconnectError``). Those classes are generated from ``catalog.toml`` into the end of this
module by ``python -m rtcstate.generate`` (a test checks they are up to date); the list is
``rtcstate errors``.

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
    "ApiError",
    "CameraNoFramesError",
    "CatalogError",
    "ConnectError",
    "DisconnectError",
    "GuardRejected",
    "InvalidEvent",
    "InvalidTransition",
    "MediaError",
    "MediaInsecureContextError",
    "MediaNotAllowedError",
    "MediaNotFoundError",
    "MediaNotReadableError",
    "MediaOverconstrainedError",
    "MediaWarningError",
    "MicrophoneSilentError",
    "PreflightError",
    "RoomEnded",
    "RtcRuntimeError",
    "RtcStateError",
    "SpecError",
    "TrackError",
    "TransportError",
    "UnknownCatalogEntry",
    "UnknownMachine",
    "ECHO_LIMIT",
    "error_class",
    "error_for",
    "shorten",
]


ECHO_LIMIT = 100
"""The most characters of any input an error message repeats (the rest is elided)."""


def shorten(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _echo(value: object) -> str:
    """How an error message repeats an input: its repr, shortened."""
    return shorten(repr(value))


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
        super().__init__(f"{machine} {_echo(instance)} in state {state!r} cannot take event "
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
        super().__init__(f"no {machine} machine with id {_echo(instance)} is registered")


class UnknownCatalogEntry(RtcRuntimeError, LookupError):
    """A catalog lookup (by id, code, name or browser message) matched no entry.

    Attributes:
        query: what was looked up.
    """

    def __init__(self, query: object, hint: str = "") -> None:
        self.query = query
        super().__init__(f"no catalog entry matches {_echo(query)}"
                         + (f"; {hint}" if hint else ""))


class TransportError(RtcRuntimeError):
    """A transport failed in a way the guide's catalog does not name (a backend error,
    converted at the adapter's boundary; the original is ``__cause__``).

    Attributes:
        backend: which adapter raised it (``"aiortc"``, ...).
    """

    def __init__(self, message: str, *, backend: str) -> None:
        super().__init__(message)
        self.backend = backend


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


class TrackError(CatalogError):
    """One track failed: its publication was refused, or its media or data channel failed."""


class ApiError(CatalogError):
    """A request to the hosted service's REST API was refused (never raised to a client; the
    classes exist so that every code can be raised and caught by name)."""


class AccessTokenError(ConnectError):
    """The room server refused the access token (20101-20107): joining again with the same
    token cannot succeed. Each code has its subclass (:class:`AccessTokenExpiredError`, ...).

    Attributes:
        reason: the refusal in one word: ``"malformed"`` (20101), ``"bad_header"`` (20102),
            ``"bad_issuer"`` (20103), ``"expired"`` (20104), ``"not_yet_valid"`` (20105),
            ``"bad_grant"`` (20106) or ``"bad_signature"`` (20107); ``"identity_mismatch"``
            (20103) when a client is given a token for another identity than it joins as.
    """

    REASONS: ClassVar[dict[int, str]] = {
        20101: "malformed", 20102: "bad_header", 20103: "bad_issuer", 20104: "expired",
        20105: "not_yet_valid", 20106: "bad_grant", 20107: "bad_signature"}

    _reason: str | None = None

    @property
    def reason(self) -> str:
        """The refusal in one word (see the class's attributes)."""
        return self._reason or self.REASONS.get(self.code or 0, "invalid")

    @classmethod
    def for_code(cls, code: int, detail: str | None = None, *,
                 reason: str | None = None) -> AccessTokenError:
        """The exception for refusal ``code`` (20101-20107), of its own class.

        Raises:
            ValueError: ``code`` is not an access-token refusal.
        """
        from rtcstate import catalog  # the catalog imports this module

        if code not in cls.REASONS:
            raise ValueError(f"{code} is not an access-token refusal (20101-20107)")
        (entry,) = catalog.by_code(code)
        found = error_for(entry, detail)
        assert isinstance(found, AccessTokenError)
        found._reason = reason
        return found


class MediaWarningError(CatalogError):
    """A media warning was not cleared within the escalation timeout."""


class PreflightError(CatalogError):
    """A device test before joining found a problem."""


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
    "track": TrackError,
    "api": ApiError,
    "media": MediaError,
    "warning": MediaWarningError,
    "preflight": PreflightError,
}


def error_class(entry: CatalogEntry) -> type[CatalogError]:
    """The exception class for a catalog entry: its named class, else its phase's class."""
    return _named_classes().get(entry.name) or _PHASE_CLASSES[entry.phase]


def error_for(entry: CatalogEntry, detail: str | None = None) -> CatalogError:
    """Return the exception for a catalog entry (of :func:`error_class`), with ``detail``."""
    return error_class(entry)(entry, detail)


# --- generated from catalog.toml by `python -m rtcstate.generate`: do not edit below -------


class AccessTokenInvalidError(AccessTokenError):
    """20101: Invalid Access Token."""

    catalog_name = "AccessTokenInvalidError"


class AccessTokenHeaderInvalidError(AccessTokenError):
    """20102: Invalid Access Token header."""

    catalog_name = "AccessTokenHeaderInvalidError"


class AccessTokenIssuerInvalidError(AccessTokenError):
    """20103: Invalid Access Token issuer/subject."""

    catalog_name = "AccessTokenIssuerInvalidError"


class AccessTokenExpiredError(AccessTokenError):
    """20104: Access Token expired or expiration date invalid."""

    catalog_name = "AccessTokenExpiredError"


class AccessTokenNotYetValidError(AccessTokenError):
    """20105: Access Token not yet valid."""

    catalog_name = "AccessTokenNotYetValidError"


class AccessTokenGrantsInvalidError(AccessTokenError):
    """20106: Invalid Access Token grants."""

    catalog_name = "AccessTokenGrantsInvalidError"


class AccessTokenSignatureInvalidError(AccessTokenError):
    """20107: Invalid Access Token signature."""

    catalog_name = "AccessTokenSignatureInvalidError"


class SignalingConnectionError(ConnectError):
    """53000: Signaling connection error."""

    catalog_name = "SignalingConnectionError"


class SignalingConnectionDisconnectedError(DisconnectError):
    """53001: Signaling connection disconnected."""

    catalog_name = "SignalingConnectionDisconnectedError"


class SignalingConnectionTimeoutError(DisconnectError):
    """53002: Signaling connection timed out."""

    catalog_name = "SignalingConnectionTimeoutError"


class SignalingIncomingMessageInvalidError(DisconnectError):
    """53003: Client received an invalid signaling message."""

    catalog_name = "SignalingIncomingMessageInvalidError"


class SignalingOutgoingMessageInvalidError(DisconnectError):
    """53004: Client sent an invalid signaling message."""

    catalog_name = "SignalingOutgoingMessageInvalidError"


class SignalingDnsResolutionError(ConnectError):
    """53005: The signaling server's host name could not be resolved."""

    catalog_name = "SignalingDnsResolutionError"


class SignalingServerBusyError(ConnectError):
    """53006: Video server is busy."""

    catalog_name = "SignalingServerBusyError"


class RoomNameInvalidError(ConnectError):
    """53100: Room name is invalid."""

    catalog_name = "RoomNameInvalidError"


class RoomNameTooLongError(ConnectError):
    """53101: Room name is too long."""

    catalog_name = "RoomNameTooLongError"


class RoomNameCharsInvalidError(ConnectError):
    """53102: Room name contains invalid characters."""

    catalog_name = "RoomNameCharsInvalidError"


class RoomCreateFailedError(ConnectError):
    """53103: Unable to create Room."""

    catalog_name = "RoomCreateFailedError"


class RoomConnectFailedError(ConnectError):
    """53104: Unable to connect to Room."""

    catalog_name = "RoomConnectFailedError"


class RoomMaxParticipantsExceededError(ConnectError):
    """53105: Room contains too many Participants."""

    catalog_name = "RoomMaxParticipantsExceededError"


class RoomNotFoundError(ConnectError):
    """53106: Room not found."""

    catalog_name = "RoomNotFoundError"


class RoomMaxParticipantsOutOfRangeError(ApiError):
    """53107: MaxParticipants is out of range."""

    catalog_name = "RoomMaxParticipantsOutOfRangeError"


class RoomTypeInvalidError(ApiError):
    """53108: RoomType is not valid."""

    catalog_name = "RoomTypeInvalidError"


class RoomTimeoutOutOfRangeError(ApiError):
    """53109: Timeout is out of range."""

    catalog_name = "RoomTimeoutOutOfRangeError"


class RoomStatusCallbackMethodInvalidError(ApiError):
    """53110: StatusCallbackMethod is invalid."""

    catalog_name = "RoomStatusCallbackMethodInvalidError"


class RoomStatusCallbackInvalidError(ApiError):
    """53111: StatusCallback is invalid."""

    catalog_name = "RoomStatusCallbackInvalidError"


class RoomStatusInvalidError(ApiError):
    """53112: Status is invalid."""

    catalog_name = "RoomStatusInvalidError"


class RoomRoomExistsError(ApiError):
    """53113: Room exists."""

    catalog_name = "RoomRoomExistsError"


class RoomInvalidParametersError(ApiError):
    """53114: Room creation parameter(s) incompatible with the Room type."""

    catalog_name = "RoomInvalidParametersError"


class RoomMediaRegionInvalidError(ApiError):
    """53115: MediaRegion is invalid."""

    catalog_name = "RoomMediaRegionInvalidError"


class RoomMediaRegionUnavailableError(ApiError):
    """53116: There are no media servers available in the MediaRegion."""

    catalog_name = "RoomMediaRegionUnavailableError"


class RoomSubscriptionOperationNotSupportedError(ApiError):
    """53117: The subscription operation requested is not supported for the Room type."""

    catalog_name = "RoomSubscriptionOperationNotSupportedError"


class RoomCompletedError(DisconnectError):
    """53118: Room completed."""

    catalog_name = "RoomCompletedError"


class RoomAccountLimitExceededError(ConnectError):
    """53119: The concurrent Rooms quota was exceeded."""

    catalog_name = "RoomAccountLimitExceededError"


class RoomInvalidRecordingRuleError(ApiError):
    """53120: Invalid Recording Rule(s)."""

    catalog_name = "RoomInvalidRecordingRuleError"


class RoomRecordingOperationNotSupportedError(ApiError):
    """53122: The recording operation requested is not supported for the Room type."""

    catalog_name = "RoomRecordingOperationNotSupportedError"


class RoomAudioOnlyFlagNotSupportedError(ConnectError):
    """53124: The AudioOnly flag is not supported for the Room type."""

    catalog_name = "RoomAudioOnlyFlagNotSupportedError"


class TrackTrackKindNotSupportedError(TrackError):
    """53125: The track kind is not supported by the Room."""

    catalog_name = "TrackTrackKindNotSupportedError"


class ParticipantIdentityInvalidError(ConnectError):
    """53200: Participant identity is invalid."""

    catalog_name = "ParticipantIdentityInvalidError"


class ParticipantIdentityTooLongError(ConnectError):
    """53201: Participant identity is too long."""

    catalog_name = "ParticipantIdentityTooLongError"


class ParticipantIdentityCharsInvalidError(ConnectError):
    """53202: Participant identity contains invalid characters."""

    catalog_name = "ParticipantIdentityCharsInvalidError"


class ParticipantMaxTracksExceededError(TrackError):
    """53203: Participant has too many Tracks."""

    catalog_name = "ParticipantMaxTracksExceededError"


class ParticipantNotFoundError(ApiError):
    """53204: Participant not found."""

    catalog_name = "ParticipantNotFoundError"


class ParticipantDuplicateIdentityError(DisconnectError):
    """53205: Participant disconnected because of duplicate identity."""

    catalog_name = "ParticipantDuplicateIdentityError"


class ParticipantAccountLimitExceededError(ConnectError):
    """53206: The Participant concurrency quota was exceeded."""

    catalog_name = "ParticipantAccountLimitExceededError"


class ParticipantMaxPublishedTracksOutOfRangeError(ApiError):
    """53207: MaxPublishedTracks is out of range."""

    catalog_name = "ParticipantMaxPublishedTracksOutOfRangeError"


class ParticipantInvalidSubscribeRuleError(ApiError):
    """53215: Invalid Subscribe Rule(s)."""

    catalog_name = "ParticipantInvalidSubscribeRuleError"


class ParticipantSessionLengthExceededError(DisconnectError):
    """53216: Participant session length exceeded."""

    catalog_name = "ParticipantSessionLengthExceededError"


class TrackInvalidError(TrackError):
    """53300: Track is invalid."""

    catalog_name = "TrackInvalidError"


class TrackNameInvalidError(TrackError):
    """53301: Track name is invalid."""

    catalog_name = "TrackNameInvalidError"


class TrackNameTooLongError(TrackError):
    """53302: Track name is too long."""

    catalog_name = "TrackNameTooLongError"


class TrackNameCharsInvalidError(TrackError):
    """53303: Track name contains invalid characters."""

    catalog_name = "TrackNameCharsInvalidError"


class TrackNameIsDuplicatedError(TrackError):
    """53304: Track name is duplicated."""

    catalog_name = "TrackNameIsDuplicatedError"


class TrackServerTrackCapacityReachedError(TrackError):
    """53305: The server has reached capacity and cannot fulfill this request."""

    catalog_name = "TrackServerTrackCapacityReachedError"


class TrackDataTrackMessageTooLargeError(TrackError):
    """53306: A data track message is larger than the data channel can carry."""

    catalog_name = "TrackDataTrackMessageTooLargeError"


class TrackDataTrackSendBufferFullError(TrackError):
    """53307: The data track's send buffer is full: messages are sent faster than the channel
    drains."""

    catalog_name = "TrackDataTrackSendBufferFullError"


class MediaClientLocalDescFailedError(ConnectError):
    """53400: Client is unable to create or apply a local media description."""

    catalog_name = "MediaClientLocalDescFailedError"


class MediaServerLocalDescFailedError(ConnectError):
    """53401: Server is unable to create or apply a local media description."""

    catalog_name = "MediaServerLocalDescFailedError"


class MediaClientRemoteDescFailedError(ConnectError):
    """53402: Client is unable to apply a remote media description."""

    catalog_name = "MediaClientRemoteDescFailedError"


class MediaServerRemoteDescFailedError(ConnectError):
    """53403: Server is unable to apply a remote media description."""

    catalog_name = "MediaServerRemoteDescFailedError"


class MediaNoSupportedCodecError(ConnectError):
    """53404: No supported codec."""

    catalog_name = "MediaNoSupportedCodecError"


class MediaConnectionError(ConnectError, DisconnectError):
    """53405: Media connection failed or Media activity ceased."""

    catalog_name = "MediaConnectionError"


class MediaDataTrackFailedError(TrackError):
    """53406: The data channel used by the Data Track had a problem."""

    catalog_name = "MediaDataTrackFailedError"


class MediaDTLSTransportFailedError(ConnectError, DisconnectError, TrackError):
    """53407: Media connection failed due to DTLS handshake failure."""

    catalog_name = "MediaDTLSTransportFailedError"


class MediaIceRestartNotAllowedError(DisconnectError):
    """53408: ICE connection restart was attempted, but it is not allowed."""

    catalog_name = "MediaIceRestartNotAllowedError"


class ConfigurationAcquireFailedError(ConnectError):
    """53500: Unable to acquire configuration."""

    catalog_name = "ConfigurationAcquireFailedError"


class ConfigurationAcquireTurnFailedError(ConnectError):
    """53501: Unable to acquire TURN credentials."""

    catalog_name = "ConfigurationAcquireTurnFailedError"


__all__ += [
    "AccessTokenExpiredError",
    "AccessTokenGrantsInvalidError",
    "AccessTokenHeaderInvalidError",
    "AccessTokenInvalidError",
    "AccessTokenIssuerInvalidError",
    "AccessTokenNotYetValidError",
    "AccessTokenSignatureInvalidError",
    "ConfigurationAcquireFailedError",
    "ConfigurationAcquireTurnFailedError",
    "MediaClientLocalDescFailedError",
    "MediaClientRemoteDescFailedError",
    "MediaConnectionError",
    "MediaDTLSTransportFailedError",
    "MediaDataTrackFailedError",
    "MediaIceRestartNotAllowedError",
    "MediaNoSupportedCodecError",
    "MediaServerLocalDescFailedError",
    "MediaServerRemoteDescFailedError",
    "ParticipantAccountLimitExceededError",
    "ParticipantDuplicateIdentityError",
    "ParticipantIdentityCharsInvalidError",
    "ParticipantIdentityInvalidError",
    "ParticipantIdentityTooLongError",
    "ParticipantInvalidSubscribeRuleError",
    "ParticipantMaxPublishedTracksOutOfRangeError",
    "ParticipantMaxTracksExceededError",
    "ParticipantNotFoundError",
    "ParticipantSessionLengthExceededError",
    "RoomAccountLimitExceededError",
    "RoomAudioOnlyFlagNotSupportedError",
    "RoomCompletedError",
    "RoomConnectFailedError",
    "RoomCreateFailedError",
    "RoomInvalidParametersError",
    "RoomInvalidRecordingRuleError",
    "RoomMaxParticipantsExceededError",
    "RoomMaxParticipantsOutOfRangeError",
    "RoomMediaRegionInvalidError",
    "RoomMediaRegionUnavailableError",
    "RoomNameCharsInvalidError",
    "RoomNameInvalidError",
    "RoomNameTooLongError",
    "RoomNotFoundError",
    "RoomRecordingOperationNotSupportedError",
    "RoomRoomExistsError",
    "RoomStatusCallbackInvalidError",
    "RoomStatusCallbackMethodInvalidError",
    "RoomStatusInvalidError",
    "RoomSubscriptionOperationNotSupportedError",
    "RoomTimeoutOutOfRangeError",
    "RoomTypeInvalidError",
    "SignalingConnectionDisconnectedError",
    "SignalingConnectionError",
    "SignalingConnectionTimeoutError",
    "SignalingDnsResolutionError",
    "SignalingIncomingMessageInvalidError",
    "SignalingOutgoingMessageInvalidError",
    "SignalingServerBusyError",
    "TrackDataTrackMessageTooLargeError",
    "TrackDataTrackSendBufferFullError",
    "TrackInvalidError",
    "TrackNameCharsInvalidError",
    "TrackNameInvalidError",
    "TrackNameIsDuplicatedError",
    "TrackNameTooLongError",
    "TrackServerTrackCapacityReachedError",
    "TrackTrackKindNotSupportedError",
]
# --- end of the generated classes ----------------------------------------------------------
