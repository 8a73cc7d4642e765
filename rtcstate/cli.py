"""The ``rtcstate`` command: look up errors, run the demo.

Every command prints readable, coloured output by default and one JSON document (or one JSON
object per line, for streams) with ``--json``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import structlog
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rtcstate import catalog
from rtcstate.catalog import CatalogEntry
from rtcstate.errors import UnknownCatalogEntry
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


def _quiet_logs(verbose: bool) -> None:
    """Send structlog's lines to stderr, transitions only when ``verbose``."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.INFO if verbose else logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


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
        for message in entry.messages:
            console.print(Text("  message:  ", style="dim") + Text(repr(message)))
        console.print()


def _print_index(console: Console, entries: tuple[CatalogEntry, ...]) -> None:
    table = Table(title="rtcstate error catalog", title_justify="left")
    table.add_column("code", justify="right", no_wrap=True)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    table.add_column("retryable", no_wrap=True)
    for entry in entries:
        table.add_row(str(entry.code or ""), entry.name, entry.phase,
                      "yes" if entry.retryable else "no")
    console.print(table)
    console.print("For the cause and the solution: rtcstate errors CODE | NAME | \"MESSAGE\"",
                  style="dim")


@app.command()
def errors(
    query: Annotated[str | None, typer.Argument(
        help="A code (53106), an error name (NotReadableError) or a browser message "
             "(\"Could not start video source\"). Omit to list every entry.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Explain an error from a log line: its cause and the recommended solution."""
    console = Console()
    if query is None:
        entries = catalog.all_entries()
    else:
        try:
            entries = catalog.lookup(query)
        except UnknownCatalogEntry as exc:
            Console(stderr=True, soft_wrap=True).print(f"[red]rtcstate errors:[/red] {exc}")
            raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps([_entry_json(e) for e in entries], indent=2))
    elif query is None:
        _print_index(console, entries)
    else:
        _print_entries(console, entries)


def _format_change(participant: str, change: StateChange) -> Text:
    style = _ROLE_STYLES.get(change.role, "")
    line = Text(f"{change.at:8.3f}s ", style="dim")
    line.append(f"{participant:<7} ", style="cyan")
    line.append(f"{change.machine:<12} ", style="bold")
    line.append(f"{change.id:<13} ")
    source = change.source if change.source is not None else "(new)"
    line.append(f"{source + ' -> ' + change.dest:<34}", style=style)
    line.append(f" {change.event}", style="italic")
    if change.error is not None:
        line.append(f"  [{change.error.label}]", style="red")
    return line


def _change_json(participant: str, change: StateChange) -> str:
    return json.dumps({"participant": participant, **change.to_dict()})


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per transition instead of the timeline.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    faults: Annotated[str, typer.Option(
        help="'none', or 'random': messages dropped, duplicated, reordered and delayed, and "
             "random faults between the story's steps (reproducible with --seed).")] = "none",
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also write the structlog line of each transition to stderr.")]
    = False,
) -> None:
    """Play the guide's story on the in-memory room service, one line per transition."""
    from rtcstate.demo import run_story_sync

    if faults not in ("none", "random"):
        Console(stderr=True).print(f"[red]rtcstate demo:[/red] --faults is 'none' or 'random', "
                                   f"not {faults!r}")
        raise typer.Exit(2)
    _quiet_logs(verbose)
    console = Console(highlight=False, soft_wrap=True)

    def show(participant: str, change: StateChange) -> None:
        if as_json:
            typer.echo(_change_json(participant, change))
            return
        console.print(_format_change(participant, change))
        if change.error is not None:
            console.print(Text(f"{'':>10}-> {change.error.solution}", style="dim green"))

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


def main() -> None:
    """Entry point of the ``rtcstate`` console script."""
    app()
