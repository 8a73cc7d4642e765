"""The ``rtcstate`` command: look up errors, run the demo.

Every command prints readable, coloured output by default and one JSON document (or one JSON
object per line, for streams) with ``--json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rtcstate import catalog
from rtcstate.catalog import CatalogEntry
from rtcstate.errors import UnknownCatalogEntry
from rtcstate.limits import MAX_PUBLICATIONS
from rtcstate.logs import LOGGER_NAME
from rtcstate.models import StateChange

__all__ = ["app", "main"]

app = typer.Typer(
    name="rtcstate",
    help="Lifecycles of a real-time video client as explicit state machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_ROLE_STYLES = {
    "action": "cyan",
    "ordinary": "green",
    "failure": "bold red",
    "retry": "yellow",
    "reconnect": "magenta",
    "warning": "bold yellow",
    "cleared": "bold green",
    "escalation": "bold red",
    "fallback": "blue",
}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The command's own handler on the ``rtcstate`` logger (recognised, so never added twice)."""


def _quiet_logs(verbose: bool) -> None:
    """Write rtcstate's log lines to stderr: errors always, transitions when ``verbose``."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.ERROR)
    logger.propagate = False


def _entry_json(entry: CatalogEntry) -> dict[str, object]:
    return entry.model_dump(mode="json")


def _print_entries(console: Console, entries: tuple[CatalogEntry, ...]) -> None:
    console.soft_wrap = True
    for entry in entries:
        title = Text(entry.label, style="bold")
        title.append(f"  ({entry.phase}{', retryable' if entry.retryable else ''})", style="dim")
        console.print(title)
        console.print(Text("  cause:    ", style="dim") + Text(entry.cause))
        console.print(Text("  solution: ", style="dim") + Text(entry.solution, style="green"))
        if entry.message:
            console.print(Text("  message:  ", style="dim") + Text(repr(entry.message)))
        for message in entry.browser_messages:
            console.print(Text("  browser:  ", style="dim") + Text(repr(message)))
        console.print()


def _print_index(console: Console, entries: tuple[CatalogEntry, ...],
                 phase: str | None) -> None:
    title = "rtcstate error catalog" + (f": phase {phase}" if phase else "")
    table = Table(title=f"{title} ({len(entries)} entries)", title_justify="left")
    table.add_column("code", justify="right", no_wrap=True)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    table.add_column("retryable", no_wrap=True)
    repeated = Counter(entry.name for entry in entries)
    for entry in entries:
        name = Text(entry.name)
        if repeated[entry.name] > 1:  # one row per cause: its id says which
            name.append(f"  {entry.id}", style="dim")
        table.add_row(str(entry.code or ""), name, entry.phase,
                      "yes" if entry.retryable else "no")
    console.print(table)
    console.print("For the cause and the solution: rtcstate errors CODE | NAME | \"MESSAGE\"; "
                  "one phase: --phase " + "|".join(catalog.PHASES), style="dim")


@app.command()
def errors(
    query: Annotated[str | None, typer.Argument(
        help="A code (20104, 53106), an error name (NotReadableError), an SDK message "
             "(\"Room completed\") or a browser message (\"Could not start video source\"). "
             "Omit to list every entry.")] = None,
    phase: Annotated[str | None, typer.Option(
        help="Only entries of this phase: " + ", ".join(catalog.PHASES) + ".")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Explain an error from a log line: its cause and the recommended solution."""
    console = Console()
    if phase is not None and phase not in catalog.PHASES:
        Console(stderr=True, soft_wrap=True).print(
            f"[red]rtcstate errors:[/red] --phase is one of {', '.join(catalog.PHASES)}; "
            f"not {phase!r}")
        raise typer.Exit(2)
    if query is None:
        entries = catalog.all_entries()
    else:
        try:
            entries = catalog.lookup(query)
        except UnknownCatalogEntry as exc:
            Console(stderr=True, soft_wrap=True).print(f"[red]rtcstate errors:[/red] {exc}")
            raise typer.Exit(1) from None
    if phase is not None:
        entries = tuple(e for e in entries if e.phase == phase)
        if not entries:
            Console(stderr=True, soft_wrap=True).print(
                f"[red]rtcstate errors:[/red] no entry of phase {phase!r} matches {query!r}")
            raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps([_entry_json(e) for e in entries], indent=2))
    elif query is None:
        _print_index(console, entries, phase)
    else:
        _print_entries(console, entries)


