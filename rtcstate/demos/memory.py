"""The guide's story, end to end, on the in-memory room service (the ``rtcstate demo`` job).

Alice tests her devices (her microphone is silent at first: another app holds it), joins with
her pre-acquired tracks (the first attempt hits a signaling error and is retried), and Bob joins
and subscribes. Alice switches camera, backgrounds and foregrounds the app, loses media on her
camera for a while (a warning, then cleared), and loses signaling for three seconds
(reconnecting, then reconnected). A second client with Bob's identity joins, which disconnects
the first one (53205). Finally Alice leaves on page hide and lets go of her devices.

With ``faults="random"`` the same story runs with the service mishandling messages (dropped,
duplicated, reordered, delayed) and with random faults injected between steps, all drawn from
``seed``: a reproducible stress run. Every machine must still end in a terminal state.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Literal

import anyio

from rtcstate.adapters.base import MediaConstraints
from rtcstate.adapters.memory import (
    MemoryMediaDevices,
    MemoryRoomService,
    MemoryTransport,
    MessageFaults,
)
from rtcstate.devices import LocalDevices
from rtcstate.dispatcher import Dispatcher
from rtcstate.errors import CatalogError, RtcRuntimeError
from rtcstate.models import ConnectOptions, PreAcquiredTrack, StateChange
from rtcstate.room import Room, connect
from rtcstate.statemachines import LifecycleMachine

__all__ = ["DemoResult", "FaultMode", "Participant", "run_story", "run_story_sync"]

ROOM = "my-cool-room"
FaultMode = Literal["none", "random"]
Listener = Callable[[str, StateChange], object]

RANDOM_MESSAGE_FAULTS = MessageFaults(drop=0.03, duplicate=0.03, reorder=0.03, delay=0.03,
                                      max_delay=2.0)


@dataclass
class Participant:
    """One local participant of the story: its dispatcher, its room and what it saw."""

    identity: str
    dispatcher: Dispatcher
    transport: MemoryTransport | None = None
    room: Room | None = None
    changes: list[StateChange] = field(default_factory=list)
    join_error: CatalogError | None = None


@dataclass
class DemoResult:
    """What a run produced."""

    participants: list[Participant]
    service: MemoryRoomService
    skipped: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[tuple[str, StateChange]]:
        """Every change of every participant, in the order they happened."""
        merged = [(p.identity, c) for p in self.participants for c in p.changes]
        return sorted(merged, key=lambda item: item[1].at)

    @property
    def machines(self) -> list[tuple[str, LifecycleMachine]]:
        """Every machine of every participant."""
        return [(p.identity, m) for p in self.participants
                for m in p.dispatcher.machines.values()]

    @property
    def all_terminal(self) -> bool:
        """Whether every machine ended in a terminal state."""
        return all(machine.is_terminal for _, machine in self.machines)


class _Story:
    def __init__(self, seed: int, faults: FaultMode, listener: Listener | None) -> None:
        self.random = random.Random(seed)
        self.chaos = faults == "random"
        self.service = MemoryRoomService(
            seed=seed, rooms=[ROOM],
            message_faults=RANDOM_MESSAGE_FAULTS if self.chaos else None)
        self.listener = listener
        self.participants: list[Participant] = []
        self.skipped: list[str] = []

    def participant(self, identity: str) -> Participant:
        """A new local participant; a second client with the same identity is ``bob#2``."""
        earlier = sum(p.identity.split("#")[0] == identity for p in self.participants)
        label = f"{identity}#{earlier + 1}" if earlier else identity
        who = Participant(label, Dispatcher(clock=self.service.clock))
        who.dispatcher.on_change(who.changes.append)
        if self.listener is not None:
            listener = self.listener
            who.dispatcher.on_change(lambda change: listener(label, change))
        self.participants.append(who)
        return who

    async def advance(self, seconds: float) -> None:
        await self.service.virtual_time.advance(seconds)

    async def step(self, what: str, action: Callable[[], object]) -> None:
        """Run one action (sync or async); under random faults, an action the state no longer
        allows (or aimed at a participant already gone) is skipped, then a random fault may
        strike."""
        if not self.chaos:
            await _run(action)
            return
        try:
            await _run(action)
        except (RtcRuntimeError, LookupError) as error:
            self.skipped.append(f"{what}: {error}")
        if self.random.random() < 0.3:
            self.inject_fault()

    def inject_fault(self) -> None:
        room = self.service.identities(ROOM)
        if not room:
            return
        who = self.random.choice(room)
        fault = self.random.choice(["drop", "long_drop", "media_connection", "media", "expire",
                                    "busy"])
        if fault == "drop":
            self.service.drop_signaling(who, duration=self.random.uniform(0.5, 10))
        elif fault == "long_drop":
            self.service.drop_signaling(who, duration=60)
        elif fault == "media_connection":
            self.service.fail_media_connection(who, duration=self.random.choice([2, None]))
        elif fault == "media":
            tracks = ["microphone", "camera"]
            try:
                self.service.lose_media(who, self.random.choice(tracks),
                                        duration=self.random.uniform(1, 50))
            except LookupError:
                pass  # that track is not published right now
        elif fault == "expire":
            self.service.expire_session(who)
        else:
            self.service.busy = not self.service.busy


