"""The real WebRTC transport on aiortc, and the reference room server it talks to.

Needs the ``aiortc`` extra: ``pip install 'rtcstate[aiortc]'`` (aiortc, websockets, PyJWT).
asyncio only, like aiortc itself.

* :class:`AiortcTransport` — the client adapter (:mod:`.transport`).
* :class:`RoomServer` — WebSocket signaling plus aiortc media forwarding (:mod:`.server`).
* :func:`create_access_token`, :func:`verify_access_token` — signed JWTs (:mod:`.tokens`).
* :class:`AiortcMediaDevices` and synthetic tracks (:mod:`.media`).
* the signaling messages (:mod:`.protocol`).
"""

from __future__ import annotations

try:
    import aiortc  # noqa: F401 - imported to fail early, with a helpful message
    import jwt  # noqa: F401
    import websockets  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is installed wherever tests run
    raise ImportError(
        f"rtcstate.adapters.aiortc needs the 'aiortc' extra ({exc.name} is missing): "
        "pip install 'rtcstate[aiortc]'") from exc

from rtcstate.adapters.aiortc.media import (
    AiortcMediaDevices,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
)
from rtcstate.adapters.aiortc.server import RoomServer
from rtcstate.adapters.aiortc.tokens import create_access_token, verify_access_token
from rtcstate.adapters.aiortc.transport import AiortcTransport, map_aiortc_errors

__all__ = [
    "AiortcMediaDevices",
    "AiortcTransport",
    "RoomServer",
    "SyntheticAudioTrack",
    "SyntheticVideoTrack",
    "create_access_token",
    "map_aiortc_errors",
    "verify_access_token",
]
