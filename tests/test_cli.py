"""The rtcstate command: errors lookups and the demo, readable and --json."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from rtcstate import catalog
from rtcstate.cli import app
from rtcstate.testing.janus import janus_unavailable

from .helpers import TOKEN_SECRET

runner = CliRunner()


def test_errors_without_argument_lists_every_entry() -> None:
    result = runner.invoke(app, ["errors", "--json"])
    assert result.exit_code == 0
    assert [e["id"] for e in json.loads(result.stdout)] == [e.id for e in catalog.all_entries()]
    table = runner.invoke(app, ["errors"])
    assert table.exit_code == 0
    assert "RoomMaxParticipantsExceededError" in table.stdout


@pytest.mark.parametrize(("query", "names"), [
    ("53106", ["RoomNotFoundError"]),
    ("53405", ["MediaConnectionError", "MediaConnectionError"]),
    ("NotAllowedError", ["NotAllowedError", "NotAllowedError"]),
    ("Could not start video source", ["NotReadableError"]),
    ("20104", ["AccessTokenExpiredError"]),
    ("53407", ["MediaDTLSTransportFailedError"] * 3),  # connect, disconnect, track
    ("Room completed", ["RoomCompletedError"]),
    ("TwilioError 53304: Track name is duplicated", ["TrackNameIsDuplicatedError"]),
])
def test_errors_answers_a_user_holding_a_log_line(query: str, names: list[str]) -> None:
    result = runner.invoke(app, ["errors", query, "--json"])
    assert result.exit_code == 0
    assert [e["name"] for e in json.loads(result.stdout)] == names


def test_errors_readable_output_shows_cause_and_solution() -> None:
    result = runner.invoke(app, ["errors", "Could not start video source"])
    assert result.exit_code == 0
    assert "NotReadableError" in result.stdout
    assert "close all other apps and tabs" in result.stdout


def test_an_sdk_code_shows_its_message_cause_and_solution() -> None:
    result = runner.invoke(app, ["errors", "20104"])
    assert result.exit_code == 0
    assert "20104 AccessTokenExpiredError" in result.stdout
    assert "'Access Token expired or expiration date invalid'" in result.stdout
    assert "fetch a fresh token" in result.stdout


def test_errors_filters_by_phase() -> None:
    result = runner.invoke(app, ["errors", "--phase", "disconnect", "--json"])
    assert result.exit_code == 0
    assert [e["code"] for e in json.loads(result.stdout)] == [
        e.code for e in catalog.by_phase("disconnect")]
    table = runner.invoke(app, ["errors", "--phase", "api"])
    assert "phase api (" in table.stdout
    assert "RoomRoomExistsError" in table.stdout
    assert "RoomNotFoundError" not in table.stdout
    both = runner.invoke(app, ["errors", "53405", "--phase", "disconnect", "--json"])
    assert [e["id"] for e in json.loads(both.stdout)] == ["53405-media-connection-disconnect"]
    neither = runner.invoke(app, ["errors", "53106", "--phase", "track"])
    assert neither.exit_code == 1
    assert "no entry of phase 'track' matches '53106'" in neither.stderr


def test_an_unknown_phase_is_a_one_line_usage_error() -> None:
    result = runner.invoke(app, ["errors", "--phase", "sideways"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "rtcstate errors: --phase is one of connect, disconnect, track, api, media, warning, "
        "preflight; not 'sideways'"]


def test_unknown_query_exits_non_zero_with_a_clear_message() -> None:
    result = runner.invoke(app, ["errors", "the printer is on fire"])
    assert result.exit_code == 1
    assert "no catalog entry matches 'the printer is on fire'" in result.stderr
    assert result.stdout == ""


def test_demo_timeline() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "every machine ended in a terminal state" in result.stdout
    assert "53000 SignalingConnectionError" in result.stdout
    assert "53205 ParticipantDuplicateIdentityError" in result.stdout
    assert "testing -> silent" in result.stdout
    assert "close all the other applications" in result.stdout  # the guide's advice, shown


def test_demo_json_is_one_object_per_transition() -> None:
    result = runner.invoke(app, ["demo", "--json"])
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(r) == {"participant", "at", "elapsed", "machine", "id", "source", "dest",
                          "event", "error"} for r in records)
    errors = [r["error"] for r in records if r["error"]]
    assert {"code": 53000, "name": "SignalingConnectionError"} in errors
    assert {"code": 53205, "name": "ParticipantDuplicateIdentityError"} in errors
    assert {"code": None, "name": "MicrophoneSilent"} in errors


def test_demo_over_real_webrtc_plays_the_same_story() -> None:
    memory = runner.invoke(app, ["demo", "--json"])
    real = runner.invoke(app, ["demo", "--json", "--transport", "aiortc"])
    assert real.exit_code == 0, real.output

    def story(output: str) -> list[tuple[str, str, str, int | None]]:
        """Alice's room and local tracks: what both transports must agree on."""
        records = [json.loads(line) for line in output.splitlines()]
        return [(r["machine"], r["id"], r["dest"], (r["error"] or {}).get("code"))
                for r in records if r["participant"] == "alice"
                and r["machine"] in ("room", "local_track", "device")]

    assert story(real.stdout) == story(memory.stdout)
    records = [json.loads(line) for line in real.stdout.splitlines()]
    assert {"code": 53205, "name": "ParticipantDuplicateIdentityError"} in [
        r["error"] for r in records]
    assert {"code": None, "name": "recording-media-lost"} in [r["error"] for r in records]
    assert records[0]["elapsed"] == 0.0  # seconds since the start
    assert max(r["elapsed"] for r in records) < 120
    memory_records = [json.loads(line) for line in memory.stdout.splitlines()]
    assert all(r["elapsed"] == r["at"] for r in memory_records)  # virtual time starts at 0


