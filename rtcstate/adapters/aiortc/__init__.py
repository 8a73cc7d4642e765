"""The real WebRTC client adapter on aiortc.

Needs the ``aiortc`` extra: ``pip install 'rtcstate[aiortc]'`` (aiortc, websockets, PyJWT).
asyncio only, like aiortc itself.

* :class:`AiortcTransport` — the client adapter (:mod:`.transport`).
* :class:`AiortcMediaDevices` and synthetic tracks (:mod:`.media`).

The reference room server it talks to, and the protocol and tokens both ends share, are
:mod:`rtcstate.server`; :class:`RoomServer`, :func:`create_access_token` and
:func:`verify_access_token` are re-exported here, where earlier versions had them.
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
from rtcstate.adapters.aiortc.transport import AiortcTransport, map_aiortc_errors
from rtcstate.server import RoomServer, create_access_token, verify_access_token

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