async def _join(story: _Story, who: Participant, options: ConnectOptions,
                stack: AsyncExitStack) -> Room | None:
    who.transport = story.service.transport()
    try:
        who.room = await stack.enter_async_context(
            connect(who.transport, options, dispatcher=who.dispatcher))
    except CatalogError as error:
        who.join_error = error
        story.skipped.append(f"{who.identity} could not join: {error}")
    return who.room


async def _play(story: _Story) -> None:
    service = story.service
    devices = MemoryMediaDevices(microphone="silent")
    alice = story.participant("alice")
    local = LocalDevices(devices, alice.dispatcher)

    # Preflight, before joining: the guide's microphone and camera tests.
    await local.acquire("microphone")
    await local.test("microphone")  # silent: another app holds the microphone
    devices.behaviour["microphone"] = "ok"  # the user closes it, as the guide recommends
    await story.advance(20)
    await local.test("microphone")
    await local.acquire("camera", MediaConstraints(facing_mode="user"))
    await local.test("camera")

    alice_options = ConnectOptions(
        room_name=ROOM, identity="alice",
        tracks=(PreAcquiredTrack(name="microphone", kind="audio"),
                PreAcquiredTrack(name="camera", kind="video")),
        notify_warnings=frozenset({"recording-media-lost"}))
    bob_options = ConnectOptions(room_name=ROOM, identity="bob")
    service.fail_next_joins("alice", 53000)  # the first attempt fails: retried after 1 s

    async with AsyncExitStack() as alice_stack:
        room = await _join(story, alice, alice_options, alice_stack)
        async with AsyncExitStack() as bob_stack:
            await _join(story, story.participant("bob"), bob_options, bob_stack)
            await story.advance(2)
            if room is not None:
                await story.step("camera switch",
                                 lambda: room.restart("camera", facing_mode="environment"))
                await story.advance(5)
                await story.step("background", lambda: room.background("camera"))
                await story.advance(60)
                await story.step("foreground", lambda: room.foreground("camera"))
                await story.advance(5)
            await story.step("media loss",
                             lambda: service.lose_media("alice", "camera", duration=33))
            await story.advance(40)  # warning after 30 s, cleared at 33 s
            await story.step("signaling drop",
                             lambda: service.drop_signaling("alice", duration=3))
            await story.advance(5)
            await _join(story, story.participant("bob"), bob_options, bob_stack)  # 53205
            await story.advance(10)
        await story.advance(30)
        if room is not None:
            await story.step("page hide", room.disconnect)
    await local.release_all()


async def _run(action: Callable[[], object]) -> None:
    result = action()
    if inspect.isawaitable(result):
        await result


async def run_story(*, seed: int = 0, faults: FaultMode = "none",
                    listener: Listener | None = None) -> DemoResult:
    """Play the story; ``listener(participant, change)`` sees each change as it happens."""
    story = _Story(seed, faults, listener)
    await _play(story)
    return DemoResult(story.participants, story.service, story.skipped)


def run_story_sync(*, seed: int = 0, faults: FaultMode = "none",
                   listener: Listener | None = None) -> DemoResult:
    """:func:`run_story` from synchronous code (on asyncio)."""
    async def main() -> DemoResult:
        return await run_story(seed=seed, faults=faults, listener=listener)

    return anyio.run(main)
