"""Model-based testing: tours, paths, walks, Hypothesis machines, adapter conformance."""

from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import sys
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from typer.testing import CliRunner

from rtcstate import SPECS, ConnectOptions, RoomMachine, StateChange
from rtcstate.adapters.base import Transport
from rtcstate.adapters.memory import MemoryTransport
from rtcstate.cli import app
from rtcstate.dispatcher import Dispatcher
from rtcstate.models import Event, RoomReconnected
from rtcstate.statemachines import LifecycleMachine
from rtcstate.testing.conformance import (
    LEFT_OUT,
    SUBJECTS,
    BaseHarness,
    ConformanceFailure,
    MemoryHarness,
    UnsupportedStep,
    check_path,
    conformance_paths,
    path_from_json,
    path_id,
    path_to_json,
    room_paths,
)
from rtcstate.testing.paths import (
    Path,
    random_walk,
    simple_paths,
    state_paths,
    transition_tour,
)
from rtcstate.testing.stateful import state_machine_test
from rtcstate.testing.variants import machine_variants

KINDS = sorted(SPECS)
runner = CliRunner()


def replay(factory: Any, path: Path) -> LifecycleMachine:
    machine: LifecycleMachine = factory()
    for step in path:
        change = machine.apply(step.event)
        assert (change.source, change.event, change.dest) == (
            step.edge.source, step.edge.trigger, step.edge.dest)
    return machine


@pytest.mark.parametrize("kind", KINDS)
def test_transition_tour_covers_every_transition(kind: str) -> None:
    factories = machine_variants(kind)
    tour = transition_tour(factories)
    assert tour.covered == {edge.key for edge in SPECS[kind].edges()}
    assert tour.edges == len(list(SPECS[kind].edges()))
    assert tour.edges <= tour.length <= 3 * tour.edges  # greedy, but not wasteful
    for index, path in tour.walks:
        replay(factories[index], path)
    print(f"{kind}: tour of {tour.length} steps for {tour.edges} transitions")


@pytest.mark.parametrize("kind", KINDS)
def test_shortest_paths_reach_every_state(kind: str) -> None:
    paths = state_paths(machine_variants(kind))
    assert set(paths) == set(SPECS[kind].state_names)
    for state, path in paths.items():
        end = replay(next(f for f in machine_variants(kind) if _replays(f, path)), path)
        assert end.state == state


def _replays(factory: Any, path: Path) -> bool:
    try:
        replay(factory, path)
    except Exception:  # noqa: BLE001 - this variant cannot take the path
        return False
    return True


@pytest.mark.parametrize("kind", KINDS)
def test_simple_paths_repeat_no_state_and_respect_the_bound(kind: str) -> None:
    factory = machine_variants(kind)[0]
    found = list(simple_paths(factory, max_length=4))
    assert found
    for path in found:
        assert 1 <= len(path) <= 4
        visited = [path[0].edge.source, *(s.edge.dest for s in path)]
        assert len(visited) == len(set(visited))
        replay(factory, path)


@pytest.mark.parametrize("kind", KINDS)
def test_random_walks_are_seeded_and_honour_guards(kind: str) -> None:
    for factory in machine_variants(kind):
        walks = [random_walk(factory, seed=seed, max_steps=30) for seed in range(30)]
        for walk in walks:
            replay(factory, walk)
        again = random_walk(factory, seed=7, max_steps=30)
        assert [s.event for s in again] == [s.event for s in walks[7]]
        assert len({tuple(s.edge.key for s in w) for w in walks}) > 1


@pytest.mark.parametrize("kind", KINDS)
def test_every_step_carries_a_valid_event(kind: str) -> None:
    for _, path in transition_tour(machine_variants(kind)).walks:
        for step in path:
            assert isinstance(step.event, Event)
            assert type(step.event).model_validate(step.event.model_dump()) == step.event


