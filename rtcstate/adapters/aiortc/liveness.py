"""Whether the media path of a transport's peer connections is alive, within two seconds.

aiortc says nothing when media stops getting through: its ICE layer (aioice) checks consent
every 4-6 s and gives up after six misses, about 30 s, and only then does the connection go
``closed``. Meanwhile signaling, over TCP, may be fine: a network that blocks UDP leaves a
Room ``connected`` with no media at all. :class:`MediaLiveness` asks sooner, the way consent
freshness does (RFC 7675): a STUN binding request on each connection's nominated candidate
pair every ``interval`` seconds, answered or not within aioice's first retransmission timeout
(0.5 s). ``misses`` unanswered in a row and the media path is ``failed``; one answer and it is
``connected`` again. The server answers these requests as it answers consent checks: nothing
new is asked of it, and nothing is sent anywhere but to the pair's own remote address.

aioice's connection, pairs and request builder are private attributes of aioice 0.x, looked up
defensively: without them a connection is simply not probed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anyio
from aioice import stun
from aiortc import RTCPeerConnection

from rtcstate.adapters.connection import MediaState
from rtcstate.server.protocol import _ice_connections

__all__ = ["MediaLiveness"]


class MediaLiveness:
    """Probes the media path of peer connections: call :meth:`probe` every :attr:`interval`
    seconds with the connections a transport holds.

    Args:
        interval: seconds between two probes of a connection.
        misses: unanswered probes in a row that mean its media path failed.

    Raises:
        ValueError: ``interval`` is not positive, or ``misses`` is below 1.
    """

    def __init__(self, interval: float = 0.5, misses: int = 2) -> None:
        if interval <= 0:
            raise ValueError(f"interval is a positive number of seconds, not {interval!r}")
        if misses < 1:
            raise ValueError(f"misses is at least 1, not {misses!r}")
        self.interval = interval
        self.misses = misses
        self._missed: dict[RTCPeerConnection, int] = {}

    @property
    def notice_within(self) -> float:
        """The longest a dead media path goes unnoticed: ``misses`` probes, each sent at most
        ``interval`` apart and unanswered after aioice's 0.5 s."""
        return self.interval + (self.misses - 1) * max(self.interval, 0.5) + 0.5

    def reset(self) -> None:
        """Forget every miss (the connections are being made anew, or signaling was lost)."""
        self._missed.clear()

    async def probe(self, connections: Iterable[RTCPeerConnection]) -> MediaState | None:
        """Probe every connected connection once, at the same time: ``failed`` if one has now
        missed :attr:`misses` probes in a row, ``connected`` if one answered and none failed,
        ``None`` if nothing could be probed (none connected yet: no news)."""
        live = [pc for pc in connections if pc.connectionState == "connected"]
        for gone in [pc for pc in self._missed if pc not in live]:
            del self._missed[gone]
        answers: dict[RTCPeerConnection, bool | None] = {}

        async def ask(pc: RTCPeerConnection) -> None:
            answers[pc] = await _probe_connection(pc)

        async with anyio.create_task_group() as tasks:
            for pc in live:
                tasks.start_soon(ask, pc)
        answered = False
        for pc, answer in answers.items():
            if answer is None:
                continue
            if answer:
                answered = True
                self._missed[pc] = 0
            else:
                self._missed[pc] = self._missed.get(pc, 0) + 1
        if any(missed >= self.misses for missed in self._missed.values()):
            return "failed"
        return "connected" if answered else None


async def _probe_connection(pc: RTCPeerConnection) -> bool | None:
    """Whether every nominated pair of ``pc`` answered one binding request (``None``: nothing
    to probe)."""
    probed = False
    for connection in _ice_connections(pc):
        pairs = getattr(connection, "_nominated", None)
        password = getattr(connection, "remote_password", None)
        if (not isinstance(pairs, dict) or not isinstance(password, str)
                or not callable(getattr(connection, "build_request", None))):
            continue
        for pair in list(pairs.values()):
            if getattr(pair, "protocol", None) is None:
                continue
            probed = True
            if not await _probe_pair(connection, pair, password):
                return False
    return True if probed else None


async def _probe_pair(connection: Any, pair: Any, password: str) -> bool:
    request = connection.build_request(pair, nominate=False)
    try:
        await pair.protocol.request(request, pair.remote_addr,
                                    integrity_key=password.encode("utf8"), retransmissions=0)
    except (stun.TransactionError, OSError):  # no answer in time, or its socket is gone
        return False
    return True
