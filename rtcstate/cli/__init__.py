"""The ``rtcstate`` command: look up errors, run the demo, draw the machines, serve a room.

Every command prints readable, coloured output by default and one JSON document (or one JSON
object per line, for streams) with ``--json``; a bad argument is one line on stderr and exit
status 2. One module per command group: :mod:`.errors`, :mod:`.demo`, :mod:`.specs`
(``diagrams``, ``paths``), :mod:`.conformance`, :mod:`.webrtc` (``serve``, ``token``,
``join``); each only parses arguments and calls the library (the stories are in
:mod:`rtcstate.demos`).
"""

from __future__ import annotations

import signal

import typer

from rtcstate.cli import conformance, demo, errors, specs, webrtc

__all__ = ["app", "main"]

app = typer.Typer(
    name="rtcstate",
    help="Lifecycles of a real-time video client as explicit state machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The commands, in the order ``rtcstate --help`` lists them.
for command in (errors.errors, demo.demo, specs.diagrams, specs.paths,
                conformance.conformance, webrtc.serve, webrtc.token, webrtc.join):
    app.command()(command)


def main() -> None:
    """Entry point of the ``rtcstate`` console script (and of ``python -m rtcstate.cli``).

    Output cut short by a closed pipe (``rtcstate errors | head``) ends the process quietly,
    as with any Unix filter (the default SIGPIPE action), instead of an error and status 1.
    """
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    app()
