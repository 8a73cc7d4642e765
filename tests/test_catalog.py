"""The error catalog: every row of the guide's tables, found by code, by name and by message."""

from __future__ import annotations

from pathlib import Path

import pytest

import rtcstate
import rtcstate.errors
from rtcstate import catalog
from rtcstate.errors import (
    CatalogError,
    ConnectError,
    DisconnectError,
    MediaConnectionError,
    MediaInsecureContextError,
    MediaNotReadableError,
    RoomNotFoundError,
    UnknownCatalogEntry,
    error_for,
)

# The guide's tables, transcribed independently of catalog.toml: (code, name, phase, retryable).
CONNECTION_ERRORS = [
    (53000, "SignalingConnectionError", True),
    (53006, "SignalingServerBusyError", True),
    (53105, "RoomMaxParticipantsExceededError", False),
    (53106, "RoomNotFoundError", False),
    (53405, "MediaConnectionError", False),
]
DISCONNECTION_ERRORS = [
    (53001, "SignalingConnectionDisconnectedError"),
    (53002, "SignalingConnectionTimeoutError"),
    (53205, "ParticipantDuplicateIdentityError"),
    (53405, "MediaConnectionError"),
]
# Every browser message of the media-error table, with the name and the cause it points to.
MEDIA_MESSAGES = [
    ("Permission denied by system", "NotFoundError", "system settings"),
    ("The object cannot be found here", "NotFoundError", "does not have any such input device"),
    ("Requested device not found", "NotFoundError", "does not have any such input device"),
    ("Permission denied", "NotAllowedError", "clicking the \"deny\" button"),
    ("Permission dismissed", "NotAllowedError", "dismissing the permission dialog"),
    ("The request is not allowed by the user agent or the platform in the current context",
     "NotAllowedError", "clicking the \"deny\" button"),
    ("The request is not allowed by the user agent or the platform in the current context, "
     "possibly because the user denied permission", "NotAllowedError", "clicking the \"deny\""),
    ("Cannot read property 'getUserMedia' of undefined", "TypeError", "non-secure context"),
    ("navigator.mediaDevices is undefined", "TypeError", "non-secure context"),
    ("Failed starting capture of a audio track", "NotReadableError", "reserved the input device"),
    ("Failed starting capture of a video track", "NotReadableError", "reserved the input device"),
    ("Could not start audio source", "NotReadableError", "reserved the input device"),
    ("Could not start video source", "NotReadableError", "reserved the input device"),
    ("The I/O read operation failed", "NotReadableError", "reserved the input device"),
]


@pytest.mark.parametrize(("code", "name", "retryable"), CONNECTION_ERRORS)
def test_connection_error_by_code(code: int, name: str, retryable: bool) -> None:
    entry = next(e for e in catalog.by_code(code) if e.phase == "connect")
    assert (entry.name, entry.retryable) == (name, retryable)
    assert entry.cause
    assert entry.solution


@pytest.mark.parametrize(("code", "name"), DISCONNECTION_ERRORS)
def test_disconnection_error_by_code(code: int, name: str) -> None:
    entry = next(e for e in catalog.by_code(code) if e.phase == "disconnect")
    assert entry.name == name


@pytest.mark.parametrize("name", sorted({n for _, n, _ in CONNECTION_ERRORS}
                                        | {n for _, n in DISCONNECTION_ERRORS}))
def test_coded_error_by_name(name: str) -> None:
    entries = catalog.by_name(name)
    assert entries
    assert all(e.name == name and e.code is not None for e in entries)
    assert catalog.by_name(name.lower()) == entries


def test_53405_has_one_entry_per_phase_with_its_own_cause() -> None:
    connect, disconnect = catalog.by_code(53405)
    assert (connect.phase, disconnect.phase) == ("connect", "disconnect")
    assert "establish a media connection" in connect.cause
    assert "re-establish" in disconnect.cause


@pytest.mark.parametrize(("message", "name", "cause"), MEDIA_MESSAGES)
def test_every_browser_message_maps_to_its_cause(message: str, name: str, cause: str) -> None:
    entry = catalog.by_message(message)
    assert entry.name == name
    assert entry.phase == "media"
    assert cause in entry.cause


def test_every_catalog_message_is_in_the_guide_table() -> None:
    listed = {m for e in catalog.all_entries() for m in e.browser_messages}
    assert listed == {message for message, _, _ in MEDIA_MESSAGES}


@pytest.mark.parametrize("name", ["NotFoundError", "NotAllowedError", "TypeError",
                                  "NotReadableError", "OverconstrainedError"])
def test_media_error_by_name(name: str) -> None:
    entries = catalog.by_name(name)
    assert all(e.code is None and e.phase == "media" and e.solution for e in entries)


