"""Tools for testing applications and adapters against rtcstate's models.

* :class:`TransitionCoverage` records which edges of which machines ran, and reports the rest.
* :func:`example_events` builds valid events that may fire one given edge of a machine.
* :func:`shortest_path_to` finds events that drive a fresh machine along a given edge.
"""

from rtcstate.testing.coverage import TransitionCoverage
from rtcstate.testing.paths import PathStep, example_event, example_events, shortest_path_to

__all__ = [
    "PathStep",
    "TransitionCoverage",
    "example_event",
    "example_events",
    "shortest_path_to",
]