class _Origin:
    """Times are printed from the start of the run: the first change's time on a real clock
    (a monotonic reading means nothing to a reader), 0 on the memory service's virtual one."""

    def __init__(self, fixed: float | None = None) -> None:
        self.at = fixed

    def since(self, change: StateChange) -> float:
        if self.at is None:
            self.at = change.at
        return change.at - self.at


def _format_change(participant: str, change: StateChange, at: float | None = None) -> Text:
    style = _ROLE_STYLES.get(change.role, "")
    line = Text(f"{change.at if at is None else at:8.3f}s ", style="dim")
    line.append(f"{participant:<7} ", style="cyan")
    line.append(f"{change.machine:<12} ", style="bold")
    line.append(f"{change.id:<13} ")
    source = change.source if change.source is not None else "(new)"
    line.append(f"{source + ' -> ' + change.dest:<34}", style=style)
    line.append(f" {change.event}", style="italic")
    if change.error is not None:
        line.append(f"  [{change.error.label}]", style="red")
    return line


def _change_json(participant: str, change: StateChange, elapsed: float) -> str:
    """The change as JSON: ``at`` on the run's own clock (comparable with other readings of
    it), ``elapsed`` in seconds since the run started."""
    return json.dumps({"participant": participant, **change.to_dict(),
                       "elapsed": round(elapsed, 6)})


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per transition instead of the timeline.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    faults: Annotated[str, typer.Option(
        help="'none', or 'random': messages dropped, duplicated, reordered and delayed, and "
             "random faults between the story's steps (reproducible with --seed).")] = "none",
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also write the log line of each transition to stderr.")]
    = False,
    transport: Annotated[str, typer.Option(
        help="'memory' (the in-memory service, virtual time) or 'aiortc' (real WebRTC on "
             "loopback, a room server started in-process; about ten seconds).")] = "memory",
) -> None:
    """Play the guide's story, one line per transition (on the in-memory service by default)."""
    from rtcstate.demo import run_story_sync

    if transport not in ("memory", "aiortc"):
        Console(stderr=True).print(f"[red]rtcstate demo:[/red] --transport is 'memory' or "
                                   f"'aiortc', not {transport!r}")
        raise typer.Exit(2)
    if faults not in ("none", "random"):
        Console(stderr=True).print(f"[red]rtcstate demo:[/red] --faults is 'none' or 'random', "
                                   f"not {faults!r}")
        raise typer.Exit(2)
    _quiet_logs(verbose)
    console = Console(highlight=False, soft_wrap=True)
    origin = _Origin(0.0 if transport == "memory" else None)

    def show(participant: str, change: StateChange) -> None:
        at = origin.since(change)
        if as_json:
            typer.echo(_change_json(participant, change, at))
            return
        console.print(_format_change(participant, change, at))
        if change.error is not None:
            console.print(Text(f"{'':>10}-> {change.error.solution}", style="dim green"))

    if transport == "aiortc":
        _aiortc_extra("demo")
        import anyio

        from rtcstate.adapters.aiortc.story import run_aiortc_story

        if faults != "none":
            Console(stderr=True).print("[red]rtcstate demo:[/red] --faults random needs the "
                                       "memory transport")
            raise typer.Exit(2)
        real = anyio.run(run_aiortc_story, show)
        if not as_json:
            console.print(Text(
                f"\n{len(real.changes)} transitions over real WebRTC; "
                + ("every machine ended in a terminal state." if real.all_terminal
                   else "some machines did not end in a terminal state!"), style="bold"))
        if not real.all_terminal:
            raise typer.Exit(1)
        return
    result = run_story_sync(seed=seed, faults="random" if faults == "random" else "none",
                            listener=show)
    if not as_json:
        for note in result.skipped:
            console.print(Text(f"skipped: {note}", style="yellow"))
        delivery = result.service.delivery
        console.print(Text(
            f"\n{len(result.changes)} transitions, {len(result.participants)} local "
            f"participants; the service sent {delivery.sent} events "
            f"({delivery.dropped} dropped, {delivery.duplicated} duplicated, "
            f"{delivery.reordered} reordered, {delivery.delayed} delayed); "
            + ("every machine ended in a terminal state."
               if result.all_terminal else "some machines did not end in a terminal state!"),
            style="bold"))
    if not result.all_terminal:
        raise typer.Exit(1)


