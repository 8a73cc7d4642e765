"""Issue 20's checks, the same on every real transport: media (UDP) or signaling (TCP) is
dropped between the clients and a server in a namespace of its own while the other passes.

Each takes ``make(identity)`` (a transport for that participant), ``options(identity,
**kw)``, and the server's ``block``/``allow`` for the protocol concerned (run in a thread:
they run ``ip``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

import rtcstate
from rtcstate import ConnectOptions, Room
from rtcstate.adapters.aiortc import AiortcTransport
from rtcstate.adapters.janus import JanusTransport
from rtcstate.models import ReconnectPolicy, StateChange
from rtcstate.testing.aiortc import consent_checked_every

from .helpers import frames, machine_codes, machine_states, recorder, until

MEDIA_NOTICED_WITHIN = 2.0
"""A media path that dies while signaling lives is ``reconnecting`` 53405 within 2 s (the
transports' probes: 0.5 s apart, two unanswered, about 1.5 s at most)."""

MEDIA_BACK_WITHIN = 5.0
"""Media is back within 0.6 s of UDP passing again, 1.4 s at most over ten outages (``make
bench``); before the transports restarted video reception, aiortc's jitter buffer froze it for
7-9 s once in ten. The bound is that it returns."""

MEDIA_REMADE_WITHIN = 10.0
"""Media is back on new connections within two attempts (``subscribe_timeout``, 2 s in the
check) after UDP passes again, once the old connections' consent expired meanwhile."""

CONSENT_EXPIRES_WITHIN = 6.0
"""aioice's consent expiry with the check's constants (6 misses, 0.4-0.6 s apart: 3.6 s)."""

RealTransport = AiortcTransport | JanusTransport
Make = Callable[[str], RealTransport]
Options = Callable[..., ConnectOptions]
Blocking = Callable[[], None]


@dataclass
class Watched:
    """Alice publishes a camera; Bob receives it and his room's changes are recorded."""

    alice: Room
    bob: Room
    alice_transport: RealTransport
    bob_transport: RealTransport
    sid: str
    seen: list[StateChange]

    def room_codes(self) -> list[tuple[str, int | None]]:
        """Bob's room's states, each with the code it carried."""
        return machine_codes(self.seen, "room")

    @property
    def track_state(self) -> str | None:
        """The state of Bob's publication of Alice's camera, if he has one."""
        track = self.bob.remote_tracks.get(self.sid)
        return None if track is None else track.state

    @property
    def received(self) -> int:
        return self.bob_transport.frames_received.get(self.sid, 0)


@asynccontextmanager
async def camera_watched(make: Make, options: Options, **bob_options: Any
                         ) -> AsyncIterator[Watched]:
    dispatcher, seen = recorder()
    alice_transport, bob_transport = make("alice"), make("bob")
    async with rtcstate.connect(alice_transport, options("alice")) as alice, \
            rtcstate.connect(bob_transport, options("bob", **bob_options),
                             dispatcher=dispatcher) as bob:
        await alice.publish("camera", "video")
        await until(bob, lambda: [t.state for t in bob.remote_tracks.values()] == ["subscribed"])
        sid = next(iter(bob.remote_tracks))
        await frames(bob_transport, [sid], 5)
        yield Watched(alice, bob, alice_transport, bob_transport, sid, seen)


async def check_media_blocked_then_allowed(make: Make, options: Options, block: Blocking,
                                           allow: Blocking) -> None:
    """53405 within 2 s, no frames while blocked; reconnected, and frames, once allowed."""
    async with camera_watched(make, options) as watched:
        bob, alice = watched.bob, watched.alice
        await anyio.to_thread.run_sync(block)
        try:
            blocked_at = anyio.current_time()
            await until(bob, lambda: bob.state == "reconnecting", within=MEDIA_NOTICED_WITHIN)
            noticed = anyio.current_time() - blocked_at
            await until(alice, lambda: alice.state == "reconnecting", within=2)
            stopped = watched.received
            await anyio.sleep(0.5)  # fifteen frames of 30 fps video, had media passed
            assert watched.received == stopped, "frames arrived through the block"
        finally:
            await anyio.to_thread.run_sync(allow)
        await until(bob, lambda: bob.state == "connected", within=5)
        await until(alice, lambda: alice.state == "connected", within=5)
        await frames(watched.bob_transport, [watched.sid], stopped + 10,
                     within=MEDIA_BACK_WITHIN)
        assert bob.remote_tracks[watched.sid].state == "subscribed"
    assert watched.room_codes() == [("connecting", None), ("connected", None),
                                    ("reconnecting", 53405), ("connected", None),
                                    ("disconnected", None)]
    assert noticed <= MEDIA_NOTICED_WITHIN


async def check_media_blocked_past_the_window(make: Make, options: Options, block: Blocking,
                                              allow: Blocking) -> None:
    """Blocked for longer than a 1 s reconnect window: disconnected with 53405."""
    async with camera_watched(make, options, reconnect=ReconnectPolicy(window=1.0)) as watched:
        bob = watched.bob
        await anyio.to_thread.run_sync(block)
        try:
            await until(bob, lambda: bob.state == "disconnected",
                        within=MEDIA_NOTICED_WITHIN + 1.0 + 1.0)
        finally:
            await anyio.to_thread.run_sync(allow)
    assert watched.room_codes() == [("connecting", None), ("connected", None),
                                    ("reconnecting", 53405), ("disconnected", 53405)]


async def check_media_blocked_until_its_connections_expire(
        make: Make, options: Options, block: Blocking, allow: Blocking, *,
        renewal_republishes: bool) -> None:
    """Blocked until aioice gives the connections up (its consent checks 0.5 s apart here,
    not 5 s: :func:`~rtcstate.testing.aiortc.consent_checked_every`), then allowed:
    the transports make their media anew and are ``reconnected``, frames flow, and the
    subscription was never told failed. ``renewal_republishes``: the service tells the others
    a publication on a new connection as unpublished and published again (Janus does), else
    the subscription carries on as it was."""
    with consent_checked_every(0.5):
        await _blocked_until_its_connections_expire(make, options, block, allow,
                                                    renewal_republishes=renewal_republishes)


async def _blocked_until_its_connections_expire(
        make: Make, options: Options, block: Blocking, allow: Blocking, *,
        renewal_republishes: bool) -> None:
    async with camera_watched(make, options) as watched:
        bob, alice = watched.bob, watched.alice
        held = [*watched.bob_transport._peer_connections(),
                *watched.alice_transport._peer_connections()]
        await anyio.to_thread.run_sync(block)
        try:
            await until(bob, lambda: bob.state == "reconnecting", within=MEDIA_NOTICED_WITHIN)
            await until(bob, lambda: all(pc.connectionState in ("failed", "closed")
                                         for pc in held), within=CONSENT_EXPIRES_WITHIN)
            stopped = watched.received
        finally:
            await anyio.to_thread.run_sync(allow)
        await until(bob, lambda: bob.state == "connected", within=MEDIA_REMADE_WITHIN)
        await until(alice, lambda: alice.state == "connected", within=MEDIA_REMADE_WITHIN)
        await until(bob, lambda: watched.track_state == "subscribed", within=MEDIA_REMADE_WITHIN)
        await frames(watched.bob_transport, [watched.sid], stopped + 10,
                     within=MEDIA_REMADE_WITHIN)
        now_held = [*watched.bob_transport._peer_connections(),
                    *watched.alice_transport._peer_connections()]
        assert now_held
        assert not set(held) & set(now_held), "media came back on a connection that gave up"
    assert watched.room_codes() == [("connecting", None), ("connected", None),
                                    ("reconnecting", 53405), ("connected", None),
                                    ("disconnected", None)]
    track_states = machine_states(watched.seen, "remote_track")
    # (Bob's room ends its remote tracks as unpublished when he leaves.)
    if renewal_republishes:  # once or more: each new connection that did not connect in time
        assert track_states[:2] == ["published", "subscribed"]
        assert track_states[-3:] == ["published", "subscribed", "unpublished"]
        assert "unpublished" in track_states[2:-1]
        assert "subscription_failed" not in track_states
    else:
        assert track_states == ["published", "subscribed", "unpublished"]


async def check_signaling_blocked(make: Make, options: Options, block: Blocking,
                                  allow: Blocking, *, media_carries_on: bool) -> None:
    """Signaling (TCP) dropped alone is still 53001; ``media_carries_on``: frames keep
    arriving meanwhile (a transport that remakes its media on a resume does not)."""
    async with camera_watched(make, options) as watched:
        bob = watched.bob
        await anyio.to_thread.run_sync(block)
        try:
            await until(bob, lambda: bob.state == "reconnecting", within=2)
            if media_carries_on:
                await frames(watched.bob_transport, [watched.sid], watched.received + 10,
                             within=2)
        finally:
            await anyio.to_thread.run_sync(allow)
        await until(bob, lambda: bob.state == "connected", within=5)
    assert watched.room_codes()[:4] == [("connecting", None), ("connected", None),
                                        ("reconnecting", 53001), ("connected", None)]
