"""Suite-wide fixtures. The transition-coverage report comes from rtcstate's own pytest plugin:
``make test`` sets ``RTCSTATE_REQUIRE_FULL_COVERAGE=1``, so a whole-suite run fails unless every
edge of every machine ran.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

pytest_plugins = ["rtcstate.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """The CLI configures structlog for the process; give every test the defaults back."""
    yield
    structlog.reset_defaults()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every anyio test on both backends."""
    return str(request.param)