def test_overconstrained_recommends_the_default_device() -> None:
    (entry,) = catalog.by_name("OverconstrainedError")
    assert entry.browser_messages == ()
    assert "request the default input device" in entry.solution


def test_message_lookup_tolerates_case_spacing_and_prefixes() -> None:
    assert catalog.by_message("  could NOT start   video source. ").name == "NotReadableError"
    in_a_log_line = "Failed to acquire media: NotFoundError Permission denied by system"
    assert catalog.by_message(in_a_log_line).id == "not-found-system-disabled"


def test_lookup_accepts_code_name_id_and_message() -> None:
    assert [e.name for e in catalog.lookup("53106")] == ["RoomNotFoundError"]
    assert [e.name for e in catalog.lookup(53001)] == ["SignalingConnectionDisconnectedError"]
    assert [e.id for e in catalog.lookup("not-allowed-dismissed")] == ["not-allowed-dismissed"]
    assert len(catalog.lookup("NotFoundError")) == 2
    assert catalog.lookup("Could not start video source")[0].name == "NotReadableError"


@pytest.mark.parametrize("query", ["99999", "NoSuchError", "the printer is on fire"])
def test_unknown_queries_raise_a_lookup_error(query: str) -> None:
    with pytest.raises(UnknownCatalogEntry) as info:
        catalog.lookup(query)
    assert isinstance(info.value, LookupError)
    assert info.value.query == query


def test_unknown_code_lists_the_known_ones() -> None:
    with pytest.raises(UnknownCatalogEntry, match="53000"):
        catalog.by_code(12345)


def test_ids_are_unique_and_entries_are_frozen() -> None:
    ids = [e.id for e in catalog.all_entries()]
    assert len(ids) == len(set(ids))
    entry = catalog.all_entries()[0]
    with pytest.raises(ValueError, match="frozen"):
        entry.code = 1  # type: ignore[misc]


def test_every_entry_has_an_exception_that_carries_it() -> None:
    for entry in catalog.all_entries():
        error = error_for(entry, detail="seen in a test")
        assert isinstance(error, CatalogError)
        assert isinstance(error, rtcstate.RtcStateError)
        assert error.entry is entry
        assert error.code == entry.code
        assert error.solution == entry.solution
        assert entry.name in str(error)
        assert "seen in a test" in str(error)


def test_named_exception_classes() -> None:
    assert type(error_for(catalog.by_code(53106)[0])) is RoomNotFoundError
    assert type(error_for(catalog.by_message("Could not start audio source"))) is (
        MediaNotReadableError)
    assert type(error_for(catalog.by_name("TypeError")[0])) is MediaInsecureContextError
    connect, disconnect = catalog.by_code(53405)
    assert isinstance(error_for(connect), ConnectError)
    assert isinstance(error_for(disconnect), DisconnectError)
    assert type(error_for(disconnect)) is MediaConnectionError


def test_exception_classes_cover_every_catalog_name() -> None:
    named = {cls.catalog_name for cls in _all_subclasses(CatalogError) if cls.catalog_name}
    assert named == {e.name for e in catalog.all_entries() if e.phase != "warning"}


