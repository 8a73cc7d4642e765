"""``rtcstate conformance``: every generated Room path on a transport, as a table."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from rtcstate.cli._output import quiet_logs, require_aiortc

if TYPE_CHECKING:
    from rtcstate.testing.aiortc import AiortcHarness

__all__ = ["conformance"]


def conformance(
    transport: Annotated[str, typer.Option(
        help="'memory' (the in-memory service, virtual time) or 'aiortc' (the reference room "
             "server on loopback, real WebRTC; about a minute).")] = "memory",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per path.")] = False,
    replay: Annotated[Path | None, typer.Option(
        help="Run only the path in this fixture (one a failed run saved).")] = None,
    save: Annotated[Path, typer.Option(
        help="Where a failing path is saved, as a fixture for --replay.")]
    = Path("conformance-failures"),
) -> None:
    """Act out every generated Room path on a transport and check each step (and media)."""
    import anyio

    from rtcstate.testing.conformance import (
        MemoryHarness,
        check_path,
        path_from_json,
        path_id,
        room_paths,
    )

    if transport not in ("memory", "aiortc"):
        Console(stderr=True).print(f"[red]rtcstate conformance:[/red] --transport is 'memory' "
                                   f"or 'aiortc', not {transport!r}")
        raise typer.Exit(2)
    if transport == "aiortc":
        require_aiortc("conformance")
    quiet_logs(False)
    paths = room_paths()
    if replay is not None:
        try:
            paths = [path_from_json(replay.read_text(encoding="utf-8"))]
        except (OSError, ValueError) as exc:
            Console(stderr=True, soft_wrap=True).print(
                f"[red]rtcstate conformance:[/red] --replay {replay}: {exc}")
            raise typer.Exit(2) from None

    def harness() -> MemoryHarness | AiortcHarness:
        if transport == "aiortc":
            from rtcstate.testing.aiortc import AiortcHarness

            return AiortcHarness()
        return MemoryHarness()

    rows: list[dict[str, object]] = []

    async def run() -> None:
        for path in paths:
            started = time.monotonic()
            row: dict[str, object] = {"path": path_id(path), "steps": len(path)}
            try:
                async with harness() as h:
                    result = await check_path(h, path)
                row |= {"result": "pass", "media": result.media}
            except AssertionError as exc:  # ConformanceFailure, MediaFailure
                row |= {"result": "fail", "media": "", "detail": str(exc)}
                fixture = getattr(exc, "replay", "")
                if fixture:
                    save.mkdir(parents=True, exist_ok=True)
                    saved = save / (path_id(path).replace(":", "_").replace(">", "")
                                    .replace("--", "_") + ".json")
                    saved.write_text(fixture, encoding="utf-8")
                    row["saved"] = str(saved)
            row["seconds"] = round(time.monotonic() - started, 3)
            rows.append(row)
            if as_json:
                typer.echo(json.dumps(row))

    anyio.run(run)
    failed = [row for row in rows if row["result"] == "fail"]
    if not as_json:
        table = Table(title=f"conformance on {transport}: {len(rows) - len(failed)} of "
                            f"{len(rows)} paths pass", title_justify="left")
        for column in ("path", "steps", "result", "s", "media checked"):
            table.add_column(column, no_wrap=True)
        for row in rows:
            table.add_row(str(row["path"]).removeprefix("room:"), str(row["steps"]),
                          "[green]pass[/green]" if row["result"] == "pass" else "[red]fail[/red]",
                          f"{row['seconds']:.1f}", _short_media(str(row["media"])))
        console = Console(soft_wrap=True)
        console.print(table)
        unchecked = {str(row["media"]) for row in rows if str(row["media"]).startswith("not")}
        for reason in sorted(unchecked):
            console.print(f"[dim]{reason}[/dim]")
        for row in failed:
            console.print(f"[red]{row['path']}[/red]: {row['detail']}")
            if "saved" in row:
                console.print(f"  saved: {row['saved']} (rtcstate conformance --transport "
                              f"{transport} --replay {row['saved']})")
    if failed:
        raise typer.Exit(1)


def _short_media(media: str) -> str:
    if media.startswith("checked after "):
        return f"after {media.split()[2]}"
    return "no" if media else ""
