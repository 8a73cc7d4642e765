"""MediaLiveness: probes on a real pair of peer connections over loopback, whose far end is
made deaf to them (its ICE stops answering binding requests) and then hears again. And what
the transports do once media is back: restart_video_reception."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RtpPacket

from rtcstate.adapters.aiortc.client import AiortcClient
from rtcstate.adapters.aiortc.liveness import MediaLiveness, VideoStallWatch, consent_expired
from rtcstate.adapters.aiortc.media import synthetic_track
from rtcstate.adapters.connection import (
    CONNECTED,
    MEDIA_PATH_DOWN,
    ConnectionMonitor,
    MediaState,
)
from rtcstate.server.protocol import (
    _ice_connections,
    close_peer_connection,
    local_rtc_configuration,
    restart_video_reception,
    set_local_description,
)
from rtcstate.testing.aiortc import consent_checked_every

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiortc runs on asyncio only


async def until(predicate: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.02)  # aiortc's states have no event to wait on here


async def connect(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    offerer.createDataChannel("probe")  # something to connect, without media
    await set_local_description(offerer, await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await set_local_description(answerer, await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)
    await until(lambda: offerer.connectionState == "connected")


@pytest.fixture
async def pair() -> AsyncIterator[tuple[RTCPeerConnection, RTCPeerConnection]]:
    offerer = RTCPeerConnection(local_rtc_configuration())
    answerer = RTCPeerConnection(local_rtc_configuration())
    try:
        await connect(offerer, answerer)
        yield offerer, answerer
    finally:
        await close_peer_connection(offerer)
        await close_peer_connection(answerer)


def deafen(pc: RTCPeerConnection) -> dict[Any, Any]:
    """Make ``pc``'s ICE ignore binding requests (as a network dropping UDP would); returns
    what :func:`hear` restores."""
    saved = {}
    for connection in _ice_connections(pc):
        saved[connection] = connection.request_received
        connection.request_received = lambda *args, **kwargs: None
    return saved


def hear(saved: dict[Any, Any]) -> None:
    for connection, request_received in saved.items():
        connection.request_received = request_received


async def test_a_path_that_stops_answering_fails_after_misses_then_is_connected_again(
        pair: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    near, far = pair  # no media: every look is a binding request
    liveness = MediaLiveness(interval=0.1, misses=2)
    assert await liveness.probe([near]) == "connected"
    saved = deafen(far)
    assert await liveness.probe([near]) is None  # one miss: no news yet
    assert await liveness.probe([near]) == "failed"
    assert await liveness.probe([near]) == "failed"
    hear(saved)
    assert await liveness.probe([near]) == "connected"


async def test_only_connected_connections_are_probed_and_forgotten_when_gone(
        pair: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    near, far = pair
    liveness = MediaLiveness(interval=0.1, misses=1)
    fresh = RTCPeerConnection(local_rtc_configuration())
    try:
        assert await liveness.probe([fresh]) is None  # not connected: nothing to probe
    finally:
        await fresh.close()
    assert await liveness.probe([near]) == "connected"
    deafen(far)
    assert await liveness.probe([near]) == "failed"
    assert await liveness.probe([]) is None  # the failed one is gone: no news, no failure


async def test_reset_forgets_the_misses(
        pair: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    near, far = pair
    liveness = MediaLiveness(interval=0.1, misses=2)
    saved = deafen(far)
    assert await liveness.probe([near]) is None
    liveness.reset()
    assert await liveness.probe([near]) is None  # counted from one again, not failed
    assert await liveness.probe([near]) == "failed"
    hear(saved)


async def test_a_connection_whose_media_flows_is_not_asked() -> None:
    near = RTCPeerConnection(local_rtc_configuration())
    far = RTCPeerConnection(local_rtc_configuration())
    try:
        near.addTransceiver("audio", direction="recvonly")
        await set_local_description(near, await near.createOffer())
        await far.setRemoteDescription(near.localDescription)
        far.addTrack(synthetic_track("audio"))  # 50 packets a second
        await set_local_description(far, await far.createAnswer())
        await near.setRemoteDescription(far.localDescription)
        liveness = MediaLiveness(interval=0.1, misses=1)
        with anyio.fail_after(5):
            while await liveness.probe([near]) != "connected":  # noqa: ASYNC110
                await anyio.sleep(0.05)  # until connected: aiortc's state has no event
        deafen(far)  # binding requests go unanswered; RTP still comes
        for _ in range(3):
            await anyio.sleep(0.1)
            assert await liveness.probe([near]) == "connected"
    finally:
        await close_peer_connection(near, end_unstarted_tracks=True)
        await close_peer_connection(far)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        MediaLiveness(interval=0)
    with pytest.raises(ValueError, match="misses"):
        MediaLiveness(misses=0)
    assert MediaLiveness(0.5, 2).notice_within == 1.5
    with pytest.raises(ValueError, match="after"):
        VideoStallWatch(after=0)


async def test_restarting_video_reception_lets_frames_through_a_gap_nothing_filled() -> None:
    pc = RTCPeerConnection(local_rtc_configuration())
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        buffer = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]

        def frame_from(sequence_number: int) -> object:
            packet = RtpPacket(sequence_number=sequence_number, timestamp=sequence_number * 3000)
            packet._data = b"frame"  # type: ignore[attr-defined]
            return buffer.add(packet)[1]  # one packet a frame

        assert [frame_from(n) for n in range(4)][1:] != [None] * 3  # frames flow
        # Packets 4-99 were lost in an outage, and never retransmitted: aiortc holds every
        # frame after the gap (until 512 more packets have come).
        assert [frame_from(n) for n in range(100, 120)] == [None] * 20
        asked_for = receiver._RTCRtpReceiver__nack_generator.missing  # type: ignore[attr-defined]
        asked_for.update(range(4, 100))
        assert await restart_video_reception(pc) == 1
        assert not asked_for  # retransmissions from before the gap would take it back there
        assert [frame_from(n) for n in range(120, 123)][1:] != [None] * 2
    finally:
        await pc.close()


def video_fed_by_hand(pc: RTCPeerConnection,
                      delivered: dict[str, int]) -> tuple[Callable[..., None], Any]:
    """A video receiver on ``pc`` fed by hand: ``arrive(*sequence_numbers)`` hands it
    one-packet frames (counted as aiortc counts packets, which the stall watch reads) and
    counts in ``delivered["MT1"]`` the frames that come out. Returns ``arrive`` and the
    receiver's jitter buffer."""
    from aiortc.rtcrtpreceiver import StreamStatistics

    receiver = pc.addTransceiver("video", direction="recvonly").receiver
    buffer = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
    stream = StreamStatistics(90000)
    receiver._RTCRtpReceiver__remote_streams[1234] = stream  # type: ignore[attr-defined]
    delivered["MT1"] = 0

    def arrive(*numbers: int) -> None:
        for number in numbers:
            packet = RtpPacket(sequence_number=number, timestamp=number * 3000, ssrc=1234)
            packet._data = b"frame"  # type: ignore[attr-defined]
            stream.add(packet)
            if buffer.add(packet)[1] is not None:  # one packet a frame
                delivered["MT1"] += 1

    return arrive, buffer


