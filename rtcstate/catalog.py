"""The error catalog: the guide's error tables as data, with lookups.

The entries live in ``catalog.toml`` beside this module; this module validates them once and
answers the questions a user holding a log line asks::

    >>> from rtcstate import catalog
    >>> catalog.by_code(53106)[0].name
    'RoomNotFoundError'
    >>> catalog.by_message("Could not start video source").name
    'NotReadableError'
    >>> [e.id for e in catalog.by_name("NotAllowedError")]
    ['not-allowed-denied', 'not-allowed-dismissed']

One error name can have several entries, one per cause (``NotFoundError`` is either a device
disabled in the system settings or no device at all); a browser message always resolves to one.
Code 53405 has two entries, one per phase (failing to connect, or failing to reconnect).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rtcstate.errors import SpecError, UnknownCatalogEntry

__all__ = [
    "CatalogEntry",
    "Phase",
    "all_entries",
    "by_code",
    "by_id",
    "by_message",
    "by_name",
    "lookup",
    "normalise_message",
]

Phase = Literal["connect", "disconnect", "media", "warning", "preflight"]


class CatalogEntry(BaseModel):
    """One error (or warning, or preflight finding) and the guide's advice for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="unique, stable slug")
    code: int | None = Field(default=None,
                             description="the SDK's numeric code; None for media errors")
    name: str = Field(min_length=1,
                      description="the error's name as the SDK or browser reports it")
    phase: Phase
    cause: str = Field(min_length=1)
    solution: str = Field(min_length=1)
    retryable: bool = Field(description="repeating the same attempt unchanged may succeed")
    messages: tuple[str, ...] = Field(default=(), description="browser messages for this cause")
    source: Literal["table", "prose"] = Field(description="an error-table row or the guide's prose")

    @property
    def label(self) -> str:
        """``"53106 RoomNotFoundError"``, or just the name when there is no code."""
        return f"{self.code} {self.name}" if self.code is not None else self.name

    def lists_message(self, message: str) -> bool:
        """Whether ``message`` is one of this entry's browser messages (ignoring case, spacing
        and a trailing full stop)."""
        wanted = normalise_message(message)
        return any(normalise_message(known) == wanted for known in self.messages)

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
        self.messages: dict[str, CatalogEntry] = {}
        for entry in entries:
            if entry.id in self.ids:
                problems.append(f"duplicate id {entry.id!r}")
            self.ids[entry.id] = entry
            if entry.code is not None:
                self.codes.setdefault(entry.code, []).append(entry)
            self.names.setdefault(entry.name.casefold(), []).append(entry)
            for message in entry.messages:
                key = normalise_message(message)
                if key in self.messages:
                    problems.append(f"message {message!r} is listed under two entries")
                self.messages[key] = entry
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
    """Every entry, in the guide's order."""
    return _index().entries


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
    """The entry for a raw browser message, ignoring case, spacing and a trailing full stop.

    A log line often carries more than the message (``"NotReadableError: Could not start video
    source"``); the longest known message contained in the text wins.
    Raises :class:`UnknownCatalogEntry`.
    """
    index = _index()
    key = normalise_message(message)
    exact = index.messages.get(key)
    if exact is not None:
        return exact
    contained = [known for known in index.messages if known in key]
    if contained:
        return index.messages[max(contained, key=len)]
    raise UnknownCatalogEntry(message)


def lookup(query: str | int) -> tuple[CatalogEntry, ...]:
    """Everything matching a query a user might hold: a code, an id, a name or a browser message.

    Tries, in order: a numeric code, an entry id, an error name, a browser message.
    Raises :class:`UnknownCatalogEntry` when nothing matches.
    """
    hint = "try a code (53000-53405), an error name or a browser message"
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
        return (by_message(text),)
    except UnknownCatalogEntry:
        raise UnknownCatalogEntry(query, hint) from None
