"""Whether the media path of a transport's peer connections is alive, within two seconds.

aiortc says nothing when media stops getting through: its ICE layer (aioice) checks consent
every 4-6 s and gives up after six misses, about 30 s, and only then does the connection go
``closed``. Meanwhile signaling, over TCP, may be fine: a network that blocks UDP leaves a
Room ``connected`` with no media at all. :class:`MediaLiveness` asks sooner. Every
``interval`` seconds it looks at each connection: one whose receivers had RTP since the last
look (a subscription with media flowing) is alive; any other (a publication, a quiet
subscription) is asked the way consent freshness asks (RFC 7675), with a STUN binding request
on its nominated candidate pair, answered or not within aioice's first retransmission timeout
(0.5 s). ``misses`` unanswered in a row and the media path is ``failed``; one answer, or
packets again, and it is ``connected``. The server answers these requests as it answers
consent checks: nothing new is asked of it, and nothing is sent anywhere but to the pair's own
remote address. Not asking a connection whose media is visibly flowing matters: binding
requests on every connection every half second were measured to make the churning-room test
(four clients and the reference server on one event loop, signaling cut again and again) lose
a client's signaling again right after it resumed, 2 runs in 6 (0 in 8 without them); why,
was not found.

aioice's connection, pairs and request builder, and aiortc's count of received packets, are
private attributes of aioice 0.x and aiortc 1.x, looked up defensively: without them a
connection is simply not probed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import anyio
from aioice import stun
from aiortc import RTCPeerConnection

from rtcstate.adapters.connection import MediaState
from rtcstate.server.protocol import _ice_connections, restart_video_reception

__all__ = ["MediaLiveness", "VideoStallWatch", "consent_expired"]


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
        self._received: dict[RTCPeerConnection, int] = {}

    @property
    def notice_within(self) -> float:
        """The longest a dead media path goes unnoticed: ``misses`` probes, each sent at most
        ``interval`` apart and unanswered after aioice's 0.5 s."""
        return self.interval + (self.misses - 1) * max(self.interval, 0.5) + 0.5

    def reset(self) -> None:
        """Forget every miss (the connections are being made anew, or signaling was lost)."""
        self._missed.clear()
        self._received.clear()

    async def probe(self, connections: Iterable[RTCPeerConnection]) -> MediaState | None:
        """Look at every connected connection once, and ask those gone quiet, at the same
        time: ``failed`` if one has now missed :attr:`misses` probes in a row, ``connected``
        if one received packets or answered and none failed, ``None`` if nothing could be
        probed (none connected yet: no news)."""
        live = [pc for pc in connections if pc.connectionState == "connected"]
        for seen in (self._missed, self._received):
            for gone in [pc for pc in seen if pc not in live]:
                del seen[gone]
        answers: dict[RTCPeerConnection, bool | None] = {}

        async def ask(pc: RTCPeerConnection) -> None:
            answers[pc] = await _probe_connection(pc)

        async with anyio.create_task_group() as tasks:
            for pc in live:
                received = _packets_received(pc)
                if received is not None and received != self._received.get(pc):
                    self._received[pc] = received
                    answers[pc] = True  # packets came: alive, nothing to ask
                else:
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


class VideoStallWatch:
    """Restarts video reception (:func:`~rtcstate.server.protocol.restart_video_reception`)
    on a subscription whose packets keep arriving while no frame has come out for ``after``
    seconds: aiortc's jitter buffer is holding every frame behind a gap no retransmission
    fills. A restart when media returns after an outage is not always enough: retransmissions
    of packets from before the outage, asked for by the receiver and arriving after the
    restart, take the buffer back to their place in the sequence, gap included (on Janus, two
    runs of ten outages in three froze so). Call :meth:`check` every half second or so.

    Args:
        after: seconds of packets without frames that make a stall.

    Raises:
        ValueError: ``after`` is not positive.
    """

    def __init__(self, after: float = 1.0) -> None:
        if after <= 0:
            raise ValueError(f"after is a positive number of seconds, not {after!r}")
        self.after = after
        self.restarts = 0
        self._progress: dict[str, tuple[int, int, float]] = {}  # sid: frames, packets, since

    def reset(self) -> None:
        """Forget what was seen (the connections are being made anew)."""
        self._progress.clear()

    async def check(self, subscriptions: Mapping[str, RTCPeerConnection],
                    frames: Mapping[str, int], now: float) -> list[str]:
        """Look at each subscription (``sid -> connection``) against the frames delivered so
        far (``sid -> count``) at time ``now``; restart the stalled ones. Returns their sids."""
        for gone in [sid for sid in self._progress if sid not in subscriptions]:
            del self._progress[gone]
        restarted: list[str] = []
        for sid, pc in subscriptions.items():
            packets = _packets_received(pc)
            if packets is None:
                continue
            delivered = frames.get(sid, 0)
            last = self._progress.get(sid)
            if last is None or delivered != last[0] or packets == last[1]:
                self._progress[sid] = (delivered, packets, now)  # frames flow, or no media
            elif now - last[2] >= self.after:
                if await restart_video_reception(pc):
                    restarted.append(sid)
                    self.restarts += 1
                self._progress[sid] = (delivered, packets, now)
            else:
                self._progress[sid] = (delivered, packets, last[2])
        return restarted


def consent_expired(pc: RTCPeerConnection) -> bool:
    """Whether aioice gave up an ICE connection of ``pc`` because its consent to send expired
    (RFC 7675: six checks unanswered). It drops the consent task then, where a close cancels
    it, and ``pc`` then closes, often without ever being ``failed``: the DTLS transport reading
    from the ICE connection ends first, and aiortc closes a connection whose DTLS transports
    all ended. Private attributes of aioice 0.x, looked up defensively: without them, no."""
    return any(getattr(connection, "_query_consent_task", False) is None
               and getattr(connection, "_closed", False) is True
               for connection in _ice_connections(pc))


def _packets_received(pc: RTCPeerConnection) -> int | None:
    """How many RTP packets ``pc``'s receivers have had, if known (a publication has none)."""
    counts: list[int] = []
    for receiver in pc.getReceivers():
        streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", None)
        if isinstance(streams, dict):
            counts.extend(count for stream in streams.values()
                          if isinstance(count := getattr(stream, "packets_received", None), int))
    return sum(counts) if counts else None


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
