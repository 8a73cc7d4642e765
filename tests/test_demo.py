"""The demo story: exact room sequences, and 200 seeded random-fault runs that must hold up."""

from __future__ import annotations

import pytest

from rtcstate import (
    DevicePermissionMachine,
    LifecycleMachine,
    LocalTrackPublicationMachine,
    ParticipantMachine,
    RemoteTrackPublicationMachine,
    RoomMachine,
    StateChange,
)
from rtcstate.demos.memory import DemoResult, Participant, run_story, run_story_sync

from .helpers import step

pytestmark = pytest.mark.anyio


def room_steps(participant: Participant) -> list[tuple[str | None, str, str, str | None]]:
    return [step(c) for c in participant.changes if c.machine == "room"]


async def test_story_room_sequences_and_errors() -> None:
    result = await run_story()
    alice, bob, second_bob = result.participants
    assert (alice.identity, bob.identity, second_bob.identity) == ("alice", "bob", "bob#2")
    assert room_steps(alice) == [
        ("idle", "connect", "connecting", None),
        ("connecting", "connect_failed", "waiting_to_retry", "53000-signaling-connection"),
        ("waiting_to_retry", "retry", "connecting", None),
        ("connecting", "connected", "connected", None),
        ("connected", "reconnecting", "reconnecting", "53001-signaling-disconnected"),
        ("reconnecting", "reconnected", "connected", None),
        ("connected", "disconnect", "disconnected", None),
    ]
    assert room_steps(bob) == [
        ("idle", "connect", "connecting", None),
        ("connecting", "connected", "connected", None),
        ("connected", "disconnected", "disconnected", "53205-duplicate-identity"),
    ]
    assert [s[2] for s in room_steps(second_bob)] == ["connecting", "connected", "disconnected"]
    assert result.all_terminal
    assert not result.skipped


async def test_story_covers_the_guides_scenarios() -> None:
    result = await run_story()
    alice = result.participants[0]
    seen = {(c.machine, c.id, c.event, c.dest) for c in alice.changes}
    assert ("device", "microphone", "level_measured", "silent") in seen
    assert ("device", "microphone", "level_measured", "ok") in seen
    assert ("local_track", "camera", "restart", "published") in seen
    assert ("local_track", "camera", "background", "backgrounded") in seen
    assert ("local_track", "camera", "foreground", "publishing") in seen
    assert ("local_track", "camera", "warning", "warning") in seen
    assert ("local_track", "camera", "warnings_cleared", "published") in seen
    bob = result.participants[1]
    remote = [(c.event, c.dest) for c in bob.changes if c.machine == "remote_track"]
    assert ("subscribed", "subscribed") in remote
    assert ("unsubscribed", "unsubscribed") in remote  # alice backgrounded her camera


async def test_story_is_deterministic() -> None:
    first, second = await run_story(seed=3), await run_story(seed=3)
    assert [(w, c.to_dict()) for w, c in first.changes] == [
        (w, c.to_dict()) for w, c in second.changes]


def fresh_like(machine: LifecycleMachine, first: StateChange) -> LifecycleMachine:
    """A new machine built the way ``machine`` was, to replay its events on."""
    if isinstance(machine, RoomMachine):
        return RoomMachine(machine.options)
    if isinstance(machine, LocalTrackPublicationMachine):
        return LocalTrackPublicationMachine(machine.id, machine.track_kind,
                                            notify_warnings=machine.notify_warnings,
                                            escalation_timeout=machine.escalation_timeout)
    if isinstance(machine, DevicePermissionMachine):
        return DevicePermissionMachine(machine.device_kind)
    assert isinstance(machine, ParticipantMachine | RemoteTrackPublicationMachine)
    assert first.source is None
    assert first.cause is not None
    return type(machine).from_event(first.cause)


def check_run(result: DemoResult) -> None:
    assert result.all_terminal, [(w, m) for w, m in result.machines if not m.is_terminal]
    for participant in result.participants:
        stats = participant.dispatcher.stats
        assert stats.pending == 0
        assert stats.received == stats.applied + stats.rejected
        transport = participant.transport
        if transport is not None:
            from_transport = stats.by_source.get("transport")
            received = from_transport.received if from_transport else 0
            assert received == transport.emitted
            if from_transport:
                assert from_transport.applied + from_transport.rejected == received
        for (kind, id_), machine in participant.dispatcher.machines.items():
            changes = [c for c in participant.changes if (c.machine, c.id) == (kind, id_)]
            model = fresh_like(machine, changes[0])
            for change in changes:
                if change.source is None:
                    continue
                assert change.cause is not None
                assert model.apply(change.cause).dest == change.dest
            assert model.state == machine.state, (participant.identity, kind, id_)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("seed", range(200))
async def test_seeded_random_fault_run(seed: int) -> None:
    check_run(await run_story(seed=seed, faults="random"))


def test_random_runs_do_meet_faults() -> None:
    """The random mode is not vacuous: across seeds, every kind of message fault happens."""
    totals = {"dropped": 0, "duplicated": 0, "reordered": 0, "delayed": 0, "rejected": 0}
    for seed in range(20):
        result = run_story_sync(seed=seed, faults="random")
        for name in ("dropped", "duplicated", "reordered", "delayed"):
            totals[name] += getattr(result.service.delivery, name)
        totals["rejected"] += sum(p.dispatcher.stats.rejected for p in result.participants)
    assert all(count > 0 for count in totals.values()), totals
