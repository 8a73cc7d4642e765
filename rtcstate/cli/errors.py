"""``rtcstate errors``: explain an error from a log line."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rtcstate import catalog
from rtcstate.catalog import CatalogEntry
from rtcstate.errors import UnknownCatalogEntry

__all__ = ['errors']

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