async def test_a_video_subscription_whose_packets_arrive_without_frames_is_restarted() -> None:
    pc = RTCPeerConnection(local_rtc_configuration())
    try:
        delivered: dict[str, int] = {}
        arrive, _ = video_fed_by_hand(pc, delivered)
        watch = VideoStallWatch(after=1.0)
        arrive(*range(4))
        assert delivered["MT1"] == 3
        assert await watch.check({"MT1": pc}, delivered, now=0.0) == []
        assert await watch.check({"MT1": pc}, delivered, now=2.0) == []  # no packets: no media
        # 4-99 lost, never retransmitted: packets come, frames do not.
        arrive(*range(100, 110))
        assert await watch.check({"MT1": pc}, delivered, now=2.5) == []  # 0.5 s: not yet
        arrive(*range(110, 120))
        assert delivered["MT1"] == 3
        assert await watch.check({"MT1": pc}, delivered, now=3.0) == ["MT1"]
        arrive(*range(130, 133))
        assert delivered["MT1"] == 5
        assert await watch.check({"MT1": pc}, delivered, now=5.0) == []  # frames flow
        assert watch.restarts == 1
    finally:
        await pc.close()


class _OneSubscription(AiortcClient):
    """A client whose only connection is one video subscription, ``pc``, probed by a script."""

    rtc_configuration = local_rtc_configuration()

    def __init__(self, pc: RTCPeerConnection | None, answers: list[MediaState]) -> None:
        super().__init__()
        self.pc = pc
        self.answers = answers

        async def probe(_connections: object) -> MediaState:
            return self.answers.pop(0)

        self.liveness.probe = probe  # type: ignore[method-assign,assignment]

    @property
    def connected(self) -> bool:
        return True

    def _peer_connections(self) -> list[RTCPeerConnection]:
        return [] if self.pc is None else [self.pc]

    def _subscriptions(self) -> dict[str, RTCPeerConnection]:
        return {} if self.pc is None else {"MT1": self.pc}

    async def _remake_media(self) -> None:
        pass

    async def disconnect(self) -> None:
        pass

    async def _close_media(self) -> None:
        pass


