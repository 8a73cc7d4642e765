"""Issue 20 on the aiortc transport: the reference server runs in a namespace of its own, and
its UDP (media) or TCP (signaling) is dropped while the other passes (root only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import rtcstate
from rtcstate import ConnectOptions
from rtcstate.adapters.aiortc import AiortcTransport, create_access_token
from rtcstate.models import ReconnectPolicy, RetryPolicy
from rtcstate.testing.netns import NamespacedRoomServer, netns_unavailable

from .helpers import TOKEN_SECRET, frames, recorder, until

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(netns_unavailable() is not None,
                                 reason=str(netns_unavailable()))]
ROOM = "media"

MEDIA_NOTICED_WITHIN = 2.0
MEDIA_BACK_WITHIN = 15.0
"""A media path that dies while signaling lives is ``reconnecting`` 53405 within 2 s."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiortc runs on asyncio only


@pytest.fixture(scope="module")
def server() -> Iterator[NamespacedRoomServer]:
    with NamespacedRoomServer(TOKEN_SECRET, subnet=1) as running:
        yield running


def transport(server: NamespacedRoomServer, identity: str) -> AiortcTransport:
    return AiortcTransport(server.url, create_access_token(TOKEN_SECRET, identity=identity,
                                                           room=ROOM))


def options(identity: str, **kw: Any) -> ConnectOptions:
    return ConnectOptions(room_name=ROOM, identity=identity,
                          retry=RetryPolicy(max_attempts=1), **kw)


def room_codes(seen: list[Any]) -> list[tuple[str, int | None]]:
    return [(c.dest, c.error.code if c.error else None) for c in seen if c.machine == "room"]


async def test_media_blocked_while_signaling_lives_is_53405_then_reconnected_with_frames(
        server: NamespacedRoomServer) -> None:
    dispatcher, seen = recorder()
    bob_t = transport(server, "bob")
    async with rtcstate.connect(transport(server, "alice"), options("alice")) as alice, \
            rtcstate.connect(bob_t, options("bob"), dispatcher=dispatcher) as bob:
        await alice.publish("camera", "video")
        await until(bob, lambda: [t.state for t in bob.remote_tracks.values()] == ["subscribed"])
        sid = next(iter(bob.remote_tracks))
        await frames(bob_t, [sid], 5)
        await anyio.to_thread.run_sync(server.link.block_udp)
        try:
            blocked_at = anyio.current_time()
            await until(bob, lambda: bob.state == "reconnecting", within=MEDIA_NOTICED_WITHIN)
            noticed = anyio.current_time() - blocked_at
            await until(alice, lambda: alice.state == "reconnecting", within=2)
            stopped = bob_t.frames_received[sid]
            await anyio.sleep(0.5)  # fifteen frames of 30 fps video, had media passed
            assert bob_t.frames_received[sid] == stopped, "frames arrived through the block"
        finally:
            await anyio.to_thread.run_sync(server.link.allow_udp)
        await until(bob, lambda: bob.state == "connected", within=5)
        await until(alice, lambda: alice.state == "connected", within=5)
        # Back within 0.55 s of the allow as a rule, but 1 time in 10 the video took 7-9 s
        # (make bench): the bound is that media returns, not how fast.
        await frames(bob_t, [sid], stopped + 10, within=MEDIA_BACK_WITHIN)
        assert bob.remote_tracks[sid].state == "subscribed"
    assert room_codes(seen) == [("connecting", None), ("connected", None),
                                ("reconnecting", 53405), ("connected", None),
                                ("disconnected", None)]
    assert noticed <= MEDIA_NOTICED_WITHIN


async def test_media_blocked_past_the_window_is_disconnected_with_53405(
        server: NamespacedRoomServer) -> None:
    dispatcher, seen = recorder()
    async with rtcstate.connect(transport(server, "alice"), options("alice")) as alice:
        await alice.publish("camera", "video")
        bob_t = transport(server, "bob")
        asked = options("bob", reconnect=ReconnectPolicy(window=1.0))
        async with rtcstate.connect(bob_t, asked, dispatcher=dispatcher) as bob:
            await until(bob, lambda: [t.state for t in bob.remote_tracks.values()]
                        == ["subscribed"])
            await anyio.to_thread.run_sync(server.link.block_udp)
            try:
                await until(bob, lambda: bob.state == "disconnected",
                            within=MEDIA_NOTICED_WITHIN + 1.0 + 1.0)
            finally:
                await anyio.to_thread.run_sync(server.link.allow_udp)
    assert room_codes(seen) == [("connecting", None), ("connected", None),
                                ("reconnecting", 53405), ("disconnected", 53405)]


async def test_signaling_blocked_while_media_lives_is_still_53001(
        server: NamespacedRoomServer) -> None:
    dispatcher, seen = recorder()
    bob_t = transport(server, "bob")
    async with rtcstate.connect(transport(server, "alice"), options("alice")) as alice, \
            rtcstate.connect(bob_t, options("bob"), dispatcher=dispatcher) as bob:
        await alice.publish("camera", "video")
        await until(bob, lambda: [t.state for t in bob.remote_tracks.values()] == ["subscribed"])
        await anyio.to_thread.run_sync(server.link.block_tcp)
        try:
            await until(bob, lambda: bob.state == "reconnecting", within=2)
        finally:
            await anyio.to_thread.run_sync(server.link.allow_tcp)
        await until(bob, lambda: bob.state == "connected", within=5)
    assert room_codes(seen)[:4] == [("connecting", None), ("connected", None),
                                    ("reconnecting", 53001), ("connected", None)]
