"""Access tokens for the reference room server: signed JWTs (PyJWT, HS256).

A token names the participant (``sub``, the identity) and grants one room (``grants.room``); it
expires (``exp``). The server verifies all three before anything else happens on a connection:
a bad, expired or wrong-room token never joins.

::

    token = create_access_token("secret", identity="alice", room="standup")
    grant = verify_access_token(token, "secret", room="standup")   # AccessGrant(alice, standup)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from rtcstate.errors import AccessTokenError

__all__ = ["ALGORITHM", "ISSUER", "AccessGrant", "create_access_token", "verify_access_token"]

ALGORITHM = "HS256"
"""The only signing algorithm accepted (``alg: none`` and others are refused)."""

ISSUER = "rtcstate"
"""The ``iss`` claim every token carries."""


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a verified token allows: ``identity`` may join ``room``."""

    identity: str
    room: str


def create_access_token(secret: str, *, identity: str, room: str, ttl: float = 3600.0,
                        now: float | None = None) -> str:
    """A token that lets ``identity`` join ``room`` for ``ttl`` seconds from ``now``.

    Raises:
        ValueError: ``identity`` or ``room`` is empty, or ``ttl`` is not positive.
    """
    if not identity or not room:
        raise ValueError("a token needs an identity and a room")
    if ttl <= 0:
        raise ValueError(f"ttl must be positive, not {ttl}")
    issued = time.time() if now is None else now
    claims = {"iss": ISSUER, "sub": identity, "iat": int(issued), "exp": int(issued + ttl),
              "grants": {"room": room}}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_access_token(token: str, secret: str, *, room: str,
                        now: float | None = None) -> AccessGrant:
    """Check ``token``'s signature, expiry and room grant.

    Raises:
        AccessTokenError: with ``reason`` ``"malformed"``, ``"bad_signature"``, ``"expired"``,
            ``"missing_grant"`` or ``"wrong_room"``.
    """
    # With an explicit ``now`` (tests, replays) expiry is checked below against it instead.
    options: jwt.types.Options = {"require": ["exp", "iat", "sub", "iss"],
                                  "verify_exp": now is None}
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options=options)
    except jwt.ExpiredSignatureError as exc:
        raise AccessTokenError("expired", "the token has expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise AccessTokenError("bad_signature", "the signature does not verify") from exc
    except jwt.InvalidTokenError as exc:
        raise AccessTokenError("malformed", str(exc)) from exc
    if now is not None and claims["exp"] <= now:
        raise AccessTokenError("expired", "the token has expired")
    grants = claims.get("grants")
    granted = grants.get("room") if isinstance(grants, dict) else None
    identity = claims["sub"]
    if not isinstance(granted, str) or not granted or not isinstance(identity, str):
        raise AccessTokenError("missing_grant", "the token grants no room")
    if granted != room:
        raise AccessTokenError("wrong_room", f"the token is for room {granted!r}, not {room!r}")
    return AccessGrant(identity, granted)
