"""Issue 20 on the aiortc transport: the reference server runs in a namespace of its own, and
its UDP (media) or TCP (signaling) is dropped while the other passes (root only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rtcstate import ConnectOptions
from rtcstate.adapters.aiortc import AiortcTransport, create_access_token
from rtcstate.models import RetryPolicy
from rtcstate.testing.netns import NamespacedRoomServer, netns_unavailable

from .helpers import TOKEN_SECRET
from .media_path_checks import (
    check_media_blocked_past_the_window,
    check_media_blocked_then_allowed,
    check_media_blocked_until_its_connections_expire,
    check_signaling_blocked,
)

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(netns_unavailable() is not None,
                                 reason=str(netns_unavailable()))]
ROOM = "media"



@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiortc runs on asyncio only


@pytest.fixture(scope="module")
def server() -> Iterator[NamespacedRoomServer]:
    with NamespacedRoomServer(TOKEN_SECRET, subnet=1) as running:
        yield running


def maker(server: NamespacedRoomServer, **kw: Any) -> Callable[[str], AiortcTransport]:
    def make(identity: str) -> AiortcTransport:
        token = create_access_token(TOKEN_SECRET, identity=identity, room=ROOM)
        return AiortcTransport(server.url, token, **kw)
    return make


def options(identity: str, **kw: Any) -> ConnectOptions:
    return ConnectOptions(room_name=ROOM, identity=identity,
                          retry=RetryPolicy(max_attempts=1), **kw)


async def test_media_blocked_while_signaling_lives_is_53405_then_reconnected_with_frames(
        server: NamespacedRoomServer) -> None:
    await check_media_blocked_then_allowed(maker(server), options, server.link.block_udp,
                                           server.link.allow_udp)


async def test_media_blocked_until_its_connections_expire_is_remade_and_reconnected(
        server: NamespacedRoomServer) -> None:
    await check_media_blocked_until_its_connections_expire(
        maker(server, subscribe_timeout=2.0), options, server.link.block_udp,
        server.link.allow_udp, renewal_republishes=False)


async def test_media_blocked_past_the_window_is_disconnected_with_53405(
        server: NamespacedRoomServer) -> None:
    await check_media_blocked_past_the_window(maker(server), options, server.link.block_udp,
                                              server.link.allow_udp)


async def test_signaling_blocked_while_media_lives_is_still_53001(
        server: NamespacedRoomServer) -> None:
    # The aiortc transport makes its media anew on a resume: no frames meanwhile.
    await check_signaling_blocked(maker(server), options, server.link.block_tcp,
                                  server.link.allow_tcp, media_carries_on=False)
