"""A client adapter for Janus's VideoRoom (Meetecho's Janus WebRTC Server), a production SFU.

Needs the ``janus`` extra: ``pip install 'rtcstate[janus]'`` (aiortc for the media, websockets
for Janus's JSON API). asyncio only, like aiortc.

* :class:`JanusTransport` — the client adapter (:mod:`.transport`); :data:`JOIN_ERRORS` and
  :data:`PUBLISH_ERRORS` map Janus's refusals onto the catalog.
* :class:`JanusSession` — Janus's JSON API on one WebSocket (:mod:`.api`).

:class:`rtcstate.testing.janus.JanusServer` starts a Janus of its own (generated
configuration, a network namespace of its own) for tests and demos.
"""

from __future__ import annotations

try:
    import aiortc  # noqa: F401 - imported to fail early, with a helpful message
    import websockets  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is installed wherever tests run
    raise ImportError(
        f"rtcstate.adapters.janus needs the 'janus' extra ({exc.name} is missing): "
        "pip install 'rtcstate[janus]'") from exc

from rtcstate.adapters.janus.api import JanusRequestError, JanusSession, map_janus_errors
from rtcstate.adapters.janus.transport import JOIN_ERRORS, PUBLISH_ERRORS, JanusTransport

__all__ = [
    "JOIN_ERRORS",
    "PUBLISH_ERRORS",
    "JanusRequestError",
    "JanusSession",
    "JanusTransport",
    "map_janus_errors",
]
