"""The error catalog: every row of the guide's tables, found by code, by name and by message."""

from __future__ import annotations

import pytest

import rtcstate
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
    listed = {m for e in catalog.all_entries() for m in e.messages}
    assert listed == {message for message, _, _ in MEDIA_MESSAGES}


@pytest.mark.parametrize("name", ["NotFoundError", "NotAllowedError", "TypeError",
                                  "NotReadableError", "OverconstrainedError"])
def test_media_error_by_name(name: str) -> None:
    entries = catalog.by_name(name)
    assert all(e.code is None and e.phase == "media" and e.solution for e in entries)


def test_overconstrained_recommends_the_default_device() -> None:
    (entry,) = catalog.by_name("OverconstrainedError")
    assert entry.messages == ()
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
