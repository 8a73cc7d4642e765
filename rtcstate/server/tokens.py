"""Access tokens for the reference room server: signed JWTs (PyJWT, HS256).

A token names the participant (``sub``, the identity) and grants one room (``grants.room``); it
expires (``exp``). The server verifies them before anything else happens on a connection: a bad,
expired or wrong-room token never joins, and is refused with its catalog code (20101-20107).

::

    token = create_access_token("secret", identity="alice", room="standup")
    grant = verify_access_token(token, "secret", room="standup")   # AccessGrant(alice, standup)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import jwt

from rtcstate import catalog
from rtcstate.errors import AccessTokenError, shorten
from rtcstate.limits import identity_refusal, room_name_refusal

__all__ = [
    "ALGORITHM",
    "ISSUER",
    "MIN_SECRET_BYTES",
    "AccessGrant",
    "check_secret",
    "create_access_token",
    "token_identity",
    "verify_access_token",
]

ALGORITHM = "HS256"
"""The only signing algorithm accepted (``alg: none`` and others are refused)."""

ISSUER = "rtcstate"
"""The ``iss`` claim every token carries."""

MIN_SECRET_BYTES = 32
"""The shortest signing secret accepted (HS256 wants a key as long as its hash, RFC 7518)."""


def check_secret(secret: str) -> None:
    """Raise ``ValueError`` unless ``secret`` is at least :data:`MIN_SECRET_BYTES` long."""
    length = len(secret.encode("utf-8"))
    if length < MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {MIN_SECRET_BYTES} bytes, not {length} "
                         "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a verified token allows: ``identity`` may join ``room``."""

    identity: str
    room: str


def create_access_token(secret: str, *, identity: str, room: str, ttl: float = 3600.0,
                        now: float | None = None) -> str:
    """A token that lets ``identity`` join ``room`` for ``ttl`` seconds from ``now``.

    Raises:
        ValueError: the secret is shorter than 32 bytes; ``identity`` or ``room`` is one the
            room services refuse (see :mod:`rtcstate.limits`: the message names the code); or
            ``ttl`` is not a positive number of seconds.
    """
    check_secret(secret)
    for what, value, refusal in (("identity", identity, identity_refusal(identity)),
                                 ("room", room, room_name_refusal(room))):
        if refusal is not None:
            entry = catalog.by_code(refusal)[0]
            raise ValueError(f"{what} {shorten(repr(value), 40)} would be refused: "
                             f"{entry.label} ({entry.message})")
    if not (isinstance(ttl, int | float) and math.isfinite(ttl) and ttl > 0):
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl}")
    issued = time.time() if now is None else now
    claims = {"iss": ISSUER, "sub": identity, "iat": int(issued), "exp": int(issued + ttl),
              "grants": {"room": room}}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def token_identity(token: str) -> str | None:
    """The identity (``sub``) a token names, read without verifying it (the client's check
    that it joins as the identity it believes; the server verifies). ``None`` when the token
    cannot be read: the server then refuses it with its code."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    identity = claims.get("sub") if isinstance(claims, dict) else None
    return identity if isinstance(identity, str) else None


def verify_access_token(token: str, secret: str, *, room: str, now: float | None = None,
                        leeway: float = 5.0) -> AccessGrant:
    """Check ``token``'s header, signature, claims, times and room grant, in that order.

    ``leeway`` seconds of clock difference between the token's issuer and this host are
    tolerated for the issued-at and not-before times (not for expiry).

    Raises:
        AccessTokenError: of the refusal's own class: not a JWT (20101), a header other than
            ``{"alg": "HS256", "typ": "JWT"}`` (20102), a wrong issuer or no subject (20103),
            expired or an expiry that is not a time (20104), issued or valid only in the
            future (20105), no grant for ``room`` (20106), a signature that does not verify
            (20107).
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise AccessTokenError.for_code(20101, f"not a JWT: {exc}") from exc
    if header.get("alg") != ALGORITHM or header.get("typ", "JWT") != "JWT":
        raise AccessTokenError.for_code(
            20102, f"the header must be alg {ALGORITHM}, typ JWT; not alg "
                   f"{shorten(repr(header.get('alg')), 20)}, "
                   f"typ {shorten(repr(header.get('typ')), 20)}")
    # Times and the issuer are checked below, each with its own code.
    options: jwt.types.Options = {"verify_exp": False, "verify_nbf": False,
                                  "verify_iat": False, "verify_iss": False, "require": []}
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options=options)
    except jwt.InvalidSignatureError as exc:
        raise AccessTokenError.for_code(20107, "the signature does not verify") from exc
    except jwt.InvalidTokenError as exc:
        raise AccessTokenError.for_code(20101, str(exc)) from exc
    identity = claims.get("sub")
    if claims.get("iss") != ISSUER:
        raise AccessTokenError.for_code(20103, f"the issuer must be {ISSUER!r}")
    if not isinstance(identity, str) or not identity:
        raise AccessTokenError.for_code(20103, "the subject (the identity) is missing")
    _check_times(claims, time.time() if now is None else now, leeway)
    grants = claims.get("grants")
    granted = grants.get("room") if isinstance(grants, dict) else None
    if not isinstance(granted, str) or not granted:
        raise AccessTokenError.for_code(20106, "the token grants no room")
    if granted != room:
        raise AccessTokenError.for_code(
            20106, f"the token is for room {shorten(repr(granted), 64)}, not "
                   f"{shorten(repr(room), 64)}")
    return AccessGrant(identity, granted)


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_times(claims: dict[str, object], now: float, leeway: float) -> None:
    expires = claims.get("exp")
    if not _is_time(expires):
        raise AccessTokenError.for_code(20104, "the expiry (exp) is missing or not a time")
    assert isinstance(expires, int | float)
    if expires <= now:
        raise AccessTokenError.for_code(20104, "the token has expired")
    for claim in ("iat", "nbf"):
        value = claims.get(claim)
        if value is None and claim == "nbf":
            continue
        if not _is_time(value):
            raise AccessTokenError.for_code(20105, f"{claim} is missing or not a time")
        assert isinstance(value, int | float)
        if value > now + leeway:
            raise AccessTokenError.for_code(20105, f"the token is not valid before {claim} "
                                                   f"{value:.0f} (now {now:.0f})")
