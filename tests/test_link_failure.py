"""A real link cut between the room server and a client, in network namespaces of its own.

The server runs in namespace ``a``, the client (``rtcstate join --json``) in ``b``; the veth link
between them goes down and up. Needs root (skipped otherwise, with that reason; CI runs as root).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from rtcstate.testing.netns import LineReader, VethLink, netns_unavailable

from .helpers import TOKEN_SECRET

PORT = 7880
pytestmark = pytest.mark.skipif(netns_unavailable() is not None,
                                reason=str(netns_unavailable()))


@pytest.fixture
def link() -> Iterator[VethLink]:
    with VethLink() as created:
        yield created


def start(link: VethLink, window: float) -> LineReader:
    server = link.spawn("a", [sys.executable, "-m", "rtcstate", "serve", "--host",
                              link.address("a"), "--port", str(PORT), "--secret", TOKEN_SECRET,
                              "--heartbeat-timeout", "1"])
    server.expect(lambda line: line.startswith("listening on"), within=20)
    client = link.spawn("b", [sys.executable, "-m", "rtcstate", "join",
                              f"ws://{link.address('a')}:{PORT}", "--room", "r",
                              "--identity", "bob", "--secret", TOKEN_SECRET, "--publish",
                              "camera:video", "--reconnect-window", str(window), "--json"])
    client.expect_change("room", "connected", within=20)
    client.expect_change("local_track", "published", within=20)
    return client


def test_a_cut_link_is_noticed_within_a_second_and_recovered_after(link: VethLink) -> None:
    client = start(link, window=30)
    cut = time.monotonic()
    link.down()
    reconnecting = client.expect_change("room", "reconnecting", within=5)
    assert reconnecting["error"]["code"] == 53001
    assert reconnecting["at"] - cut < 1.0
    time.sleep(2)  # the outage itself: the link stays down for two seconds
    restored = time.monotonic()
    link.up()
    reconnected = client.expect_change("room", "connected", within=10)
    assert reconnected["at"] > restored
    assert reconnected["event"] == "reconnected"
    # The track is published again on a new peer connection; the room stays connected.
    assert client.process.poll() is None


def test_a_long_outage_ends_in_53001(link: VethLink) -> None:
    client = start(link, window=2)
    cut = time.monotonic()
    link.down()
    client.expect_change("room", "reconnecting", within=5)
    lost = client.expect_change("room", "disconnected", within=10)
    assert lost["error"]["code"] == 53001
    assert 2.0 <= lost["at"] - cut < 4.0
    assert client.process.wait(timeout=10) == 1  # `rtcstate join` exits 1 when the room is lost
