"""The scripted walk: exact room sequence, errors carried, every machine terminal."""

from __future__ import annotations

import pytest

from rtcstate.demo import run_scripted_walk

from .helpers import step

pytestmark = pytest.mark.anyio


async def test_walk_room_sequence_and_errors() -> None:
    result = await run_scripted_walk()
    room = [step(c) for c in result.changes if c.machine == "room"]
    assert room == [
        ("idle", "connect", "connecting", None),
        ("connecting", "connect_failed", "waiting_to_retry", "53000-signaling-connection"),
        ("waiting_to_retry", "retry", "connecting", None),
        ("connecting", "connected", "connected", None),
        ("connected", "reconnecting", "reconnecting", "53001-signaling-disconnected"),
        ("reconnecting", "reconnected", "connected", None),
        ("connected", "disconnect", "disconnected", None),
    ]
    assert result.all_terminal
    assert [c.at for c in result.changes] == sorted(c.at for c in result.changes)


async def test_walk_is_deterministic() -> None:
    first = await run_scripted_walk()
    second = await run_scripted_walk()
    assert [c.to_dict() for c in first.changes] == [c.to_dict() for c in second.changes]
