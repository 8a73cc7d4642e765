"""The Participant machine: a remote participant's presence."""

from __future__ import annotations

import pytest

from rtcstate import InvalidTransition, ParticipantMachine

from .helpers import drive


def test_reconnects_then_leaves() -> None:
    assert drive(ParticipantMachine("PA2", "bob"), "reconnecting", "reconnected", "reconnecting",
                 "disconnected") == [
        ("connected", "reconnecting", "reconnecting", None),
        ("reconnecting", "reconnected", "connected", None),
        ("connected", "reconnecting", "reconnecting", None),
        ("reconnecting", "disconnected", "disconnected", None),
    ]


def test_leaves_directly_and_stays_gone() -> None:
    bob = ParticipantMachine("PA2", "bob")
    assert drive(bob, "disconnected") == [("connected", "disconnected", "disconnected", None)]
    with pytest.raises(InvalidTransition):
        drive(bob, "reconnecting")
