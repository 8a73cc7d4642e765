"""``rtcstate demo``: play the guide's story (the stories are in :mod:`rtcstate.demos`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from rtcstate.cli._output import (
    Origin,
    change_json,
    format_change,
    quiet_logs,
    require_aiortc,
    require_janus,
)
from rtcstate.models import StateChange

__all__ = ['demo']

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
        help="'memory' (the in-memory service, virtual time), 'aiortc' (real WebRTC on "
             "loopback, a room server started in-process; about ten seconds) or 'janus' (a "
             "Janus started for the run in a network namespace: root and Debian's janus; "
             "about twenty seconds).")] = "memory",
) -> None:
    """Play the guide's story, one line per transition (on the in-memory service by default)."""
    from rtcstate.demos.memory import run_story_sync

    if transport not in ("memory", "aiortc", "janus"):
        Console(stderr=True).print(f"[red]rtcstate demo:[/red] --transport is 'memory', "
                                   f"'aiortc' or 'janus', not {transport!r}")
        raise typer.Exit(2)
    if faults not in ("none", "random"):
        Console(stderr=True).print(f"[red]rtcstate demo:[/red] --faults is 'none' or 'random', "
                                   f"not {faults!r}")
        raise typer.Exit(2)
    quiet_logs(verbose)
    console = Console(highlight=False, soft_wrap=True)
    origin = Origin(0.0 if transport == "memory" else None)

    def show(participant: str, change: StateChange) -> None:
        at = origin.since(change)
        if as_json:
            typer.echo(change_json(participant, change, at))
            return
        console.print(format_change(participant, change, at))
        if change.error is not None:
            console.print(Text(f"{'':>10}-> {change.error.solution}", style="dim green"))

    if transport in ("aiortc", "janus"):
        require_aiortc("demo")
        import anyio

        from rtcstate.demos.aiortc import run_aiortc_story

        if faults != "none":
            Console(stderr=True).print("[red]rtcstate demo:[/red] --faults random needs the "
                                       "memory transport")
            raise typer.Exit(2)
        story = run_aiortc_story
        if transport == "janus":
            from rtcstate.demos.janus import run_janus_story

            require_janus("demo")
            story = run_janus_story
        real = anyio.run(story, show)
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


