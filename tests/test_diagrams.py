"""Diagrams: rendered from the specs, deterministic, fresh, and true to the runtime machine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rtcstate import diagrams
from rtcstate.cli import app
from rtcstate.statemachines import SPECS
from rtcstate.statemachines.runtime import _Engine
from rtcstate.statemachines.spec import Role

DIAGRAMS = Path(__file__).resolve().parents[1] / "diagrams"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed here "
                               "(.ci/run installs it, so CI checks the SVGs)")
runner = CliRunner()


def test_checked_in_mermaid_and_readme_are_fresh() -> None:
    assert diagrams.check(DIAGRAMS, ["mermaid"]) == []


@needs_dot
def test_checked_in_svgs_are_fresh() -> None:
    assert diagrams.check(DIAGRAMS, ["svg"]) == []


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_output_is_deterministic(kind: str) -> None:
    first, second = diagrams.extract(SPECS[kind]), diagrams.extract(SPECS[kind])
    assert diagrams.to_mermaid(first) == diagrams.to_mermaid(second)
    assert diagrams.to_dot(first) == diagrams.to_dot(second)
    if HAS_DOT:
        assert diagrams.render_svg(diagrams.to_dot(first)) == diagrams.render_svg(
            diagrams.to_dot(second))


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_drawn_edges_are_the_runtime_machines_edges(kind: str) -> None:
    """What the picture shows is what transitions executes: same (source, trigger, dest)."""
    drawn = {key for edge in diagrams.extract(SPECS[kind]).edges for key in edge.keys}
    machine = _Engine(SPECS[kind]).machine
    running = {(source, trigger, t.dest or source)
               for trigger, event in machine.events.items()
               for source, transitions in event.transitions.items() for t in transitions}
    assert drawn == running


def test_reconnect_warning_cleared_and_escalation_look_different() -> None:
    styles = {role: diagrams._ROLE_STYLE[role] for role in (
        Role.RECONNECT, Role.WARNING, Role.CLEARED, Role.ESCALATION)}
    assert len({dot for dot, _ in styles.values()}) == 4
    assert len({mermaid for _, mermaid in styles.values()}) == 4
    room = diagrams.to_dot(diagrams.extract(SPECS["room"]))
    assert 'reconnecting\\n53001 | 53405", color="#8250df", penwidth=2' in room
    track = diagrams.to_mermaid(diagrams.extract(SPECS["local_track"]))
    assert "escalate<br/>recording-media-lost<br/>after options.warning_escalation_timeout" in track


def test_table_lists_guard_timeout_and_errors() -> None:
    table = diagrams.to_table(diagrams.extract(SPECS["room"]))
    assert ("| `connect_failed` | `connecting` | `waiting_to_retry` | retry | attempts_remain |"
            "  | 53000, 53005, 53006, 53500, 53501 |") in table
    assert ("| `disconnected` | `reconnecting` | `disconnected` | failure |  | "
            "options.reconnect.window | 53001, 53002, 53003, 53004, 53118, 53205, 53216, 53405, "
            "53407, 53408 |") in table


def test_check_names_stale_and_missing_files(tmp_path: Path) -> None:
    diagrams.write(tmp_path, ["mermaid"])
    (tmp_path / "room.mmd").write_text("drawn by hand\n")
    (tmp_path / "device.mmd").unlink()
    assert sorted(diagrams.check(tmp_path, ["mermaid"])) == [
        "device.mmd (missing)", "room.mmd (stale)"]
    result = runner.invoke(app, ["diagrams", "--check", "--format", "mermaid",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "stale: room.mmd (stale)" in result.stderr
    assert "stale: device.mmd (missing)" in result.stderr


def test_cli_writes_and_checks(tmp_path: Path) -> None:
    result = runner.invoke(app, ["diagrams", "--format", "mermaid,dot", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{k}.{ext}" for k in SPECS for ext in ("mmd", "dot")] + ["README.md"])
    ok = runner.invoke(app, ["diagrams", "--check", "--format", "mermaid,dot",
                             "--out", str(tmp_path)])
    assert (ok.exit_code, ok.stdout.strip()) == (0, "diagrams are up to date")
    bad = runner.invoke(app, ["diagrams", "--format", "png", "--out", str(tmp_path)])
    assert bad.exit_code == 2
    assert "unknown format" in bad.stderr


def test_without_graphviz_svg_says_how_to_install_and_mermaid_still_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = runner.invoke(app, ["diagrams", "--out", str(tmp_path)])
    assert result.exit_code == 3
    assert "apt-get install graphviz" in result.stderr
    assert runner.invoke(app, ["diagrams", "--format", "mermaid",
                               "--out", str(tmp_path)]).exit_code == 0


def test_trace_highlights_what_a_run_did(tmp_path: Path) -> None:
    demo = runner.invoke(app, ["demo", "--json"])
    trace = diagrams.read_trace(demo.stdout.splitlines())
    room = diagrams.extract(SPECS["room"])
    counts = {edge.keys[0]: trace.edge_count("room", edge) for edge in room.edges
              if len(edge.keys) == 1}
    assert counts[("connecting", "connect_failed", "waiting_to_retry")] == 1
    assert counts[("connected", "disconnected", "disconnected")] == 1  # the 53205 kick
    assert counts[("idle", "connect", "connecting")] == 3  # alice, bob, bob#2
    assert trace.visited("device", "silent")
    assert not trace.visited("device", "insecure_context")
    mermaid = diagrams.to_mermaid(room, trace)
    assert "× 3" in mermaid
    assert "class idle,connecting,waiting_to_retry,connected,reconnecting,disconnected visited" \
        in mermaid
    run = tmp_path / "run.jsonl"
    run.write_text(demo.stdout)
    result = runner.invoke(app, ["diagrams", "--trace", str(run), "--format", "mermaid",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0
    assert (tmp_path / "out" / "room-trace.mmd").read_text() == mermaid


def test_a_bad_trace_line_is_named() -> None:
    good = json.dumps({"machine": "room", "source": "idle", "event": "connect",
                       "dest": "connecting"})
    with pytest.raises(ValueError, match="trace line 2"):
        diagrams.read_trace([good, "not json"])


def test_readme_embeds_the_diagrams() -> None:
    generated = (DIAGRAMS / "README.md").read_text()
    for kind in SPECS:
        assert f"({kind}.svg)" in generated
    main = (DIAGRAMS.parent / "README.md").read_text()
    assert "![Room](diagrams/room.svg)" in main