@pytest.mark.parametrize("kind", KINDS)
def test_hypothesis_machine_runs_a_thousand_steps(kind: str) -> None:
    for factory in machine_variants(kind):
        model = state_machine_test(factory)
        # Hypothesis draws how many steps each example takes: derandomize, and ask for
        # enough examples that the total clears 1,000 with room to spare.
        run_state_machine_as_test(model, settings=settings(
            max_examples=100, stateful_step_count=30, deadline=None, database=None,
            derandomize=True, suppress_health_check=[HealthCheck.too_slow]))
        assert model.steps_taken >= 1000, model.steps_taken  # type: ignore[attr-defined]


class Banner:
    """An application handler under test: shows a banner while the room is reconnecting."""

    def __init__(self) -> None:
        self.shown = False

    def handle(self, change: StateChange) -> None:
        self.shown = change.dest == "reconnecting"

    def check(self, room: LifecycleMachine) -> None:
        assert self.shown == (room.state == "reconnecting")


class StickyBanner(Banner):
    """A buggy handler: forgets to hide the banner when the room is disconnected."""

    def handle(self, change: StateChange) -> None:
        if change.dest == "reconnecting":
            self.shown = True
        elif change.event == "reconnected":
            self.shown = False


OPTIONS = ConnectOptions(room_name="r", identity="alice")


def test_an_application_handler_checked_against_the_model() -> None:
    run_state_machine_as_test(state_machine_test(lambda: RoomMachine(OPTIONS), app=Banner),
                              settings=settings(max_examples=60, deadline=None, database=None))


def test_a_buggy_handler_is_caught() -> None:
    # Finding the bug is the point; shrinking the example would only cost time.
    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            state_machine_test(lambda: RoomMachine(OPTIONS), app=StickyBanner),
            settings=settings(max_examples=200, deadline=None, database=None,
                              derandomize=True, phases=[Phase.generate]))


PATHS = room_paths()


def test_conformance_paths_cover_the_adapter_side_of_the_room() -> None:
    ends = {path[-1].edge.key for path in PATHS}
    assert "room:reconnecting--reconnected-->connected" in ends
    assert "room:connected--disconnected-->disconnected" in ends
    assert "room:connecting--connect_failed-->waiting_to_retry" in ends
    assert len(ends) == len(list(SPECS["room"].edges())) - 2  # joining-time disconnects


def test_conformance_paths_reach_every_edge_of_the_four_machines_but_those_left_out() -> None:
    ends = [path_id(path) for path in conformance_paths()]
    every = [edge.key for kind in SUBJECTS for edge in SPECS[kind].edges()]
    assert sorted(ends) == sorted(set(every) - set(LEFT_OUT))
    assert (len(ends), len(LEFT_OUT)) == (75, 4)  # 79 edges
    assert [path_id(p) for p in room_paths()] == ends[:11]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_memory_transport_conforms(conformance_path: Path) -> None:
    async with MemoryHarness() as harness:
        result = await check_path(harness, conformance_path)
    assert result.steps == len(conformance_path)
    assert result.media == "not checked: MemoryHarness has no check_media"


class RoomOnlyHarness(BaseHarness):
    """A third-party harness that can act out the Room's own steps only."""

    def __init__(self) -> None:
        self.inner = MemoryHarness()

    def transport(self) -> Transport:
        return self.inner.transport()

    def dispatcher(self) -> Dispatcher:
        return self.inner.dispatcher()

    async def fail_next_connect(self, identity: str, code: int) -> None:
        await self.inner.fail_next_connect(identity, code)

    async def interrupt(self, identity: str, code: Literal[53001, 53405]) -> None:
        await self.inner.interrupt(identity, code)

    async def restore(self, identity: str) -> None:
        await self.inner.restore(identity)

    async def end_session(self, identity: str, code: Literal[53002, 53205]) -> None:
        await self.inner.end_session(identity, code)

    async def advance(self, seconds: float) -> None:
        await self.inner.advance(seconds)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_step_the_harness_cannot_act_out_is_unsupported_never_a_pass() -> None:
    outcomes: dict[str, str] = {}
    for path in conformance_paths():
        try:
            await check_path(RoomOnlyHarness(), path)
            outcomes[path_id(path)] = "pass"
        except UnsupportedStep as exc:
            outcomes[path_id(path)] = str(exc)
    passed = sorted(key for key, outcome in outcomes.items() if outcome == "pass")
    # the Room's paths, and the local steps the Room API takes alone
    assert set(passed) >= {path_id(p) for p in room_paths()}
    assert "local_track:published--disable-->disabled" in passed
    assert outcomes["local_track:published--warning-->warning"] == (
        "local_track:published--warning-->warning: cannot act out "
        "local_track:published--warning-->warning: RoomOnlyHarness cannot lose a track's media")
    assert not any(key.startswith(("remote_track:", "participant:")) for key in passed)


