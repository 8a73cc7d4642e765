"""Loss detection and recovery over a real link that is cut: the reference server and Janus.

The reference room server runs in one network namespace, ``rtcstate join`` in another, joined
by a veth link (see :mod:`rtcstate.testing.netns`). Janus runs in a namespace of its own
(:class:`~rtcstate.testing.janus.JanusServer`) with two clients here: the one measured
publishes a camera, the other subscribes to it. Ten times each: cut the link, note how long
until the client is ``reconnecting`` (target < 1 s); after one second restore it, note how long
until it is ``connected`` again (and, on Janus, until the subscriber's frames flow again).
Prints the median and the maximum of each, both servers in the same run.

Then media only (issue 20): with the reference server in a namespace of its own
(:class:`~rtcstate.testing.netns.NamespacedRoomServer`) and with Janus, ten times each, UDP is
dropped for one second while signaling passes: how long until the publisher's Room is
``reconnecting`` with 53405 (target < 2 s), and after UDP is let through, until it is
``connected`` again and until the subscriber's frames flow again. Then five times each
until aioice has given the connections up (consent checks shortened to 0.5 s apart), so that
media returns on new connections.

Needs root (and Debian's ``janus`` for the Janus halves); says why not otherwise. Run with
`make bench`.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

import anyio
import anyio.to_thread
from aiortc import RTCPeerConnection

from rtcstate.adapters.aiortc import AiortcTransport, create_access_token
from rtcstate.adapters.janus import JanusTransport
from rtcstate.testing.aiortc import consent_checked_every
from rtcstate.testing.janus import JanusServer, janus_unavailable
from rtcstate.testing.netns import (
    LineReader,
    NamespacedRoomServer,
    VethLink,
    netns_unavailable,
)

_Server = TypeVar("_Server", JanusServer, NamespacedRoomServer)

OUTAGES = 10
EXPIRING_OUTAGES = 5
OUTAGE_SECONDS = 1.0
SECRET = "rtcstate-bench-secret-of-32-bytes"
PORT = 7881


def main() -> None:
    reason = netns_unavailable()
    if reason is not None:
        print(f"link benchmark skipped: {reason}")
        return
    reference()
    anyio.run(reference_media, backend="asyncio")
    reason = janus_unavailable()
    if reason is not None:
        print(f"Janus link benchmark skipped: {reason}")
        return
    anyio.run(janus, backend="asyncio")
    anyio.run(janus_media, backend="asyncio")


def reference() -> None:
    detection, recovery = [], []
    with VethLink(tag=f"b{int(time.time()) % 10000}", subnet=7) as link:
        server = link.spawn("a", [sys.executable, "-m", "rtcstate", "serve", "--host",
                                  link.address("a"), "--port", str(PORT), "--secret", SECRET,
                                  "--heartbeat-timeout", "1"])
        server.expect(lambda line: line.startswith("listening on"), within=20)
        client: LineReader = link.spawn(
            "b", [sys.executable, "-m", "rtcstate", "join", f"ws://{link.address('a')}:{PORT}",
                  "--room", "bench", "--identity", "bot", "--secret", SECRET,
                  "--publish", "camera:video", "--json"])
        client.expect_change("room", "connected", within=20)
        for _ in range(OUTAGES):
            cut = time.monotonic()
            link.down()
            detection.append(
                client.expect_change("room", "reconnecting", within=10)["at"] - cut)
            time.sleep(OUTAGE_SECONDS)  # the outage itself
            restored = time.monotonic()
            link.up()
            recovery.append(
                client.expect_change("room", "connected", within=10)["at"] - restored)
            time.sleep(0.5)  # let the new peer connections settle before the next cut
    print(f"aiortc transport, reference server, {OUTAGES} link cuts of "
          f"{OUTAGE_SECONDS:.0f} s on a veth link:")
    _line("loss detected (reconnecting) after", detection, "(target < 1 s)")
    _line("recovered (reconnected) after restore", recovery)


def _line(what: str, seconds: list[float], note: str = "") -> None:
    print(f"  {what:<42} median {statistics.median(seconds):.3f} s"
          f"   max {max(seconds):.3f} s   {note}".rstrip())


async def janus() -> None:
    async with _running(JanusServer(tag=f"b{int(time.time()) % 10000}", subnet=21)) as server:
        await outages("Janus transport, Janus 1.1.2", "link cuts",
                      lambda _identity: JanusTransport(server.url), server.down, server.up,
                      target="< 1 s")


async def reference_media() -> None:
    tag = f"b{int(time.time()) % 10000}"
    async with _running(NamespacedRoomServer(SECRET, tag=tag, subnet=22)) as server:
        def transport(identity: str) -> AiortcTransport:
            return AiortcTransport(server.url, create_access_token(SECRET, identity=identity,
                                                                   room="bench"))

        await outages("aiortc transport, reference server", "UDP blocks (signaling passing)",
                      transport, server.link.block_udp, server.link.allow_udp, target="< 2 s")
        with consent_checked_every(0.5):
            await outages("aiortc transport, reference server", "UDP blocks",
                          transport, server.link.block_udp, server.link.allow_udp,
                          target="< 2 s", count=EXPIRING_OUTAGES, outlast_connections=True)


async def janus_media() -> None:
    async with _running(JanusServer(tag=f"b{int(time.time()) % 10000}", subnet=23)) as server:
        await outages("Janus transport, Janus 1.1.2", "UDP blocks (signaling passing)",
                      lambda _identity: JanusTransport(server.url), server.block_udp,
                      server.allow_udp, target="< 2 s")
        with consent_checked_every(0.5):
            await outages("Janus transport, Janus 1.1.2", "UDP blocks",
                          lambda _identity: JanusTransport(server.url), server.block_udp,
                          server.allow_udp, target="< 2 s", count=EXPIRING_OUTAGES,
                          outlast_connections=True)


def _all_gave_up(connections: list[RTCPeerConnection]) -> bool:
    return all(pc.connectionState in ("failed", "closed") for pc in connections)


@asynccontextmanager
async def _running(server: _Server) -> AsyncIterator[_Server]:
    """``with server:`` from async code: its start and stop (``ip``, a process) in a thread."""
    await anyio.to_thread.run_sync(server.__enter__)
    try:
        yield server
    finally:
        await anyio.to_thread.run_sync(server.__exit__, None, None, None)


async def outages(label: str, kind: str,
                  transport: Callable[[str], AiortcTransport | JanusTransport],
                  cut: Callable[[], None], restore: Callable[[], None], target: str, *,
                  count: int = OUTAGES, outlast_connections: bool = False) -> None:
    """``count`` outages of one second: ``cut`` (in a thread) until the measured client's
    Room is ``reconnecting``, then ``restore`` until it is ``connected`` and until a
    subscriber's frames flow again. ``outlast_connections``: each outage lasts until aioice
    has given up every peer connection of both clients (its consent checks 0.5 s apart
    instead of 5 s: about 3 s), so media comes back on new ones."""
    import rtcstate
    from rtcstate.dispatcher import Dispatcher
    from rtcstate.models import ConnectOptions, StateChange

    changes: list[StateChange] = []
    dispatcher = Dispatcher()
    dispatcher.on_change(lambda change: changes.append(change) if change.machine == "room"
                         else None)
    detection: list[float] = []
    recovery: list[float] = []
    media: list[float] = []
    codes: set[int | None] = set()
    watcher, bot = transport("watcher"), transport("bot")
    async with rtcstate.connect(bot, ConnectOptions(room_name="bench", identity="bot"),
                                dispatcher=dispatcher) as room, \
            rtcstate.connect(watcher, ConnectOptions(room_name="bench",
                                                     identity="watcher")) as other:
        await room.publish("camera", "video")
        assert await other.wait_until(lambda: len(other.remote_tracks) == 1, within=10)
        sid = next(iter(other.remote_tracks))
        with anyio.fail_after(10):
            await watcher.wait_for_frames(sid, 10)
        for _ in range(count):
            held = [*bot._peer_connections(), *watcher._peer_connections()]
            cut_at = time.monotonic()
            await anyio.to_thread.run_sync(cut)
            try:
                assert await room.wait_until(lambda: room.state == "reconnecting", within=10)
                detection.append(changes[-1].at - cut_at)
                codes.add(changes[-1].error.code if changes[-1].error else None)
                if outlast_connections:
                    assert await room.wait_until(partial(_all_gave_up, held), within=10)
                else:
                    await anyio.sleep(OUTAGE_SECONDS)  # the outage itself
            finally:
                restored = time.monotonic()
                await anyio.to_thread.run_sync(restore)
            assert await room.wait_until(lambda: room.state == "connected", within=10)
            recovery.append(changes[-1].at - restored)
            frames = watcher.frames_received[sid]
            with anyio.fail_after(10):
                await watcher.wait_for_frames(sid, frames + 1)
            media.append(time.monotonic() - restored)
            await anyio.sleep(0.5)
    length = ("until every connection expired" if outlast_connections
              else f"of {OUTAGE_SECONDS:.0f} s")
    print(f"{label}, {count} {kind} {length} "
          f"(codes: {', '.join(str(code) for code in sorted(codes, key=str))}):")
    _line("loss detected (reconnecting) after", detection, f"(target {target})")
    _line("recovered (reconnected) after restore", recovery)
    _line("frames at the subscriber after restore", media)


if __name__ == "__main__":
    main()
