"""What the commands share: the readable timeline, its JSON records, and the CLI's log lines."""

from __future__ import annotations

import json
import logging
import os
import sys

import typer
from rich.console import Console
from rich.text import Text

from rtcstate.logs import LOGGER_NAME
from rtcstate.models import StateChange

__all__ = [
    "ROLE_STYLES",
    "SECRET_HELP",
    "Origin",
    "StderrHandler",
    "change_json",
    "format_change",
    "quiet_logs",
    "require_aiortc",
    "resolve_secret",
]

ROLE_STYLES = {
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


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The command's own handler on the ``rtcstate`` logger (recognised, so never added twice)."""


def quiet_logs(verbose: bool) -> None:
    """Write rtcstate's log lines to stderr: errors always, transitions when ``verbose``."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
        logger.removeHandler(handler)
    handler = StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.ERROR)
    logger.propagate = False



class Origin:
    """Times are printed from the start of the run: the first change's time on a real clock
    (a monotonic reading means nothing to a reader), 0 on the memory service's virtual one."""

    def __init__(self, fixed: float | None = None) -> None:
        self.at = fixed

    def since(self, change: StateChange) -> float:
        if self.at is None:
            self.at = change.at
        return change.at - self.at


def format_change(participant: str, change: StateChange, at: float | None = None) -> Text:
    style = ROLE_STYLES.get(change.role, "")
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


def change_json(participant: str, change: StateChange, elapsed: float) -> str:
    """The change as JSON: ``at`` on the run's own clock (comparable with other readings of
    it), ``elapsed`` in seconds since the run started."""
    return json.dumps({"participant": participant, **change.to_dict(),
                       "elapsed": round(elapsed, 6)})


SECRET_HELP = "The key tokens are signed with (32+ bytes); default: $RTCSTATE_SECRET."


def resolve_secret(secret: str | None, command: str) -> str:
    found = secret or os.environ.get("RTCSTATE_SECRET")
    if not found:
        Console(stderr=True).print(f"[red]rtcstate {command}:[/red] give --secret or set "
                                   "RTCSTATE_SECRET")
        raise typer.Exit(2)
    return found


def require_janus(command: str) -> None:
    """Exit 3 with the reason when a Janus of the command's own cannot run here."""
    from rtcstate.testing.janus import janus_unavailable

    reason = janus_unavailable()
    if reason is not None:
        Console(stderr=True).print(f"[red]rtcstate {command}:[/red] --transport janus: {reason}")
        raise typer.Exit(3)


def require_aiortc(command: str) -> None:
    try:
        import rtcstate.adapters.aiortc  # noqa: F401
    except ImportError as exc:
        Console(stderr=True).print(f"[red]rtcstate {command}:[/red] {exc}")
        raise typer.Exit(3) from None
