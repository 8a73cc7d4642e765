"""``rtcstate diagrams`` and ``rtcstate paths``: what the specs draw and generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from rtcstate.cli._output import quiet_logs

__all__ = ['diagrams', 'paths']

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
    quiet_logs(False)
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


