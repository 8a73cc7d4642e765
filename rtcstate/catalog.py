"""The error catalog: the twilio-video SDKs' error codes and the guide's error tables as data.

The entries live in ``catalog.toml`` beside this module; this module validates them once and
answers the questions a user holding a log line asks::

    >>> from rtcstate import catalog
    >>> catalog.by_code(53106)[0].name
    'RoomNotFoundError'
    >>> catalog.by_message("Could not start video source").name
    'NotReadableError'
    >>> catalog.by_message("TwilioError 53118: Room completed").code
    53118
    >>> [e.id for e in catalog.by_name("NotAllowedError")]
    ['not-allowed-denied', 'not-allowed-dismissed']
    >>> len(catalog.by_phase("disconnect"))
    9

One error name can have several entries, one per cause (``NotFoundError`` is either a device
disabled in the system settings or no device at all); a browser message always resolves to one.
A code that can end a join or something already joined has one entry per phase: 53405 (failing
to connect, or failing to reconnect) and 53407 (the join's media, or one track's).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rtcstate.errors import SpecError, UnknownCatalogEntry

__all__ = [
    "PHASES",
    "CatalogEntry",
    "Phase",
    "Source",
    "all_entries",
    "by_code",
    "by_id",
    "by_message",
    "by_name",
    "by_phase",
    "lookup",
    "messages_of",
    "normalise_message",
]

Phase = Literal["connect", "disconnect", "track", "api", "media", "warning", "preflight"]
"""What an error ends or refuses: a join, a joined Room, one track, a REST API request (never
raised to a client), acquiring a device, a warning, a device test (see ``catalog.toml``)."""

PHASES: tuple[Phase, ...] = get_args(Phase)
"""Every phase, in the order the catalog lists them."""

Source = Literal["table", "prose", "sdk"]
"""Where an entry comes from: a row of the guide's error tables, the guide's prose, or only the
SDKs' error list (then its cause and solution were written for rtcstate)."""


class CatalogEntry(BaseModel):
    """One error (or warning, or preflight finding) and the advice for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="unique, stable slug")
    code: int | None = Field(default=None,
                             description="the SDK's numeric code; None for media errors")
    name: str = Field(min_length=1,
                      description="the error's name as the SDK or browser reports it")
    phase: Phase
    message: str | None = Field(default=None, min_length=1,
                                description="the SDK's official message for the code")
    cause: str = Field(min_length=1)
    solution: str = Field(min_length=1)
    retryable: bool = Field(description="repeating the same attempt unchanged may succeed")
    browser_messages: tuple[str, ...] = Field(default=(),
                                              description="browser messages for this cause")
    source: Source

    @property
    def label(self) -> str:
        """``"53106 RoomNotFoundError"``, or just the name when there is no code."""
        return f"{self.code} {self.name}" if self.code is not None else self.name

    def lists_message(self, message: str) -> bool:
        """Whether ``message`` is this entry's SDK message or one of its browser messages
        (ignoring case, spacing and a trailing full stop)."""
        wanted = normalise_message(message)
        return any(normalise_message(known) == wanted for known in self.known_messages)

    @property
    def known_messages(self) -> tuple[str, ...]:
        """The SDK's message, if any, then the browser messages."""
        return ((self.message,) if self.message else ()) + self.browser_messages

    def brief(self) -> dict[str, object]:
        """The two fields that identify the error in a compact record: ``{code, name}``."""
        return {"code": self.code, "name": self.name}

    def __str__(self) -> str:
        return self.label


class _CatalogFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    entry: tuple[CatalogEntry, ...]


class _Index:
    """The validated entries with the lookup tables built from them."""

    def __init__(self, entries: tuple[CatalogEntry, ...]) -> None:
        problems: list[str] = []
        self.entries = entries
        self.ids: dict[str, CatalogEntry] = {}
        self.codes: dict[int, list[CatalogEntry]] = {}
        self.names: dict[str, list[CatalogEntry]] = {}
        self.phases: dict[str, list[CatalogEntry]] = {}
        # An SDK message names every entry of its code (one per phase); a browser message, one.
        self.messages: dict[str, list[CatalogEntry]] = {}
        for entry in entries:
            if entry.id in self.ids:
                problems.append(f"duplicate id {entry.id!r}")
            self.ids[entry.id] = entry
            if entry.code is not None:
                self.codes.setdefault(entry.code, []).append(entry)
            self.names.setdefault(entry.name.casefold(), []).append(entry)
            self.phases.setdefault(entry.phase, []).append(entry)
            for message in entry.known_messages:
                key = normalise_message(message)
                listed = self.messages.setdefault(key, [])
                if listed and (message in entry.browser_messages
                               or any(other.code != entry.code for other in listed)):
                    problems.append(f"message {message!r} is listed under two errors")
                listed.append(entry)
        if problems:
            raise SpecError(None, problems)


