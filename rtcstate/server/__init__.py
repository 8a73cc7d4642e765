"""The reference room server: WebSocket signaling plus aiortc media, and what its clients share.

Needs the ``aiortc`` extra: ``pip install 'rtcstate[aiortc]'`` (aiortc, websockets, PyJWT).
asyncio only, like aiortc itself. It is apart from the client adapters on purpose: an
application imports :mod:`rtcstate.adapters.aiortc`; a test, the demo or ``rtcstate serve``
runs this.

* :class:`RoomServer`, :func:`serve_forever` — the server (:mod:`.room_server`).
* :func:`create_access_token`, :func:`verify_access_token` — signed JWTs (:mod:`.tokens`),
  which the client adapter reads too.
* the signaling messages both ends validate (:mod:`.protocol`).

Dependencies point one way: the aiortc client imports the protocol and the tokens from here;
nothing here imports a client adapter.
"""

from __future__ import annotations

try:
    import aiortc  # noqa: F401 - imported to fail early, with a helpful message
    import jwt  # noqa: F401
    import websockets  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is installed wherever tests run
    raise ImportError(
        f"rtcstate.server needs the 'aiortc' extra ({exc.name} is missing): "
        "pip install 'rtcstate[aiortc]'") from exc

from rtcstate.server.room_server import RoomServer, ServerStats, serve_forever
from rtcstate.server.tokens import (
    AccessGrant,
    create_access_token,
    token_identity,
    verify_access_token,
)

__all__ = [
    "AccessGrant",
    "RoomServer",
    "ServerStats",
    "create_access_token",
    "serve_forever",
    "token_identity",
    "verify_access_token",
]
