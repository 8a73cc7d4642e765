"""``python -m rtcstate.cli``: the ``rtcstate`` command."""

from rtcstate.cli import main

main()