@app.command()
def diagrams(
    out: Annotated[Path | None, typer.Option(
        help="Where to write (default: diagrams/, or trace-diagrams/ with --trace).")] = None,
    formats: Annotated[str, typer.Option(
        "--format", help="Comma-separated: mermaid, svg, dot.")] = "mermaid,svg",
    check_only: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 naming each stale or missing file.")] = False,
    trace: Annotated[Path | None, typer.Option(
        help="The output of 'rtcstate demo --json': highlight what that run did.")] = None,
) -> None:
    """Render every machine's diagram from its spec (Mermaid, SVG, DOT) and diagrams/README.md."""
    from rtcstate import diagrams as render

    err = Console(stderr=True, soft_wrap=True)
    chosen = [f for f in formats.split(",") if f.strip()]
    try:
        if check_only:
            stale = render.check(out or Path("diagrams"), chosen)
            for name in stale:
                err.print(f"stale: {name}")
            if stale:
                err.print("run 'rtcstate diagrams' to regenerate them")
                raise typer.Exit(1)
            typer.echo("diagrams are up to date")
            return
        run = None
        if trace is not None:
            run = render.read_trace(trace.read_text(encoding="utf-8").splitlines())
        target = out or Path("trace-diagrams" if trace is not None else "diagrams")
        written = render.write(target, chosen, trace=run)
    except render.GraphvizMissing as exc:
        err.print(f"[red]rtcstate diagrams:[/red] {exc}")
        raise typer.Exit(3) from None
    except (ValueError, OSError) as exc:
        err.print(f"[red]rtcstate diagrams:[/red] {exc}")
        raise typer.Exit(2) from None
    for path in written:
        typer.echo(str(path))