@pytest.mark.skipif(janus_unavailable() is not None, reason=str(janus_unavailable()))
def test_demo_on_janus_plays_the_same_story() -> None:
    memory = runner.invoke(app, ["demo", "--json"])
    janus = runner.invoke(app, ["demo", "--json", "--transport", "janus"])
    assert janus.exit_code == 0, janus.output

    def story(output: str) -> list[tuple[str, str, str, int | None]]:
        records = [json.loads(line) for line in output.splitlines()]
        return [(r["machine"], r["id"], r["dest"], (r["error"] or {}).get("code"))
                for r in records if r["participant"] == "alice"
                and r["machine"] in ("room", "local_track", "device")]

    assert story(janus.stdout) == story(memory.stdout)
    records = [json.loads(line) for line in janus.stdout.splitlines()]
    assert {"code": 53205, "name": "ParticipantDuplicateIdentityError"} in [
        r["error"] for r in records]


def test_an_unknown_transport_is_refused() -> None:
    result = runner.invoke(app, ["demo", "--transport", "pigeon"])
    assert result.exit_code == 2
    assert "memory" in result.output


def test_random_faults_are_reproducible_by_seed() -> None:
    first = runner.invoke(app, ["demo", "--json", "--faults", "random", "--seed", "7"])
    second = runner.invoke(app, ["demo", "--json", "--faults", "random", "--seed", "7"])
    other = runner.invoke(app, ["demo", "--json", "--faults", "random", "--seed", "8"])
    assert first.exit_code == second.exit_code == other.exit_code == 0
    assert first.stdout == second.stdout
    assert first.stdout != other.stdout


def test_unknown_fault_mode_is_refused() -> None:
    result = runner.invoke(app, ["demo", "--faults", "chaos"])
    assert result.exit_code == 2
    assert "--faults is 'none' or 'random'" in result.stderr


SECRET = "s" * 40


@pytest.mark.parametrize(("args", "says"), [
    (["token", "--identity", "", "--room", "r", "--secret", SECRET],
     "rtcstate token: identity '' would be refused: 53200 ParticipantIdentityInvalidError"),
    (["token", "--identity", "a", "--room", "r", "--ttl", "-5", "--secret", SECRET],
     "rtcstate token: ttl must be a positive number of seconds, not -5.0"),
    (["token", "--identity", "a", "--room", "r", "--secret", "abc"],
     "rtcstate token: the secret must be at least 32 bytes, not 3"),
    (["serve", "--secret", "abc"], "rtcstate serve: the secret must be at least 32 bytes"),
    (["join", "http://127.0.0.1:7880", "--room", "r", "--identity", "a", "--secret", SECRET],
     "rtcstate join: the server's address is ws://host:port, not 'http://127.0.0.1:7880'"),
    (["join", "ws://127.0.0.1:7880", "--room", "r", "--identity", "a", "--token", ""],
     "rtcstate join: --token is empty"),
])
def test_bad_arguments_are_a_one_line_usage_error(args: list[str], says: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(says)


def test_serve_on_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port), "--secret", SECRET])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"rtcstate serve: cannot listen on 127.0.0.1:{port}:")
    assert "in use" in line


