"""Tools for testing applications and adapters against rtcstate's models.

* Paths (:mod:`rtcstate.testing.paths`): :func:`state_paths`, :func:`transition_tour`,
  :func:`simple_paths`, :func:`random_walk`, :func:`shortest_path_to`; every step carries a
  valid event. :func:`machine_variants` gives the built-in machines to run them on.
* :class:`TransitionCoverage` records which edges ran; :mod:`rtcstate.testing.pytest_plugin`
  reports it at the end of a pytest session.
* :mod:`rtcstate.testing.stateful` (needs Hypothesis: ``rtcstate[testing]``): a Hypothesis
  state machine built from a spec, to check an application against the model.
* :mod:`rtcstate.testing.conformance`: drive any transport adapter through the Room's paths.
"""

from rtcstate.testing.coverage import TransitionCoverage
from rtcstate.testing.paths import (
    Path,
    PathStep,
    Tour,
    example_event,
    example_events,
    random_walk,
    shortest_path_to,
    simple_paths,
    state_paths,
    transition_tour,
)
from rtcstate.testing.variants import Factory, machine_variants

__all__ = [
    "Factory",
    "Path",
    "PathStep",
    "Tour",
    "TransitionCoverage",
    "example_event",
    "example_events",
    "machine_variants",
    "random_walk",
    "shortest_path_to",
    "simple_paths",
    "state_paths",
    "transition_tour",
]
