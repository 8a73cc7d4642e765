"""The Janus transport against a real Janus (Debian's), in a network namespace of the test's own.

Skipped with the reason when not root or Janus is missing; CI installs Janus and runs as root.
Waits are for events, with deadlines (never a sleep that waits out a timeout).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import rtcstate
from rtcstate import ConnectOptions, Room, StateChange
from rtcstate.adapters.base import Transport
from rtcstate.adapters.janus import JanusTransport
from rtcstate.dispatcher import Dispatcher
from rtcstate.models import RetryPolicy
from rtcstate.testing.janus import JanusServer, janus_unavailable

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(janus_unavailable() is not None,
                                 reason=str(janus_unavailable()))]
ROOM = "standup"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiortc runs on asyncio only


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusServer]:
    with JanusServer(tag=f"t{__import__('os').getpid() % 100000}", subnet=1) as running:
        yield running


def options(identity: str, room: str = ROOM, **kw: Any) -> ConnectOptions:
    return ConnectOptions(room_name=room, identity=identity,
                          retry=RetryPolicy(max_attempts=1), **kw)


def recorder() -> tuple[Dispatcher, list[StateChange]]:
    dispatcher = Dispatcher()
    seen: list[StateChange] = []
    dispatcher.on_change(seen.append)
    return dispatcher, seen


def states(seen: list[StateChange], machine: str) -> list[str]:
    return [c.dest for c in seen if c.machine == machine]


async def until(room: Room, predicate: Any, within: float = 10.0) -> None:
    assert await room.wait_until(predicate, within=within), "timed out waiting"


async def frames(transport: JanusTransport, sids: list[str], at_least: int,
                 within: float = 10.0) -> None:
    with anyio.fail_after(within):
        for sid in sids:
            await transport.wait_for_frames(sid, at_least)


async def test_the_transport_fits_the_protocol() -> None:
    unused = JanusTransport("ws://127.0.0.1:1")
    assert isinstance(unused, Transport)
    await unused.aclose()


async def test_two_participants_publish_subscribe_frames_unpublish_disconnect(
        janus: JanusServer) -> None:
    alice_t, bob_t = JanusTransport(janus.url), JanusTransport(janus.url)
    bob_dispatcher, bob_seen = recorder()
    alice_dispatcher, alice_seen = recorder()
    async with rtcstate.connect(alice_t, options("alice"), dispatcher=alice_dispatcher) as alice:
        async with rtcstate.connect(bob_t, options("bob"), dispatcher=bob_dispatcher) as bob:
            await alice.publish("camera", "video")
            await alice.publish("microphone", "audio")
            await until(bob, lambda: [t.state for t in bob.remote_tracks.values()]
                        == ["subscribed", "subscribed"])
            sids = sorted(bob.remote_tracks)
            await frames(bob_t, sids, 5)
            await alice.unpublish("camera")
            await until(bob, lambda: sorted(t.state for t in bob.remote_tracks.values())
                        == ["subscribed", "unpublished"])
            mic = next(s for s, t in bob.remote_tracks.items() if t.state == "subscribed")
            before = bob_t.frames_received[mic]
            await frames(bob_t, [mic], before + 5)
        await until(alice, lambda: all(p.is_terminal for p in alice.participants.values()))
    assert states(bob_seen, "room") == ["connecting", "connected", "disconnected"]
    assert states(alice_seen, "participant") == ["connected", "disconnected"]
    camera = [c.dest for c in bob_seen if c.machine == "remote_track"
              and c.id == "alice/0"]
    assert camera == ["published", "subscribed", "unsubscribed", "unpublished"]
    assert [c.dest for c in alice_seen if c.machine == "local_track" and c.id == "camera"] == [
        "publishing", "published", "unpublished", "stopped"]
