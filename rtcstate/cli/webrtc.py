"""``rtcstate serve``, ``token`` and ``join``: the reference room server, its tokens, a bot."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from rtcstate.cli._output import (
    SECRET_HELP,
    Origin,
    change_json,
    format_change,
    quiet_logs,
    require_aiortc,
    resolve_secret,
)
from rtcstate.limits import MAX_PUBLICATIONS
from rtcstate.models import StateChange

__all__ = ['join', 'serve', 'token']

def _survive_closed_connections() -> None:
    """Undo, for the commands that talk over the network, the default SIGPIPE action the CLI
    restores for its filters (``rtcstate errors | head``): with it, one write to a connection
    its peer had reset (a client whose link went, say) killed the whole server. Ignored, such
    a write raises ``BrokenPipeError``, which the network code handles."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one).")] = 7880,
    secret: Annotated[str | None, typer.Option(help=SECRET_HELP)] = None,
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
    require_aiortc("serve")
    _survive_closed_connections()
    from rtcstate.server import RoomServer, serve_forever

    quiet_logs(verbose)
    err = Console(stderr=True, soft_wrap=True)
    try:
        server = RoomServer(resolve_secret(secret, "serve"), host=host, port=port,
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


def token(
    identity: Annotated[str, typer.Option(help="Who joins.")],
    room: Annotated[str, typer.Option(help="The room the token grants.")],
    secret: Annotated[str | None, typer.Option(help=SECRET_HELP)] = None,
    ttl: Annotated[float, typer.Option(help="Seconds the token is valid.")] = 3600.0,
) -> None:
    """Print an access token for the reference room server."""
    require_aiortc("token")
    typer.echo(_make_token(resolve_secret(secret, "token"), identity, room, ttl, "token"))


def _make_token(secret: str, identity: str, room: str, ttl: float, command: str) -> str:
    """An access token, or a one-line usage error (exit 2) saying what is wrong."""
    from rtcstate.server.tokens import create_access_token

    try:
        return create_access_token(secret, identity=identity, room=room, ttl=ttl)
    except ValueError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]rtcstate {command}:[/red] {exc}")
        raise typer.Exit(2) from None


def join(
    url: Annotated[str, typer.Argument(help="The room server, ws://host:port.")],
    room: Annotated[str, typer.Option(help="The room to join.")],
    identity: Annotated[str, typer.Option(help="Who to join as.")],
    access_token: Annotated[str | None, typer.Option(
        "--token", help="An access token; default: made from --secret / $RTCSTATE_SECRET.")]
    = None,
    secret: Annotated[str | None, typer.Option(help=SECRET_HELP)] = None,
    publish: Annotated[list[str] | None, typer.Option(
        help="NAME:KIND to publish a synthetic track, e.g. camera:video (repeatable).")]
    = None,
    notify_warnings: Annotated[bool, typer.Option(
        "--notify-warnings", help="Ask for recording-media-lost warnings.")] = False,
    reconnect_window: Annotated[float, typer.Option(
        help="Seconds to keep reconnecting before giving up (53001).")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per change.")]
    = False,
    record: Annotated[Path | None, typer.Option(
        help="Record every remote audio track into this directory, one WAV file per "
             "subscription, for as long as it is subscribed.")] = None,
) -> None:
    """Join a room over real WebRTC as a bot and print its lifecycle until it ends.

    Leaves when stdin closes or on Ctrl-C; exits 0 when it left on its own terms, 1 when the
    room was lost, 2 on bad arguments, 4 when joining failed.
    """
    require_aiortc("join")
    _survive_closed_connections()
    import anyio

    from rtcstate.adapters.aiortc.transport import AiortcTransport
    from rtcstate.demos.bot import follow_room
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
    credential = access_token or _make_token(resolve_secret(secret, "join"), identity, room, 3600.0,
                                             "join")
    quiet_logs(False)
    options = ConnectOptions(
        room_name=room, identity=identity,
        notify_warnings=frozenset({"recording-media-lost"}) if notify_warnings else frozenset(),
        reconnect=ReconnectPolicy(window=reconnect_window))
    console = Console(highlight=False, soft_wrap=True)
    lost: list[StateChange] = []
    origin = Origin()

    def show(change: StateChange) -> None:
        if change.machine == "room" and change.dest == "disconnected" and change.error:
            lost.append(change)
        at = origin.since(change)
        if as_json:
            typer.echo(change_json(identity, change, at))
            sys.stdout.flush()
        else:
            console.print(format_change(identity, change, at))

    async def main() -> None:
        stop = anyio.Event()
        token = anyio.lowlevel.current_token()

        def watch_stdin() -> None:
            sys.stdin.read()
            with contextlib.suppress(RuntimeError):  # the run may be over already
                anyio.from_thread.run_sync(stop.set, token=token)

        # A daemon thread: a blocked read must not keep the process alive after the room ends.
        threading.Thread(target=watch_stdin, daemon=True).start()
        await follow_room(AiortcTransport(url, credential), options, tracks, show, stop,
                          record=record)

    try:
        anyio.run(main)
    except RtcRuntimeError as exc:
        err.print(f"[red]rtcstate join:[/red] {exc}")
        raise typer.Exit(4) from None
    except KeyboardInterrupt:
        pass
    if lost:
        raise typer.Exit(1)