def _all_subclasses(cls: type[CatalogError]) -> set[type[CatalogError]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


# The twilio-video SDKs' error list, transcribed separately from catalog.toml: twilio-video.js's
# lib/util/twilio-video-errors.js, and for the codes only the mobile SDKs define, their error
# enums (names) and the service's error reference (messages). (code, name, message, phases)
SDK_ERRORS = [
    (20101, "AccessTokenInvalidError", "Invalid Access Token", "connect"),
    (20102, "AccessTokenHeaderInvalidError", "Invalid Access Token header", "connect"),
    (20103, "AccessTokenIssuerInvalidError", "Invalid Access Token issuer/subject", "connect"),
    (20104, "AccessTokenExpiredError", "Access Token expired or expiration date invalid",
     "connect"),
    (20105, "AccessTokenNotYetValidError", "Access Token not yet valid", "connect"),
    (20106, "AccessTokenGrantsInvalidError", "Invalid Access Token grants", "connect"),
    (20107, "AccessTokenSignatureInvalidError", "Invalid Access Token signature", "connect"),
    (53000, "SignalingConnectionError", "Signaling connection error", "connect"),
    (53001, "SignalingConnectionDisconnectedError", "Signaling connection disconnected",
     "disconnect"),
    (53002, "SignalingConnectionTimeoutError", "Signaling connection timed out", "disconnect"),
    (53003, "SignalingIncomingMessageInvalidError",
     "Client received an invalid signaling message", "disconnect"),
    (53004, "SignalingOutgoingMessageInvalidError", "Client sent an invalid signaling message",
     "disconnect"),
    (53005, "SignalingDnsResolutionError", None, "connect"),
    (53006, "SignalingServerBusyError", "Video server is busy", "connect"),
    (53100, "RoomNameInvalidError", "Room name is invalid", "connect"),
    (53101, "RoomNameTooLongError", "Room name is too long", "connect"),
    (53102, "RoomNameCharsInvalidError", "Room name contains invalid characters", "connect"),
    (53103, "RoomCreateFailedError", "Unable to create Room", "connect"),
    (53104, "RoomConnectFailedError", "Unable to connect to Room", "connect"),
    (53105, "RoomMaxParticipantsExceededError", "Room contains too many Participants",
     "connect"),
    (53106, "RoomNotFoundError", "Room not found", "connect"),
    (53107, "RoomMaxParticipantsOutOfRangeError", "MaxParticipants is out of range", "api"),
    (53108, "RoomTypeInvalidError", "RoomType is not valid", "api"),
    (53109, "RoomTimeoutOutOfRangeError", "Timeout is out of range", "api"),
    (53110, "RoomStatusCallbackMethodInvalidError", "StatusCallbackMethod is invalid", "api"),
    (53111, "RoomStatusCallbackInvalidError", "StatusCallback is invalid", "api"),
    (53112, "RoomStatusInvalidError", "Status is invalid", "api"),
    (53113, "RoomRoomExistsError", "Room exists", "api"),
    (53114, "RoomInvalidParametersError",
     "Room creation parameter(s) incompatible with the Room type", "api"),
    (53115, "RoomMediaRegionInvalidError", "MediaRegion is invalid", "api"),
    (53116, "RoomMediaRegionUnavailableError",
     "There are no media servers available in the MediaRegion", "api"),
    (53117, "RoomSubscriptionOperationNotSupportedError",
     "The subscription operation requested is not supported for the Room type", "api"),
    (53118, "RoomCompletedError", "Room completed", "disconnect"),
    (53119, "RoomAccountLimitExceededError", "The concurrent Rooms quota was exceeded",
     "connect"),
    (53120, "RoomInvalidRecordingRuleError", "Invalid Recording Rule(s)", "api"),
    (53122, "RoomRecordingOperationNotSupportedError",
     "The recording operation requested is not supported for the Room type", "api"),
    (53124, "RoomAudioOnlyFlagNotSupportedError",
     "The AudioOnly flag is not supported for the Room type", "connect"),
    (53125, "TrackTrackKindNotSupportedError", "The track kind is not supported by the Room",
     "track"),
    (53200, "ParticipantIdentityInvalidError", "Participant identity is invalid", "connect"),
    (53201, "ParticipantIdentityTooLongError", "Participant identity is too long", "connect"),
    (53202, "ParticipantIdentityCharsInvalidError",
     "Participant identity contains invalid characters", "connect"),
    (53203, "ParticipantMaxTracksExceededError", "Participant has too many Tracks", "track"),
    (53204, "ParticipantNotFoundError", "Participant not found", "api"),
    (53205, "ParticipantDuplicateIdentityError",
     "Participant disconnected because of duplicate identity", "disconnect"),
    (53206, "ParticipantAccountLimitExceededError",
     "The Participant concurrency quota was exceeded", "connect"),
    (53207, "ParticipantMaxPublishedTracksOutOfRangeError", "MaxPublishedTracks is out of range",
     "api"),
    (53215, "ParticipantInvalidSubscribeRuleError", "Invalid Subscribe Rule(s)", "api"),
    (53216, "ParticipantSessionLengthExceededError", "Participant session length exceeded",
     "disconnect"),
    (53300, "TrackInvalidError", "Track is invalid", "track"),
    (53301, "TrackNameInvalidError", "Track name is invalid", "track"),
    (53302, "TrackNameTooLongError", "Track name is too long", "track"),
    (53303, "TrackNameCharsInvalidError", "Track name contains invalid characters", "track"),
    (53304, "TrackNameIsDuplicatedError", "Track name is duplicated", "track"),
    (53305, "TrackServerTrackCapacityReachedError",
     "The server has reached capacity and cannot fulfill this request", "track"),
    (53306, "TrackDataTrackMessageTooLargeError", None, "track"),
    (53307, "TrackDataTrackSendBufferFullError", None, "track"),
    (53400, "MediaClientLocalDescFailedError",
     "Client is unable to create or apply a local media description", "connect"),
    (53401, "MediaServerLocalDescFailedError",
     "Server is unable to create or apply a local media description", "connect"),
    (53402, "MediaClientRemoteDescFailedError",
     "Client is unable to apply a remote media description", "connect"),
    (53403, "MediaServerRemoteDescFailedError",
     "Server is unable to apply a remote media description", "connect"),
    (53404, "MediaNoSupportedCodecError", "No supported codec", "connect"),
    (53405, "MediaConnectionError", "Media connection failed or Media activity ceased",
     "connect disconnect"),
    (53406, "MediaDataTrackFailedError", "The data channel used by the Data Track had a problem",
     "track"),
    (53407, "MediaDTLSTransportFailedError",
     "Media connection failed due to DTLS handshake failure", "connect disconnect track"),
    (53408, "MediaIceRestartNotAllowedError",
     "ICE connection restart was attempted, but it is not allowed", "disconnect"),
    (53500, "ConfigurationAcquireFailedError", "Unable to acquire configuration", "connect"),
    (53501, "ConfigurationAcquireTurnFailedError", "Unable to acquire TURN credentials",
     "connect"),
]


@pytest.mark.parametrize(("code", "name", "message", "phases"), SDK_ERRORS)
def test_every_sdk_code_has_its_name_message_and_phases(code: int, name: str,
                                                        message: str | None,
                                                        phases: str) -> None:
    entries = catalog.by_code(code)
    assert [(e.name, e.message) for e in entries] == [(name, message)] * len(entries)
    assert " ".join(e.phase for e in entries) == phases
    assert all(e.cause and e.solution for e in entries)


def test_the_catalog_holds_exactly_the_sdk_codes() -> None:
    coded = [e.code for e in catalog.all_entries() if e.code is not None]
    assert sorted(set(coded)) == [code for code, *_ in SDK_ERRORS]
    assert coded == sorted(coded), "coded entries are listed by code"


def test_the_guide_rows_keep_their_source_and_the_others_say_sdk() -> None:
    guide = {53000, 53001, 53002, 53006, 53105, 53106, 53205, 53405}
    for entry in catalog.all_entries():
        if entry.code is None:
            assert entry.source in ("table", "prose")
        else:
            assert entry.source == ("table" if entry.code in guide else "sdk"), entry.id


@pytest.mark.parametrize(("code", "name", "message", "phases"), SDK_ERRORS)
def test_every_code_raises_its_own_class_found_by_code_name_and_message(
        code: int, name: str, message: str | None, phases: str) -> None:
    for entry in catalog.by_code(code):
        error = error_for(entry)
        assert type(error).__name__ == name
        assert type(error) is getattr(rtcstate.errors, name)
        assert name in rtcstate.errors.__all__
        for phase in phases.split():
            assert isinstance(error, rtcstate.errors._PHASE_CLASSES[phase])
    assert catalog.lookup(name) == catalog.by_code(code)
    if message is not None:
        assert catalog.lookup(message) == catalog.by_code(code)
        assert catalog.by_message(f"TwilioError {code}: {message}").code == code


def test_access_token_errors_are_connect_errors_with_a_reason() -> None:
    error = rtcstate.AccessTokenError.for_code(20104, "expired an hour ago")
    assert type(error) is rtcstate.errors.AccessTokenExpiredError
    assert isinstance(error, ConnectError)
    assert (error.code, error.reason) == (20104, "expired")
    assert "expired an hour ago" in str(error)
    with pytest.raises(ValueError, match="not an access-token refusal"):
        rtcstate.AccessTokenError.for_code(53000)


def test_phase_filter() -> None:
    assert [e.code for e in catalog.by_phase("disconnect")] == [
        53001, 53002, 53003, 53004, 53118, 53205, 53216, 53405, 53407, 53408]
    assert {e.phase for e in catalog.by_phase("api")} == {"api"}
    assert sum(len(catalog.by_phase(p)) for p in catalog.PHASES) == len(catalog.all_entries())
    with pytest.raises(UnknownCatalogEntry, match="phases: connect"):
        catalog.by_phase("sideways")  # type: ignore[arg-type]


def test_the_error_classes_are_generated_from_the_catalog() -> None:
    from rtcstate import generate

    source = Path(rtcstate.errors.__file__).read_text(encoding="utf-8")
    assert generate.generated_module(source) == source, "run: python -m rtcstate.generate"
    assert generate.main(["--check"]) == 0


def test_the_event_code_literals_are_the_catalog_phases() -> None:
    from typing import get_args

    from rtcstate.models import ConnectErrorCode, DisconnectErrorCode, PublishErrorCode

    def codes(phase: catalog.Phase) -> set[int]:
        return {e.code for e in catalog.by_phase(phase) if e.code is not None}

    assert set(get_args(ConnectErrorCode)) == codes("connect")
    assert set(get_args(DisconnectErrorCode)) == codes("disconnect")
    assert set(get_args(PublishErrorCode)) <= codes("track")