def test_python_dash_m_rtcstate_cli_runs_the_command() -> None:
    result = subprocess.run([sys.executable, "-m", "rtcstate.cli", "errors", "53118"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "53118 RoomCompletedError" in result.stdout


def test_output_cut_short_by_a_closed_pipe_ends_quietly() -> None:
    with subprocess.Popen([sys.executable, "-m", "rtcstate", "errors"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # as `| head -1` does
        stderr = process.stderr.read()
        status = process.wait(timeout=60)
    assert stderr == ""
    assert status in (0, -signal.SIGPIPE)


def test_the_index_tells_the_causes_of_one_name_apart() -> None:
    result = runner.invoke(app, ["errors", "--phase", "media"], env={"COLUMNS": "100"})
    assert "NotFoundError  not-found-system-disabled" in result.stdout
    assert "NotFoundError  not-found-no-device" in result.stdout


def test_conformance_runs_every_generated_path_and_reports_each() -> None:
    from rtcstate.testing.conformance import conformance_paths, path_id, room_paths

    result = runner.invoke(app, ["conformance", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in rows] == [path_id(p) for p in conformance_paths()]
    assert {r["result"] for r in rows} == {"pass"}
    assert {r["media"] for r in rows} == {"not checked: MemoryHarness has no check_media"}
    table = runner.invoke(app, ["conformance"], env={"COLUMNS": "100"})
    assert f"conformance on memory: {len(rows)} of {len(rows)} paths pass" in table.stdout
    assert re.search(r"^participant *$", table.stdout, re.MULTILINE)  # one table per machine
    assert "│ reconnecting--reconnected-->connected " in table.stdout
    room_only = runner.invoke(app, ["conformance", "--json", "--machine", "room"])
    assert [json.loads(line)["path"] for line in room_only.stdout.splitlines()] == [
        path_id(p) for p in room_paths()]
    lobby = runner.invoke(app, ["conformance", "--machine", "lobby"])
    assert lobby.exit_code == 2
    assert lobby.stderr.count("\n") == 1
    assert "--machine is one of room, local_track, remote_track, participant, not 'lobby'" in (
        lobby.stderr)
    wrong = runner.invoke(app, ["conformance", "--transport", "pigeon"])
    assert wrong.exit_code == 2
    assert "--transport is 'memory', 'aiortc' or 'janus', not 'pigeon'" in wrong.stderr


@pytest.mark.skipif(janus_unavailable() is not None, reason=str(janus_unavailable()))
def test_conformance_on_janus_reports_passes_and_unsupported_steps() -> None:
    result = runner.invoke(app, ["conformance", "--json", "--transport", "janus",
                                 "--machine", "participant"])
    assert result.exit_code == 0, result.output
    rows = {json.loads(line)["path"]: json.loads(line) for line in result.stdout.splitlines()}
    assert rows["participant:connected--disconnected-->disconnected"]["result"] == "pass"
    assert rows["participant:connected--disconnected-->disconnected"]["media"].startswith("checked")
    skipped = rows["participant:connected--reconnecting-->reconnecting"]
    assert skipped["result"] == "skip"
    assert "Janus does not tell the others" in skipped["detail"]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
def test_the_server_survives_writes_to_connections_their_peers_reset() -> None:
    """The CLI restores SIGPIPE's default action for its filters; ``serve`` must not keep
    it, or one write to a connection its client had reset kills the server (it did, when a
    client's signaling was cut while media flowed: exit -13)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "rtcstate", "serve", "--host", "127.0.0.1", "--port", "0",
         "--secret", TOKEN_SECRET], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().startswith("listening on")
        status = pathlib.Path(f"/proc/{server.pid}/status").read_text()
        ignored = int(next(line.split()[1] for line in status.splitlines()
                           if line.startswith("SigIgn:")), 16)
        assert ignored & (1 << (signal.SIGPIPE - 1)), "serve dies of SIGPIPE"
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stdout is not None
        server.stdout.close()
