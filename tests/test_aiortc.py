"""The aiortc transport against the reference room server, end to end on loopback.

Real WebRTC: waits are for events, with deadlines (never a sleep that waits out a timeout).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

import rtcstate
from rtcstate import (
    AccessTokenError,
    ConnectOptions,
    ParticipantDuplicateIdentityError,
    Room,
    RoomMaxParticipantsExceededError,
    RoomNotFoundError,
    StateChange,
)
from rtcstate.adapters.aiortc import AiortcTransport, RoomServer, create_access_token
from rtcstate.adapters.aiortc.protocol import MAX_MESSAGE_BYTES
from rtcstate.adapters.base import Transport
from rtcstate.dispatcher import Dispatcher
from rtcstate.models import RetryPolicy

from .helpers import TOKEN_SECRET

pytestmark = pytest.mark.anyio
ROOM = "standup"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiortc runs on asyncio only


@pytest.fixture
async def server() -> AsyncIterator[RoomServer]:
    async with RoomServer(TOKEN_SECRET, media_timeout=0.5) as running:
        yield running


def transport(server: RoomServer, identity: str, room: str = ROOM, **kw: Any) -> AiortcTransport:
    token = create_access_token(TOKEN_SECRET, identity=identity, room=room)
    return AiortcTransport(server.url, token, **kw)


def options(identity: str, **kw: Any) -> ConnectOptions:
    return ConnectOptions(room_name=ROOM, identity=identity,
                          retry=RetryPolicy(max_attempts=1), **kw)


def recorder() -> tuple[Dispatcher, list[StateChange]]:
    dispatcher = Dispatcher()
    seen: list[StateChange] = []
    dispatcher.on_change(seen.append)
    return dispatcher, seen


def states(seen: list[StateChange], machine: str) -> list[str]:
    return [c.dest for c in seen if c.machine == machine]


def published_sids(seen: list[StateChange], name: str | None = None) -> set[str]:
    return {str(getattr(c.cause, "track_sid", None)) for c in seen
            if c.machine == "local_track" and c.event == "published"
            and name in (None, c.id)}


async def frames(transport: AiortcTransport, sids: list[str], at_least: int,
                 within: float = 10.0) -> None:
    """Wait until every track in ``sids`` has delivered ``at_least`` frames."""
    with anyio.fail_after(within):
        for sid in sids:
            await transport.wait_for_frames(sid, at_least)


async def until(room: Room, predicate: Any, within: float = 10.0) -> None:
    assert await room.wait_until(predicate, within=within), "timed out waiting"


async def test_the_transport_fits_the_protocol() -> None:
    unused = AiortcTransport("ws://127.0.0.1:1", "t")
    assert isinstance(unused, Transport)
    await unused.aclose()


async def test_two_participants_publish_subscribe_frames_unpublish_disconnect(
        server: RoomServer) -> None:
    alice_t, bob_t = transport(server, "alice"), transport(server, "bob")
    bob_dispatcher, bob_seen = recorder()
    alice_dispatcher, alice_seen = recorder()
    async with rtcstate.connect(alice_t, options("alice"), dispatcher=alice_dispatcher) as alice:
        async with rtcstate.connect(bob_t, options("bob"), dispatcher=bob_dispatcher) as bob:
            assert server.identities(ROOM) == ["alice", "bob"]
            await alice.publish("camera", "video")
            await alice.publish("microphone", "audio")
            await until(bob, lambda: [t.state for t in bob.remote_tracks.values()]
                        == ["subscribed", "subscribed"])
            sids = sorted(bob.remote_tracks)
            await frames(bob_t, sids, 5)
            assert published_sids(alice_seen) == set(sids)
            await alice.unpublish("camera")
            await until(bob, lambda: sorted(t.state for t in bob.remote_tracks.values())
                        == ["subscribed", "unpublished"])
        await until(alice, lambda: all(p.is_terminal for p in alice.participants.values()))
    assert states(bob_seen, "room") == ["connecting", "connected", "disconnected"]
    assert states(alice_seen, "participant") == ["connected", "disconnected"]
    camera_sid = published_sids(alice_seen, "camera").pop()
    camera = [c.dest for c in bob_seen if c.machine == "remote_track" and c.id == camera_sid]
    assert camera == ["published", "subscribed", "unsubscribed", "unpublished"]
    assert [c.dest for c in alice_seen if c.machine == "local_track" and c.id == "camera"] == [
        "publishing", "published", "unpublished", "stopped"]
    assert server.identities(ROOM) == []


async def test_a_late_joiner_subscribes_to_what_is_already_published(server: RoomServer) -> None:
    async with rtcstate.connect(transport(server, "alice"), options("alice")) as alice:
        await alice.publish("camera", "video")
        await until(alice, lambda: alice.local_tracks["camera"].state == "published")
        bob_t = transport(server, "bob")
        async with rtcstate.connect(bob_t, options("bob")) as bob:
            await until(bob, lambda: [t.state for t in bob.remote_tracks.values()]
                        == ["subscribed"])
            await frames(bob_t, list(bob.remote_tracks), 3)


@pytest.mark.parametrize(("token", "reason"), [
    (create_access_token("another-secret-of-at-least-32-bytes", identity="eve", room=ROOM),
     "bad_signature"),
    (create_access_token(TOKEN_SECRET, identity="eve", room=ROOM, ttl=1, now=1_000_000),
     "expired"),
    (create_access_token(TOKEN_SECRET, identity="eve", room="elsewhere"), "wrong_room"),
    ("not-a-jwt", "malformed"),
])
async def test_a_bad_token_is_refused_and_never_joins(server: RoomServer, token: str,
                                                      reason: str) -> None:
    dispatcher, seen = recorder()
    with pytest.raises(AccessTokenError) as info:
        async with rtcstate.connect(AiortcTransport(server.url, token), options("eve"),
                                    dispatcher=dispatcher):
            pytest.fail("joined with a bad token")
    assert info.value.reason == reason
    assert reason in str(info.value)
    assert server.identities(ROOM) == []
    assert server.stats.refused == 1
    assert states(seen, "room") == ["connecting", "disconnected"]


async def test_room_rules_are_enforced() -> None:
    async with RoomServer(TOKEN_SECRET, max_participants=1, ad_hoc_rooms=False,
                          rooms=[ROOM]) as server:
        with pytest.raises(RoomNotFoundError):
            async with rtcstate.connect(transport(server, "alice", room="nowhere"),
                                        ConnectOptions(room_name="nowhere", identity="alice")):
                pass
        async with rtcstate.connect(transport(server, "alice"), options("alice")) as alice:
            with pytest.raises(RoomMaxParticipantsExceededError):
                async with rtcstate.connect(transport(server, "bob"), options("bob")):
                    pass
            async with rtcstate.connect(transport(server, "alice"), options("alice")):
                await until(alice, lambda: alice.state == "disconnected")
                assert alice.machine.spec.kind == "room"
            assert server.identities(ROOM) == []


async def test_a_duplicate_identity_disconnects_the_older_client_with_53205(
        server: RoomServer) -> None:
    dispatcher, seen = recorder()
    async with rtcstate.connect(transport(server, "alice"), options("alice"),
                                dispatcher=dispatcher) as first:
        async with rtcstate.connect(transport(server, "alice"), options("alice")) as second:
            await until(first, lambda: first.state == "disconnected")
            assert second.state == "connected"
            assert server.identities(ROOM) == ["alice"]
    lost = [c for c in seen if c.machine == "room" and c.dest == "disconnected"]
    assert [c.error.code if c.error else None for c in lost] == [53205]
    with pytest.raises(ParticipantDuplicateIdentityError):
        raise rtcstate.error_for(lost[0].error)  # type: ignore[arg-type]


async def test_malformed_and_oversized_messages_hurt_nobody_else(server: RoomServer) -> None:
    async with rtcstate.connect(transport(server, "alice"), options("alice")) as alice:
        await alice.publish("camera", "video")
        async with ws_connect(server.url, max_size=None) as rogue:
            for junk in ("{not json", json.dumps({"type": "teleport"}), json.dumps([1, 2]),
                         json.dumps({"type": "publish", "name": "x", "kind": "video",
                                     "sdp": "v=0"})):
                await rogue.send(junk)
                answer = json.loads(await rogue.recv())
                assert answer["type"] == "problem", answer
            await rogue.send("x" * (MAX_MESSAGE_BYTES + 1))
            with pytest.raises(ConnectionClosed) as closed:
                await rogue.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009
        assert server.stats.problems == 3  # the publish before joining is answered "join first"
        async with rtcstate.connect(transport(server, "bob"), options("bob")) as bob:
            await until(bob, lambda: [t.state for t in bob.remote_tracks.values()]
                        == ["subscribed"])
        assert alice.state == "connected"


async def test_a_dropped_signaling_connection_reconnects_with_fresh_media(
        server: RoomServer) -> None:
    dispatcher, seen = recorder()
    alice_t = transport(server, "alice")
    async with rtcstate.connect(alice_t, options("alice"), dispatcher=dispatcher) as alice:
        await alice.publish("camera", "video")
        bob_t = transport(server, "bob")
        async with rtcstate.connect(bob_t, options("bob")) as bob:
            await frames(bob_t, list(bob.remote_tracks), 3)
            server.drop_signaling("alice")
            await until(alice, lambda: states(seen, "room")[-2:]
                        == ["reconnecting", "connected"])
            sid = published_sids(seen, "camera").pop()
            await frames(bob_t, [sid], bob_t.frames_received[sid] + 5)
            assert bob.remote_tracks[sid].state == "subscribed"
    lost = [c for c in seen if c.machine == "room" and c.dest == "reconnecting"]
    assert [c.error.code if c.error else None for c in lost] == [53001]
    assert server.stats.resumed == 1


async def test_media_that_stops_reaching_the_server_is_a_warning_then_cleared(
        server: RoomServer) -> None:
    dispatcher, seen = recorder()
    alice_t = transport(server, "alice")
    asked = options("alice", notify_warnings=frozenset({"recording-media-lost"}))
    async with rtcstate.connect(alice_t, asked, dispatcher=dispatcher) as alice:
        await alice.publish("camera", "video")
        await until(alice, lambda: alice.local_tracks["camera"].state == "published")
        camera = alice_t.local_media["camera"]
        camera.hold()  # type: ignore[attr-defined]
        await until(alice, lambda: alice.local_tracks["camera"].state == "warning")
        camera.release()  # type: ignore[attr-defined]
        await until(alice, lambda: alice.local_tracks["camera"].state == "published")
    warnings = [(c.dest, c.error.name if c.error else None) for c in seen
                if c.machine == "local_track" and c.role in ("warning", "cleared")]
    assert warnings == [("warning", "recording-media-lost"), ("published", None)]


async def test_without_asking_there_is_no_warning(server: RoomServer) -> None:
    alice_t = transport(server, "alice")
    async with rtcstate.connect(alice_t, options("alice")) as alice:
        await alice.publish("camera", "video")
        await until(alice, lambda: alice.local_tracks["camera"].state == "published")
        alice_t.local_media["camera"].hold()  # type: ignore[attr-defined]
        # The server's watchdog fires after 0.5 s; give it three times that, then check.
        assert not await alice.wait_until(
            lambda: alice.local_tracks["camera"].state != "published", within=1.5)


async def test_an_unreachable_server_is_a_signaling_connection_error() -> None:
    with pytest.raises(rtcstate.SignalingConnectionError):
        async with rtcstate.connect(AiortcTransport("ws://127.0.0.1:9", "token"),
                                    options("alice")):
            pass


async def test_the_server_ending_the_session_is_53002(server: RoomServer) -> None:
    dispatcher, seen = recorder()
    async with rtcstate.connect(transport(server, "alice"), options("alice"),
                                dispatcher=dispatcher) as alice:
        await server.expire_session("alice")
        await until(alice, lambda: alice.state == "disconnected")
    assert [c.error.code for c in seen if c.error] == [53002]


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_gets_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="asyncio only"):
        async with AiortcTransport("ws://127.0.0.1:1", "token"):
            pass


async def test_devices_missing_busy_and_overconstrained_map_to_the_guide(
        tmp_path: Any) -> None:
    import errno

    import av.error

    from rtcstate import (
        MediaNotFoundError,
        MediaNotReadableError,
        MediaOverconstrainedError,
    )
    from rtcstate.adapters.aiortc import AiortcMediaDevices
    from rtcstate.adapters.aiortc.media import media_error_for
    from rtcstate.adapters.base import MediaConstraints

    devices = AiortcMediaDevices(camera=str(tmp_path / "no-such-camera.mp4"))
    with pytest.raises(MediaNotFoundError) as missing:
        await devices.acquire("camera", MediaConstraints())
    assert "Requested device not found" in str(missing.value)
    busy = av.error.OSError(errno.EBUSY, "Device or resource busy", "/dev/video0")
    assert isinstance(media_error_for(busy, "camera", "/dev/video0"), MediaNotReadableError)
    unmet = av.error.ArgumentError(errno.EINVAL, "Invalid argument", "/dev/video0")
    assert isinstance(media_error_for(unmet, "camera", "/dev/video0"), MediaOverconstrainedError)
    synthetic = await AiortcMediaDevices().acquire("camera", MediaConstraints())
    assert await AiortcMediaDevices().video_frames(synthetic, 0.2) > 0
    await devices.release(synthetic)


async def test_a_publish_offer_without_a_track_is_refused_and_forgotten(
        server: RoomServer) -> None:
    from aiortc import RTCPeerConnection

    from rtcstate.adapters.aiortc import SyntheticVideoTrack
    from rtcstate.adapters.aiortc.protocol import local_rtc_configuration

    async def offer(pc: RTCPeerConnection) -> str:
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)

    empty, real = RTCPeerConnection(local_rtc_configuration()), RTCPeerConnection(
        local_rtc_configuration())
    empty.createDataChannel("nothing")  # an offer with no media section
    real.addTrack(SyntheticVideoTrack())
    token = create_access_token(TOKEN_SECRET, identity="mallory", room=ROOM)
    try:
        async with rtcstate.connect(transport(server, "bob"), options("bob")) as bob, \
                ws_connect(server.url) as ws:
            await ws.send(json.dumps({"type": "join", "room": ROOM, "token": token}))
            assert json.loads(await ws.recv())["type"] == "joined"
            for sdp, expected in ((await offer(empty), "problem"),
                                  (await offer(real), "published")):
                await ws.send(json.dumps({"type": "publish", "name": "camera",
                                          "kind": "video", "sdp": sdp}))
                answer = json.loads(await ws.recv())
                assert answer["type"] == expected, answer
            # The refused offer left nothing behind: the real one is announced as new.
            await until(bob, lambda: len(bob.remote_tracks) == 1)
    finally:
        await empty.close()
        await real.close()
