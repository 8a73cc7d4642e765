"""The Janus transport against a fake Janus on loopback: what a broken or hostile server
sends is logged and skipped, never a stopped room. Needs neither root nor Janus."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from websockets.exceptions import ConnectionClosed

import rtcstate
from rtcstate import ConnectOptions
from rtcstate.adapters.janus import JanusTransport
from rtcstate.adapters.janus.api import MAX_MESSAGE_BYTES
from rtcstate.adapters.janus.transport import _RemoteTrack
from rtcstate.models import RetryPolicy

from .helpers import captured_logs, silent_websocket_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiortc runs on asyncio only


_JUNK: list[Any] = [
    [1, 2], "text", 42, None,
    {"janus": ["event"], "sender": 2},
    {"janus": "event", "sender": 2, "plugindata": "x"},
    {"janus": "event", "sender": 2, "plugindata": {"data": {"publishers": "x"}}},
    {"janus": "event", "sender": 2, "plugindata": {"data": {"publishers": [{"streams": 3}]}}},
    {"janus": "event", "sender": 2, "plugindata": {"data": {"publishers": [
        {"id": "eve", "streams": [{"type": "video", "mid": None}, {"type": "data", "mid": "1"},
                                  {"type": "video", "mid": "2", "description": "x" * 5000},
                                  "x", 7]}]}}},
    {"janus": "event", "sender": 2, "plugindata": {"data": {"joining": {"display": "no id"}}}},
    {"janus": "event", "sender": 2, "plugindata": {"data": {"joining": {"id": ""}}}},
    {"janus": "event", "sender": 2, "plugindata": {"data": {"joining": {"id": "x" * 5000}}}},
    {"janus": "event", "sender": 2, "plugindata": {"data": {"leaving": ["x"]}}},
    {"janus": "media", "sender": 2, "mid": {"x": 1}, "receiving": "maybe"},
    {"janus": "event", "sender": {"a": 1}},
    {"janus": "success", "transaction": ["x"]},
]


async def _fake_janus(ws: Any) -> None:
    """Just enough Janus to join; then every item of ``_JUNK``, then one good ``joining``."""
    with contextlib.suppress(ConnectionClosed):
        await _answer(ws)


async def _answer(ws: Any) -> None:
    async for raw in ws:
        request = json.loads(raw)
        reply: dict[str, Any] = {"transaction": request.get("transaction")}
        kind = request.get("janus")
        if kind == "claim":
            reply.update(janus="success")
        elif kind in ("create", "attach"):
            reply.update(janus="success", data={"id": 1 if kind == "create" else 2})
        elif kind == "message" and request["body"].get("request") == "join":
            reply.update(janus="event", sender=2, plugindata={"data": {
                "videoroom": "joined", "room": "r", "id": "alice", "private_id": 7,
                "publishers": [], "attendees": []}})
            await ws.send(json.dumps(reply))
            if request["body"].get("display") == "oversize":
                await ws.send("x" * (MAX_MESSAGE_BYTES + 1))
            for junk in _JUNK:
                await ws.send(json.dumps(junk))
            await ws.send(json.dumps({"janus": "event", "sender": 2, "plugindata": {
                "data": {"joining": {"id": "bob", "display": "bob"}}}}))
            continue
        else:
            reply.update(janus="ack")
        await ws.send(json.dumps(reply))


async def test_nonsense_from_janus_is_logged_and_skipped_and_the_room_carries_on() -> None:
    from websockets.asyncio.server import serve
    from websockets.typing import Subprotocol

    protocols = [Subprotocol("janus-protocol")]
    async with serve(_fake_janus, "127.0.0.1", 0, subprotocols=protocols) as fake:
        port = next(iter(fake.sockets)).getsockname()[1]
        with captured_logs() as logs:
            async with rtcstate.connect(JanusTransport(f"ws://127.0.0.1:{port}"),
                                        ConnectOptions(room_name="r", identity="alice",
                                                       retry=RetryPolicy(max_attempts=1))
                                        ) as alice:
                assert await alice.wait_until(
                    lambda: "bob" in [p.identity for p in alice.participants.values()],
                    within=10)
                assert alice.state == "connected"
                # eve is a publisher with a good id; none of her streams is a track, and no
                # empty or overlong participant got into the room's view.
                assert sorted(p.identity for p in alice.participants.values()) == [
                    "bob", "eve"]
                assert alice.remote_tracks == {}
    bad = [r for r in logs if r.get("event") == "bad_janus_message"]
    assert bad, "no malformed notice was logged"


async def test_a_message_over_the_limit_is_not_taken_the_link_counts_as_lost() -> None:
    from websockets.asyncio.server import serve
    from websockets.typing import Subprotocol

    protocols = [Subprotocol("janus-protocol")]
    async with serve(_fake_janus, "127.0.0.1", 0, subprotocols=protocols,
                     max_size=None) as fake:
        port = next(iter(fake.sockets)).getsockname()[1]
        async with rtcstate.connect(JanusTransport(f"ws://127.0.0.1:{port}"),
                                    ConnectOptions(room_name="r", identity="oversize",
                                                   retry=RetryPolicy(max_attempts=1))
                                    ) as room:
            # The client closes the socket (1009) instead of reading MAX_MESSAGE_BYTES + 1;
            # it reconnects and claims its session again.
            assert await room.wait_until(lambda: room.state == "reconnecting", within=5)
            assert await room.wait_until(lambda: room.state == "connected", within=5)


async def test_a_join_cancelled_midway_closes_its_socket() -> None:
    async with silent_websocket_server(["janus-protocol"]) as (url, ended):
        async with JanusTransport(url, join_timeout=30) as transport:
            with anyio.move_on_after(0.3) as waited:
                await transport.connect(ConnectOptions(room_name="r", identity="alice"))
            assert waited.cancelled_caught
        # Closed when the transport ended, not whenever the garbage collector gets to it.
        with anyio.fail_after(5):
            await ended.wait()


class _StubSession:
    """Just the requests a subscription makes; the first subscriber join waits for ``go``."""

    connected = False

    def __init__(self, offer_sdp: str) -> None:
        self.offer_sdp = offer_sdp
        self.first_join = anyio.Event()
        self.go = anyio.Event()
        self.joins = 0
        self.handles = 0

    async def close(self) -> None:
        pass

    async def attach(self) -> int:
        self.handles += 1
        return self.handles

    async def detach(self, handle: int) -> None:
        pass

    async def message(self, handle: int, body: dict[str, Any],
                      jsep: dict[str, Any] | None = None) -> Any:
        from rtcstate.adapters.janus.api import Reply

        if body.get("request") == "join":
            self.joins += 1
            if self.joins == 1:
                self.first_join.set()
                await self.go.wait()
            return Reply({"videoroom": "attached"}, {"type": "offer", "sdp": self.offer_sdp}, {})
        return Reply({}, None, {})


@pytest.fixture
async def subscribing(monkeypatch: pytest.MonkeyPatch
                      ) -> AsyncIterator[tuple[JanusTransport, Any, _StubSession, list[Any]]]:
    """A joined JanusTransport on a :class:`_StubSession` with one remote track to subscribe
    to: ``(transport, track, stub, connections made)``; every connection is closed after."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    from rtcstate.adapters.aiortc import client as aiortc_client

    made: list[RTCPeerConnection] = []

    class Recorded(RTCPeerConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(aiortc_client, "RTCPeerConnection", Recorded)  # every transport's
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # nothing leaves the machine
    offerer.addTransceiver("audio", direction="sendonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    stub = _StubSession(offerer.localDescription.sdp)
    try:
        async with JanusTransport("ws://127.0.0.1:9") as transport:
            transport._janus = stub  # type: ignore[assignment]
            transport._options = ConnectOptions(room_name="r", identity="alice")
            transport._link_up = True
            track = _RemoteTrack(sid="bob/0", feed="bob", mid="0",
                                                 name="mic", kind="audio")
            transport._remote[track.sid] = track
            yield transport, track, stub, made
        assert all(pc.connectionState == "closed" for pc in made)
    finally:
        await offerer.close()


async def test_a_subscription_dropped_while_on_its_way_makes_no_connection(
        subscribing: tuple[JanusTransport, Any, _StubSession, list[Any]]) -> None:
    """The link goes while a subscription waits for Janus's offer; the resync drops it and
    subscribes again. The first one, answered late, must give up, not make a second connection
    over the one the resync made (which nobody would then close)."""
    transport, track, stub, made = subscribing
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(transport._subscribe, track)
        await stub.first_join.wait()
        await transport._subscribe(track)  # what the resync does
        stub.go.set()
    assert len(made) == 1
    assert track.pc is made[0]


async def test_two_subscriptions_asked_for_at_once_leave_one_connection(
        subscribing: tuple[JanusTransport, Any, _StubSession, list[Any]]) -> None:
    """A failed subscription's retry and the resync's both subscribe the same track again: the
    later one must replace the earlier, closing its connection, not make a second beside it
    that nobody then closes (the aioice sockets the Janus demo left behind)."""
    transport, track, stub, made = subscribing
    stub.go.set()
    await transport._drop_subscription(track)  # the failed subscription's own drop
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(transport._subscribe, track)  # the resync
        tasks.start_soon(transport._subscribe, track)  # the failed subscription's retry
    assert track.pc is not None
    assert [pc for pc in made if pc.connectionState != "closed"] == [track.pc]
