"""The limits rtcstate enforces on input: event fields, and the names its room services accept.

Every string field of an event is bounded (:data:`MAX_ID_LENGTH` for names and ids,
:data:`MAX_TEXT_LENGTH` for messages) and must be valid Unicode; an event beyond them is
refused with ``InvalidEvent`` like any other bad input, and no error message repeats more than
``rtcstate.errors.ECHO_LIMIT`` characters of what it refused.

The in-memory service and the reference server both check a join (:func:`join_refusal`) and a
publication (:func:`publication_refusal`) with these functions, so that a client of either hears
the same code:

==================  ==========================================  =====================
what                refused when                                code
==================  ==========================================  =====================
Room name           empty or blank / too long / bad characters  53100 / 53101 / 53102
identity            empty or blank / too long / bad characters  53200 / 53201 / 53202
track name          empty or blank / too long / bad characters  53301 / 53302 / 53303
publication         a name already published / one too many     53304 / 53203
==================  ==========================================  =====================

A name is too long beyond :data:`MAX_NAME_LENGTH` characters; a bad character is one that
:meth:`str.isprintable` refuses (control and format characters, lone surrogates, line and
paragraph separators, and every space but the ASCII one). The numbers are rtcstate's own: the
hosted service's limits are not documented in the SDKs.
"""

from __future__ import annotations

from typing import Literal, TypeVar

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_PUBLICATIONS",
    "identity_refusal",
    "join_refusal",
    "publication_refusal",
    "room_name_refusal",
    "track_name_refusal",
]

MAX_NAME_LENGTH = 128
"""The longest Room name, identity or track name accepted, in characters."""

MAX_PUBLICATIONS = 16
"""How many tracks one participant may publish at once by default (one more: 53203)."""


_Code = TypeVar("_Code", bound=int)


def _refusal(name: str, invalid: _Code, too_long: _Code, bad_characters: _Code) -> _Code | None:
    if not name.strip():
        return invalid
    if len(name) > MAX_NAME_LENGTH:
        return too_long
    if not name.isprintable():
        return bad_characters
    return None


def room_name_refusal(name: str) -> Literal[53100, 53101, 53102] | None:
    """The code a join to Room ``name`` is refused with (53100-53102), or ``None``."""
    return _refusal(name, 53100, 53101, 53102)


def identity_refusal(identity: str) -> Literal[53200, 53201, 53202] | None:
    """The code a join as ``identity`` is refused with (53200-53202), or ``None``."""
    return _refusal(identity, 53200, 53201, 53202)


def track_name_refusal(name: str) -> Literal[53301, 53302, 53303] | None:
    """The code a publication named ``name`` is refused with (53301-53303), or ``None``."""
    return _refusal(name, 53301, 53302, 53303)


def join_refusal(room_name: str,
                 identity: str) -> Literal[53100, 53101, 53102, 53200, 53201, 53202] | None:
    """The code a join to ``room_name`` as ``identity`` is refused with for its names (the
    Room name first), or ``None``."""
    return room_name_refusal(room_name) or identity_refusal(identity)


def publication_refusal(name: str, *, duplicate: bool,
                        full: bool) -> Literal[53301, 53302, 53303, 53304, 53203] | None:
    """The code a publication is refused with: its name (53301-53303), a name the participant
    already publishes (``duplicate``: 53304), or one track more than it may publish (``full``:
    53203); ``None`` if it may be published."""
    refused = track_name_refusal(name)
    if refused is not None:
        return refused
    if duplicate:
        return 53304
    if full:
        return 53203
    return None

MAX_ID_LENGTH = 256
"""The longest name or id an event field takes, in characters (room names, identities, track
names, sids, device ids); a room service refuses names longer than :data:`MAX_NAME_LENGTH`."""

MAX_TEXT_LENGTH = 2000
"""The longest message an event field takes, in characters."""