async def test_after_an_outage_the_stall_watch_starts_anew() -> None:
    # Before: the frames and packets it counted before the outage were compared with those
    # after, as if the outage had been a stall: reception was restarted a second time on the
    # tick media came back (the first restart, at reconnection, is the watch loop's own).
    pc = RTCPeerConnection(local_rtc_configuration())
    client = _OneSubscription(pc, ["connected", "failed", "failed", "connected", "connected"])
    try:
        arrive, buffer = video_fed_by_hand(pc, client.frames_received)
        monitor = client._monitor = ConnectionMonitor("standup")
        arrive(*range(4))
        await client._watch_tick(monitor, now=0.0)
        assert monitor.condition == CONNECTED
        await client._watch_tick(monitor, now=0.5)  # the outage: nothing arrives
        await client._watch_tick(monitor, now=1.0)
        assert monitor.condition == MEDIA_PATH_DOWN
        arrive(*range(100, 103))  # back, and the watch restarts reception
        await client._watch_tick(monitor, now=1.5)
        assert monitor.condition == CONNECTED
        assert (buffer._origin, client.video_stalls.restarts) == (None, 0)
        arrive(*range(103, 106))  # frames flow from the restart on
        await client._watch_tick(monitor, now=2.0)
        assert (client.frames_received["MT1"], client.video_stalls.restarts) == (5, 0)
    finally:
        await client.aclose()
        await pc.close()


async def test_a_connection_whose_consent_expired_fails_the_media_path() -> None:
    # Before: aioice gives such a connection up and aiortc closes it without its ever being
    # failed (its DTLS transport ends first), and nothing was told: the Room stayed connected,
    # its subscription dead (1 outage in about 90 of the bench's Janus loop).
    client = _OneSubscription(None, [])
    monitor = client._monitor = ConnectionMonitor("standup")
    ours, theirs = client._new_peer_connection(), RTCPeerConnection(local_rtc_configuration())
    try:
        with consent_checked_every(0.1):  # six checks unanswered: about 3.5 s
            client.pc = ours
            await connect(ours, theirs)
            deafen(theirs)
            await until(lambda: ours.connectionState == "closed")
        assert ours.iceConnectionState == "closed"  # never "failed"
        assert consent_expired(ours)
        assert monitor.condition == MEDIA_PATH_DOWN
        told = client.events().receive_nowait()
        assert (told.type, getattr(told, "error_code", None)) == ("room.reconnecting", 53405)
    finally:
        await client.aclose()
        await close_peer_connection(ours)
        await close_peer_connection(theirs)


async def test_a_connection_the_far_end_closes_does_not_fail_the_media_path() -> None:
    # A server ending a subscription closes its end (the transport hears why on signaling):
    # this connection then closes beneath the transport too, and is no media failure.
    client = _OneSubscription(None, [])
    monitor = client._monitor = ConnectionMonitor("standup")
    ours, theirs = client._new_peer_connection(), RTCPeerConnection(local_rtc_configuration())
    try:
        client.pc = ours
        await connect(ours, theirs)
        await theirs.close()
        await until(lambda: ours.connectionState == "closed")
        assert not consent_expired(ours)
        assert monitor.condition == CONNECTED
        with pytest.raises(anyio.WouldBlock):
            client.events().receive_nowait()
    finally:
        await client.aclose()
        await close_peer_connection(ours)
        await close_peer_connection(theirs)