class NeverReconnects(MemoryTransport):
    """A deliberately broken adapter: it loses every room.reconnected event."""

    def emit(self, event: Event) -> None:
        if not isinstance(event, RoomReconnected):
            super().emit(event)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_broken_adapter_is_caught_naming_the_missing_transition() -> None:
    failures: dict[str, ConformanceFailure] = {}
    for path in PATHS:
        async with MemoryHarness(NeverReconnects) as harness:
            try:
                await check_path(harness, path)
            except ConformanceFailure as caught:
                failures[path_id(path)] = caught
    assert list(failures) == ["room:reconnecting--reconnected-->connected"]
    found = failures["room:reconnecting--reconnected-->connected"]
    assert found.edge == "room:reconnecting--reconnected-->connected"
    assert "did not take room:reconnecting--reconnected-->connected" in str(found)
    replayed = path_from_json(found.replay)  # the failing path, as a fixture
    assert path_id(replayed) == "room:reconnecting--reconnected-->connected"


@pytest.mark.parametrize("path", PATHS, ids=path_id)
def test_every_path_round_trips_through_its_json_fixture(path: Path) -> None:
    again = path_from_json(path_to_json(path))
    assert [(s.edge, s.event) for s in again] == [(s.edge, s.event) for s in path]


@pytest.mark.parametrize("text", ["not json", '{"steps": [{"edge": "room:nowhere"}]}',
                                  '{"steps": [{"edge": "room:idle--connect-->connecting", '
                                  '"event": {"type": "room.teleport"}}]}', "[]"])
def test_a_fixture_that_is_not_one_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a conformance path fixture"):
        path_from_json(text)


