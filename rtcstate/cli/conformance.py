"""``rtcstate conformance``: every generated path on a transport, as a table."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from rtcstate.cli._output import quiet_logs, require_aiortc, require_janus

if TYPE_CHECKING:
    from rtcstate.testing.aiortc import AiortcHarness
    from rtcstate.testing.janus_harness import JanusHarness

__all__ = ["conformance"]


def conformance(
    transport: Annotated[str, typer.Option(
        help="'memory' (the in-memory service, virtual time), 'aiortc' (the reference room "
             "server on loopback, real WebRTC; about two minutes) or 'janus' (a Janus started "
             "in a network namespace: root and Debian's janus; about four minutes).")]
    = "memory",
    machine: Annotated[list[str] | None, typer.Option(
        help="Only this machine's paths: room, local_track, remote_track, participant "
             "(repeat for more; all by default).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per path.")] = False,
    replay: Annotated[Path | None, typer.Option(
        help="Run only the path in this fixture (one a failed run saved).")] = None,
    save: Annotated[Path, typer.Option(
        help="Where a failing path is saved, as a fixture for --replay.")]
    = Path("conformance-failures"),
) -> None:
    """Act out every generated path on a transport and check each step (and media)."""
    import anyio

    from rtcstate.testing.conformance import (
        SUBJECTS,
        MemoryHarness,
        UnsupportedStep,
        check_path,
        conformance_paths,
        path_from_json,
        path_id,
    )

    if transport not in ("memory", "aiortc", "janus"):
        Console(stderr=True).print(f"[red]rtcstate conformance:[/red] --transport is 'memory', "
                                   f"'aiortc' or 'janus', not {transport!r}")
        raise typer.Exit(2)
    unknown = [m for m in machine or () if m not in SUBJECTS]
    if unknown:
        Console(stderr=True, soft_wrap=True).print(
            f"[red]rtcstate conformance:[/red] --machine is one of {', '.join(SUBJECTS)}, "
            f"not {unknown[0]!r}")
        raise typer.Exit(2)
    if transport in ("aiortc", "janus"):
        require_aiortc("conformance")
    if transport == "janus":
        require_janus("conformance")
    quiet_logs(False)
    paths = [path for subject in SUBJECTS if not machine or subject in machine
             for path in conformance_paths(subject)]
    if replay is not None:
        try:
            paths = [path_from_json(replay.read_text(encoding="utf-8"))]
        except (OSError, ValueError) as exc:
            Console(stderr=True, soft_wrap=True).print(
                f"[red]rtcstate conformance:[/red] --replay {replay}: {exc}")
            raise typer.Exit(2) from None

    def harness() -> MemoryHarness | AiortcHarness | JanusHarness:
        if transport == "aiortc":
            from rtcstate.testing.aiortc import AiortcHarness

            return AiortcHarness()
        if transport == "janus":
            from rtcstate.testing.janus_harness import JanusHarness

            return JanusHarness(tag="cli")
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
            except UnsupportedStep as exc:
                row |= {"result": "skip", "media": "", "detail": str(exc)}
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
    skipped = [row for row in rows if row["result"] == "skip"]
    if not as_json:
        passed = len(rows) - len(failed) - len(skipped)
        title = f"conformance on {transport}: {passed} of {len(rows)} paths pass"
        if skipped:
            title += f", {len(skipped)} skipped"
        console = Console()
        console.print(title)
        for subject in SUBJECTS:
            mine = [row for row in rows if str(row["path"]).startswith(f"{subject}:")]
            if not mine:
                continue
            # One table per machine, its edges without the machine's prefix: the rows fit
            # 80 columns; a long edge folds rather than squeezing the result column away.
            table = Table(title=subject, title_justify="left")
            table.add_column("path (the edge it ends with)", overflow="fold")
            for column in ("steps", "result", "s", "media"):
                table.add_column(column, no_wrap=True)
            for row in mine:
                table.add_row(str(row["path"]).removeprefix(f"{subject}:"), str(row["steps"]),
                              _RESULTS[str(row["result"])], f"{row['seconds']:.1f}",
                              _short_media(str(row["media"])))
            console.print(table)
        console = Console(soft_wrap=True)
        unchecked = {str(row["media"]) for row in rows if str(row["media"]).startswith("not")}
        for reason in sorted(unchecked):
            console.print(f"[dim]{reason}[/dim]")
        for row in skipped:
            console.print(f"[yellow]skipped[/yellow] {row['detail']}")
        for row in failed:
            console.print(f"[red]{row['path']}[/red]: {row['detail']}")
            if "saved" in row:
                console.print(f"  saved: {row['saved']} (rtcstate conformance --transport "
                              f"{transport} --replay {row['saved']})")
    if failed:
        raise typer.Exit(1)


_RESULTS = {"pass": "[green]pass[/green]", "fail": "[red]fail[/red]",
            "skip": "[yellow]skip[/yellow]"}


def _short_media(media: str) -> str:
    if media.startswith("checked after "):
        return f"after {media.split()[2]}"
    return "no" if media else ""