def normalise_message(message: str) -> str:
    """A browser message folded for comparison: case, runs of spaces, a trailing full stop."""
    return " ".join(message.casefold().split()).rstrip(".")


@cache
def _index() -> _Index:
    text = resources.files("rtcstate").joinpath("catalog.toml").read_text(encoding="utf-8")
    try:
        parsed = _CatalogFile.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise SpecError(None, [str(exc)]) from exc
    return _Index(parsed.entry)


def all_entries() -> tuple[CatalogEntry, ...]:
    """Every entry, in the catalog's order: by code, then the media errors, the warning and
    the preflight findings."""
    return _index().entries


def by_phase(phase: Phase) -> tuple[CatalogEntry, ...]:
    """Every entry of ``phase``, in the catalog's order. Raises :class:`UnknownCatalogEntry`
    for a phase that does not exist."""
    if phase not in PHASES:
        raise UnknownCatalogEntry(phase, "phases: " + ", ".join(PHASES))
    return tuple(_index().phases.get(phase, ()))


def by_id(entry_id: str) -> CatalogEntry:
    """The entry with this id. Raises :class:`UnknownCatalogEntry`."""
    try:
        return _index().ids[entry_id]
    except KeyError:
        raise UnknownCatalogEntry(entry_id) from None


def by_code(code: int) -> tuple[CatalogEntry, ...]:
    """Entries with this numeric code (two for 53405). Raises :class:`UnknownCatalogEntry`."""
    found = _index().codes.get(code)
    if not found:
        known = ", ".join(str(c) for c in sorted(_index().codes))
        raise UnknownCatalogEntry(code, f"known codes: {known}")
    return tuple(found)


def by_name(name: str) -> tuple[CatalogEntry, ...]:
    """Entries with this error name, case-insensitively. Raises :class:`UnknownCatalogEntry`."""
    found = _index().names.get(name.casefold())
    if not found:
        raise UnknownCatalogEntry(name)
    return tuple(found)


def by_message(message: str) -> CatalogEntry:
    """The entry for a raw browser message or an SDK message, ignoring case, spacing and a
    trailing full stop. An SDK message of a code with one entry per phase gives the first
    (:func:`messages_of` gives them all).

    A log line often carries more than the message (``"NotReadableError: Could not start video
    source"``); the longest known message contained in the text wins.
    Raises :class:`UnknownCatalogEntry`.
    """
    return messages_of(message)[0]


def messages_of(message: str) -> tuple[CatalogEntry, ...]:
    """Every entry the message (or the longest known message it contains) points to.
    Raises :class:`UnknownCatalogEntry`."""
    index = _index()
    key = normalise_message(message)
    exact = index.messages.get(key)
    if exact is not None:
        return tuple(exact)
    contained = [known for known in index.messages if known in key]
    if contained:
        return tuple(index.messages[max(contained, key=len)])
    raise UnknownCatalogEntry(message)


def lookup(query: str | int) -> tuple[CatalogEntry, ...]:
    """Everything matching a query a user might hold: a code, an id, a name, an SDK message or
    a browser message.

    Tries, in order: a numeric code, an entry id, an error name, a message.
    Raises :class:`UnknownCatalogEntry` when nothing matches.
    """
    hint = ("try a code (20101-20107, 53000-53501), an error name, an SDK message or a "
            "browser message")
    if isinstance(query, int) or query.strip().isdigit():
        try:
            return by_code(int(query))
        except UnknownCatalogEntry:
            raise UnknownCatalogEntry(query, hint) from None
    text = query.strip()
    index = _index()
    if text in index.ids:
        return (index.ids[text],)
    if text.casefold() in index.names:
        return by_name(text)
    try:
        return messages_of(text)
    except UnknownCatalogEntry:
        raise UnknownCatalogEntry(query, hint) from None
