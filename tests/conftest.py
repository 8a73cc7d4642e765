"""Suite-wide fixtures. The transition-coverage report comes from rtcstate's own pytest plugin:
``make test`` sets ``RTCSTATE_REQUIRE_FULL_COVERAGE=1``, so a whole-suite run fails unless every
edge of every machine ran.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest

pytest_plugins = ["rtcstate.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """The CLI sets up the ``rtcstate`` logger for the process; give every test it back."""
    logger = logging.getLogger("rtcstate")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every anyio test on both backends."""
    return str(request.param)


# Modules whose tests open sockets and peer connections.
_REAL_TRANSPORT_MODULES = frozenset({
    "tests.test_aiortc", "tests.test_cli", "tests.test_janus", "tests.test_janus_conformance",
    "tests.test_janus_protocol", "tests.test_link_failure", "tests.test_liveness",
    "tests.test_media_path", "tests.test_transport_conformance",
})


@pytest.fixture(autouse=True)
def _collect_garbage_after_real_transports(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on real sockets collects garbage as it ends: what it left unclosed then fails
    it (a ResourceWarning, under ``filterwarnings = error``) instead of whichever later test
    the collector happens to run in."""
    yield
    if request.module.__name__ in _REAL_TRANSPORT_MODULES:
        gc.collect()