def test_the_cli_saves_a_failing_path_and_replays_it(tmp_path: pathlib.Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from rtcstate.testing import conformance

    monkeypatch.setattr(conformance, "MemoryHarness",
                        lambda: MemoryHarness(NeverReconnects))
    failed = runner.invoke(app, ["conformance", "--save", str(tmp_path)],
                           env={"COLUMNS": "120"})
    assert failed.exit_code == 1
    assert f"{len(conformance_paths()) - 1} of {len(conformance_paths())} paths pass" in (
        failed.stdout)
    (fixture,) = tmp_path.glob("*.json")
    assert "--replay" in failed.stdout
    again = runner.invoke(app, ["conformance", "--replay", str(fixture), "--json",
                                "--save", str(tmp_path / "again")])
    assert again.exit_code == 1
    (row,) = [json.loads(line) for line in again.stdout.splitlines()]
    assert (row["path"], row["result"]) == ("room:reconnecting--reconnected-->connected", "fail")
    assert row["saved"].startswith(str(tmp_path / "again"))
    monkeypatch.undo()
    fixed = runner.invoke(app, ["conformance", "--replay", str(fixture), "--json",
                                "--save", str(tmp_path / "fixed")])
    assert fixed.exit_code == 0
    bad = runner.invoke(app, ["conformance", "--replay", str(tmp_path / "missing.json")])
    assert bad.exit_code == 2


def test_paths_cli() -> None:
    result = runner.invoke(app, ["paths", "local_track", "--json"])
    assert result.exit_code == 0
    tour = json.loads(result.stdout)
    assert (tour["covered"], tour["edges"]) == (41, 41)
    assert tour["length"] == sum(len(w["steps"]) for w in tour["walks"])
    first = tour["walks"][0]["steps"][0]
    assert first["event"]["type"] == f"local_track.{first['trigger']}"
    states = runner.invoke(app, ["paths", "room", "--cover", "states", "--json"])
    assert set(json.loads(states.stdout)) == set(SPECS["room"].state_names)
    readable = runner.invoke(app, ["paths", "room"])
    assert "13 of 13 transitions in a tour of" in readable.stdout
    assert runner.invoke(app, ["paths", "lobby"]).exit_code == 2
    assert runner.invoke(app, ["paths", "room", "--cover", "edges"]).exit_code == 2


def test_machines_copy_cheaply_for_path_search() -> None:
    room = RoomMachine(OPTIONS)
    twin = copy.copy(room)
    twin.state = "connecting"
    assert room.state == "idle"
    assert twin.options is room.options


def test_a_check_that_is_never_awaited_warns_and_is_recorded() -> None:
    from rtcstate.testing import conformance

    conformance.never_awaited.clear()
    with pytest.warns(RuntimeWarning, match=r"check_path\(<MemoryHarness>, .*\) was never "
                                            r"awaited: the path did not run"):
        check_path(MemoryHarness(), room_paths()[0])  # the bug: no await (collected at once)
    assert len(conformance.never_awaited) == 1
    conformance.never_awaited.clear()


def test_the_plugin_fails_a_test_that_forgot_to_await_its_check(tmp_path: pathlib.Path) -> None:
    (tmp_path / "test_forgot.py").write_text(
        "from rtcstate.testing.conformance import MemoryHarness, check_path, room_paths\n"
        "def test_forgot():\n"
        "    check_path(MemoryHarness(), room_paths()[0])\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-p", "rtcstate.testing.pytest_plugin", "-W", "default",
                             str(tmp_path)], capture_output=True, text=True, timeout=120,
                            check=False, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "was never awaited: the path did not run" in result.stdout


def test_the_plugin_runs_a_test_once_per_path_and_skips_what_a_harness_cannot_do(
        tmp_path: pathlib.Path) -> None:
    (tmp_path / "test_mine.py").write_text(
        "import anyio, pytest\n"
        "from rtcstate.testing.conformance import MemoryHarness, check_path\n"
        "class NoGuests(MemoryHarness):\n"
        "    async def join_guest(self):\n"
        "        raise NotImplementedError('my service has no second client')\n"
        "@pytest.mark.rtcstate_conformance('participant')\n"
        "def test_mine(conformance_path):\n"
        "    async def run():\n"
        "        async with MemoryHarness() as harness:\n"
        "            await check_path(harness, conformance_path)\n"
        "    anyio.run(run)\n"
        "@pytest.mark.rtcstate_conformance('participant', 'room')\n"
        "def test_no_guests(conformance_path):\n"
        "    async def run():\n"
        "        async with NoGuests() as harness:\n"
        "            await check_path(harness, conformance_path)\n"
        "    anyio.run(run)\n")
    (tmp_path / "typo.py").write_text(
        "import pytest\n"
        "@pytest.mark.rtcstate_conformance('lobby')\n"
        "def test_typo(conformance_path):\n"
        "    pass\n")
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
               "-p", "rtcstate.testing.pytest_plugin"]
    result = subprocess.run([*command, "test_mine.py"], capture_output=True, text=True,
                            timeout=120, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "17 passed, 6 skipped" in result.stdout
    assert "cannot act out participant:connected--reconnecting-->reconnecting: my service " \
           "has no second client" in result.stdout
    typo = subprocess.run([*command, "typo.py"], capture_output=True, text=True, timeout=120,
                          check=False, cwd=tmp_path)
    assert typo.returncode != 0
    assert "rtcstate_conformance: no generated paths for ['lobby']" in typo.stdout + typo.stderr