@app.command()
def paths(
    machine: Annotated[str, typer.Argument(help="room, participant, local_track, "
                                                "remote_track or device")],
    cover: Annotated[str, typer.Option(
        help="'transitions': a tour taking every edge; 'states': the shortest path to each "
             "state.")] = "transitions",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print generated paths through a machine, each step with the event that takes it."""
    from rtcstate.statemachines import SPECS
    from rtcstate.testing.paths import state_paths, transition_tour
    from rtcstate.testing.variants import machine_variants

    err = Console(stderr=True, soft_wrap=True)
    if machine not in SPECS:
        err.print(f"[red]rtcstate paths:[/red] no machine {machine!r}; "
                  f"choose from {', '.join(SPECS)}")
        raise typer.Exit(2)
    if cover not in ("transitions", "states"):
        err.print(f"[red]rtcstate paths:[/red] --cover is 'transitions' or 'states', not {cover!r}")
        raise typer.Exit(2)
    _quiet_logs(False)
    factories = machine_variants(machine)
    if cover == "states":
        named = state_paths(factories)
        if as_json:
            typer.echo(json.dumps({state: [s.to_dict() for s in path]
                                   for state, path in named.items()}, indent=2))
            return
        console = Console(highlight=False, soft_wrap=True)
        for state, path in named.items():
            steps = " -> ".join(s.edge.trigger for s in path) or "(initial)"
            console.print(Text(f"{state:<20}", style="bold") + Text(steps))
        return
    tour = transition_tour(factories)
    if as_json:
        typer.echo(json.dumps({
            "machine": machine, "edges": tour.edges, "covered": len(tour.covered),
            "length": tour.length,
            "walks": [{"variant": index, "steps": [s.to_dict() for s in path]}
                      for index, path in tour.walks]}, indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    for number, (index, path) in enumerate(tour.walks, start=1):
        console.print(Text(f"walk {number} (variant {index}):", style="bold"))
        for step in path:
            console.print(f"  {step.edge.source} --{step.edge.trigger}--> {step.edge.dest}")
    console.print(Text(f"\n{len(tour.covered)} of {tour.edges} transitions in a tour of "
                       f"{tour.length} steps ({tour.length / tour.edges:.2f} per transition)",
                       style="bold"))


_SECRET_HELP = "The key tokens are signed with (32+ bytes); default: $RTCSTATE_SECRET."


def _secret(secret: str | None, command: str) -> str:
    import os

    found = secret or os.environ.get("RTCSTATE_SECRET")
    if not found:
        Console(stderr=True).print(f"[red]rtcstate {command}:[/red] give --secret or set "
                                   "RTCSTATE_SECRET")
        raise typer.Exit(2)
    return found


def _aiortc_extra(command: str) -> None:
    try:
        import rtcstate.adapters.aiortc  # noqa: F401
    except ImportError as exc:
        Console(stderr=True).print(f"[red]rtcstate {command}:[/red] {exc}")
        raise typer.Exit(3) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one).")] = 7880,
    secret: Annotated[str | None, typer.Option(help=_SECRET_HELP)] = None,
    max_participants: Annotated[int, typer.Option(help="Per room (53105 beyond).")] = 50,
    max_publications: Annotated[int, typer.Option(
        help="Tracks one participant may publish at once (53203 beyond).")] = MAX_PUBLICATIONS,
    join_deadline: Annotated[float, typer.Option(
        help="Seconds a connection has, in all, to join; then it is closed.")] = 10.0,
    max_connections: Annotated[int, typer.Option(
        help="Open signaling connections at once, in all.")] = 1000,
    max_connections_per_address: Annotated[int, typer.Option(
        help="Open signaling connections at once from one IP address.")] = 50,
    ad_hoc_rooms: Annotated[bool, typer.Option(
        help="Create rooms on first join; --no-ad-hoc-rooms refuses unknown ones (53106).")]
    = True,
    room: Annotated[list[str] | None, typer.Option(help="A room that exists from the start.")]
    = None,
    reconnect_window: Annotated[float, typer.Option(
        help="Seconds an interrupted participant is held to resume.")] = 30.0,
    heartbeat_timeout: Annotated[float, typer.Option(
        help="Seconds of silence after which a participant is interrupted.")] = 1.0,
    media_timeout: Annotated[float, typer.Option(
        help="Seconds without frames before recording-media-lost.")] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log to stderr.")] = False,
) -> None:
    """Run the reference room server (WebSocket signaling + aiortc media) until interrupted."""
    _aiortc_extra("serve")
    from rtcstate.adapters.aiortc.jobs import serve_forever
    from rtcstate.adapters.aiortc.server import RoomServer

    _quiet_logs(verbose)
    err = Console(stderr=True, soft_wrap=True)
    try:
        server = RoomServer(_secret(secret, "serve"), host=host, port=port,
                            max_participants=max_participants,
                            max_publications=max_publications, join_deadline=join_deadline,
                            max_connections=max_connections,
                            max_connections_per_address=max_connections_per_address,
                            ad_hoc_rooms=ad_hoc_rooms,
                            rooms=room or (), reconnect_window=reconnect_window,
                            heartbeat_timeout=heartbeat_timeout, media_timeout=media_timeout)
    except ValueError as exc:
        err.print(f"[red]rtcstate serve:[/red] {exc}")
        raise typer.Exit(2) from None

    def ready(url: str) -> None:
        typer.echo(f"listening on {url}")
        sys.stdout.flush()

    import anyio

    try:
        anyio.run(serve_forever, server, ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the port is taken, or the address is not this host's
        err.print(f"[red]rtcstate serve:[/red] cannot listen on {host}:{port}: "
                  f"{exc.strerror or exc}")
        raise typer.Exit(2) from None


@app.command()
def token(
    identity: Annotated[str, typer.Option(help="Who joins.")],
    room: Annotated[str, typer.Option(help="The room the token grants.")],
    secret: Annotated[str | None, typer.Option(help=_SECRET_HELP)] = None,
    ttl: Annotated[float, typer.Option(help="Seconds the token is valid.")] = 3600.0,
) -> None:
    """Print an access token for the reference room server."""
    _aiortc_extra("token")
    typer.echo(_make_token(_secret(secret, "token"), identity, room, ttl, "token"))


def _make_token(secret: str, identity: str, room: str, ttl: float, command: str) -> str:
    """An access token, or a one-line usage error (exit 2) saying what is wrong."""
    from rtcstate.adapters.aiortc.tokens import create_access_token

    try:
        return create_access_token(secret, identity=identity, room=room, ttl=ttl)
    except ValueError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]rtcstate {command}:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def join(
    url: Annotated[str, typer.Argument(help="The room server, ws://host:port.")],
    room: Annotated[str, typer.Option(help="The room to join.")],
    identity: Annotated[str, typer.Option(help="Who to join as.")],
    access_token: Annotated[str | None, typer.Option(
        "--token", help="An access token; default: made from --secret / $RTCSTATE_SECRET.")]
    = None,
    secret: Annotated[str | None, typer.Option(help=_SECRET_HELP)] = None,
    publish: Annotated[list[str] | None, typer.Option(
        help="NAME:KIND to publish a synthetic track, e.g. camera:video (repeatable).")]
    = None,
    notify_warnings: Annotated[bool, typer.Option(
        "--notify-warnings", help="Ask for recording-media-lost warnings.")] = False,
    reconnect_window: Annotated[float, typer.Option(
        help="Seconds to keep reconnecting before giving up (53001).")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per change.")]
    = False,
) -> None:
    """Join a room over real WebRTC as a bot and print its lifecycle until it ends.

    Leaves when stdin closes or on Ctrl-C; exits 0 when it left on its own terms, 1 when the
    room was lost, 2 on bad arguments, 4 when joining failed.
    """
    _aiortc_extra("join")
    import anyio

    from rtcstate.adapters.aiortc.jobs import follow_room
    from rtcstate.adapters.aiortc.transport import AiortcTransport
    from rtcstate.errors import RtcRuntimeError
    from rtcstate.models import ConnectOptions, ReconnectPolicy

    err = Console(stderr=True, soft_wrap=True)
    tracks: list[tuple[str, Literal["audio", "video"]]] = []
    for spec in publish or ():
        name, _, kind = spec.partition(":")
        if not name or kind not in ("audio", "video"):
            err.print(f"[red]rtcstate join:[/red] --publish is NAME:audio or NAME:video, "
                      f"not {spec!r}")
            raise typer.Exit(2)
        tracks.append((name, "audio" if kind == "audio" else "video"))
    if not url.startswith(("ws://", "wss://")):
        err.print(f"[red]rtcstate join:[/red] the server's address is ws://host:port, "
                  f"not {url!r}")
        raise typer.Exit(2)
    if access_token is not None and not access_token.strip():
        err.print("[red]rtcstate join:[/red] --token is empty; give a token, or leave it out "
                  "to make one from --secret / $RTCSTATE_SECRET")
        raise typer.Exit(2)
    credential = access_token or _make_token(_secret(secret, "join"), identity, room, 3600.0,
                                             "join")
    _quiet_logs(False)
    options = ConnectOptions(
        room_name=room, identity=identity,
        notify_warnings=frozenset({"recording-media-lost"}) if notify_warnings else frozenset(),
        reconnect=ReconnectPolicy(window=reconnect_window))
    console = Console(highlight=False, soft_wrap=True)
    lost: list[StateChange] = []
    origin = _Origin()

    def show(change: StateChange) -> None:
        if change.machine == "room" and change.dest == "disconnected" and change.error:
            lost.append(change)
        at = origin.since(change)
        if as_json:
            typer.echo(_change_json(identity, change, at))
            sys.stdout.flush()
        else:
            console.print(_format_change(identity, change, at))

    async def main() -> None:
        stop = anyio.Event()
        token = anyio.lowlevel.current_token()

        def watch_stdin() -> None:
            sys.stdin.read()
            with contextlib.suppress(RuntimeError):  # the run may be over already
                anyio.from_thread.run_sync(stop.set, token=token)

        # A daemon thread: a blocked read must not keep the process alive after the room ends.
        threading.Thread(target=watch_stdin, daemon=True).start()
        await follow_room(AiortcTransport(url, credential), options, tracks, show, stop)

    try:
        anyio.run(main)
    except RtcRuntimeError as exc:
        err.print(f"[red]rtcstate join:[/red] {exc}")
        raise typer.Exit(4) from None
    except KeyboardInterrupt:
        pass
    if lost:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``rtcstate`` console script (and of ``python -m rtcstate.cli``).

    Output cut short by a closed pipe (``rtcstate errors | head``) ends the process quietly,
    as with any Unix filter (the default SIGPIPE action), instead of an error and status 1.
    """
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    app()


if __name__ == "__main__":
    main()
